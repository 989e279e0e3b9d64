"""REORG_WINDOW_BLOCKS, one value for the listener and the executor: the listener keeps that many
block hashes to follow a reorg, the executor redeems a resolution once it is that deep (the
reputation job reads no reorg window). Before (until 7 Dec 2026, chart 0.3.2) the chart gave it
to neither: each took its own default, and a window raised for one (an extraEnv) left the other
on 256 — an executor redeeming a resolution the listener could still roll back."""

from __future__ import annotations

from typing import Any

import pytest

from orderflow.chain.settings import REORG_WINDOW_DEFAULT, REORG_WINDOW_MAX, REORG_WINDOW_MIN
from orderflow.execution.settings import ExecutorSettings
from tests.chart.rendering import Manifest, by_kind, component, render, render_error, workloads

pytestmark = pytest.mark.helm
NAME = "REORG_WINDOW_BLOCKS"


def _env_value(docs: list[Manifest], container: dict[str, Any], name: str) -> str | None:
    """The value ``name`` has in the container: its own ``env`` over its ConfigMaps'."""
    for env in container.get("env", []):
        if env["name"] == name:
            return str(env["value"])
    maps = {m["metadata"]["name"]: m.get("data", {}) for m in by_kind(docs, "ConfigMap")}
    value = None
    for source in container.get("envFrom", []):  # the later source wins
        ref = source.get("configMapRef")
        if ref is not None and name in maps.get(ref["name"], {}):
            value = str(maps[ref["name"]][name])
    return value


def _windows(*args: str) -> dict[str, str | None]:
    docs = render(*args)
    return {
        component(doc): _env_value(docs, spec["containers"][0], NAME)
        for doc, spec in workloads(docs)
        if component(doc) in ("listener", "executor")
    }


def test_listener_and_executor_get_the_same_reorg_window() -> None:
    """Failed before: ``{'listener': None, 'executor': None}`` (neither was given it)."""
    assert _windows() == {"listener": str(REORG_WINDOW_DEFAULT), "executor": "256"}
    assert _windows("--set", "config.reorgWindowBlocks=1024") == {
        "listener": "1024",
        "executor": "1024",
    }


def test_the_executor_s_default_is_the_listener_s() -> None:
    field = ExecutorSettings.model_fields["reorg_window_blocks"]
    assert field.default == REORG_WINDOW_DEFAULT


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (str(REORG_WINDOW_MIN - 1), "/config/reorgWindowBlocks"),
        (str(REORG_WINDOW_MAX + 1), "/config/reorgWindowBlocks"),
    ],
)
def test_the_window_is_schema_validated_with_the_settings_bounds(value: str, expected: str) -> None:
    assert expected in render_error("--set", f"config.reorgWindowBlocks={value}")
    # the bounds themselves are admitted, as the settings admit them
    assert _windows("--set", f"config.reorgWindowBlocks={REORG_WINDOW_MAX}")["executor"] == str(
        REORG_WINDOW_MAX
    )


def test_a_string_window_is_refused() -> None:
    assert "/config/reorgWindowBlocks" in render_error(
        "--set-string", "config.reorgWindowBlocks=256"
    )


@pytest.mark.parametrize("where", ["config", "listener", "executor"])
def test_no_component_sets_a_window_of_its_own(where: str) -> None:
    """An extraEnv REORG_WINDOW_BLOCKS would give one component a window the other does not
    have: refused, naming config.reorgWindowBlocks."""
    message = render_error("--set-string", f"{where}.extraEnv.{NAME}=512")
    assert f"{where}.extraEnv.{NAME}: set config.reorgWindowBlocks" in message
