"""values.schema.json and the chart's fail() checks: bad values stop the install with a message
that names the key; every value is documented (the extraEnv checks: test_extra_env.py)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from tests.chart.rendering import (
    CHART,
    DEV_RPC,
    VALUES_DEV,
    VALUES_PROD,
    helm,
    render,
    render_error,
)

pytestmark = pytest.mark.helm

SCHEMA = json.loads((CHART / "values.schema.json").read_text())
VALUES = CHART / "values.yaml"


def _write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "values.yaml"
    path.write_text(text)
    return str(path)


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ("listener:\n  replicas: two\n", r"/listener/replicas.*want integer"),
        (
            "executor:\n  strategy:\n    kellyFraction: 1.5\n",
            r"/executor/strategy/kellyFraction.*1",
        ),
        ("executor:\n  strategy:\n    mode: yolo\n", r"/executor/strategy/mode"),
        ("executor:\n  replicas: -1\n", r"/executor/replicas"),
        ("listner:\n  enabled: true\n", r"additional properties 'listner' not allowed"),
        ("reputation:\n  shedule: '0 * * * *'\n", r"additional properties 'shedule' not allowed"),
        ("reputation:\n  schedule: hourly\n", r"/reputation/schedule"),
        ("config:\n  logLevel: verbose\n", r"/config/logLevel"),
        ("secrets:\n  databaseUrl: mysql://x\n", r"/secrets/databaseUrl"),
        ("config:\n  extraEnv:\n    PORT: 8080\n", r"/config/extraEnv/PORT.*want string"),
        (
            "listener:\n  resources:\n    requests:\n      memory: lots\n",
            r"/listener/resources/requests/memory",
        ),
        # kopf serves its liveness endpoint on one path (/healthz) and nothing else: another
        # path rendered a probe that only ever got 404 (never ready, or restarted forever).
        ("operator:\n  readinessPath: /readyz\n", r"/operator/readinessPath"),
        ("operator:\n  livenessPath: /livez\n", r"/operator/livenessPath"),
        # Above the executor's own bound (a billion USDC): the install went through and the
        # executor refused the seed at its first start, crash-looping.
        (
            "executor:\n  strategy:\n    bankrollUsd: 2000000000\n",
            r"/executor/strategy/bankrollUsd",
        ),
        (
            "executor:\n  strategy:\n    maxDailyLoss: 2000000000\n",
            r"/executor/strategy/maxDailyLoss",
        ),
    ],
)
def test_bad_values_give_a_clear_schema_error(tmp_path: Path, values: str, expected: str) -> None:
    message = render_error("-f", _write(tmp_path, values))
    assert "values don't meet the specifications of the schema" in message
    assert re.search(expected, message), message


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (
            ("--set", "executor.strategy.mode=live"),
            "executor.strategy.mode=live needs credentials.existingSecret",
        ),
        (
            (
                "-f",
                str(VALUES_DEV),
                "--set",
                f"secrets.polygonRpcUrl={DEV_RPC}",
                "--set",
                "secrets.existingSecret=mine",
            ),
            'postgresql.enabled=true and secrets.existingSecret="mine"',
        ),
        (
            ("--set", "secrets.existingSecret="),
            "no database configured: set secrets.existingSecret",
        ),
        (
            ("--set", "secrets.existingSecret=", "--set", "secrets.databaseUrl=postgresql://h/db"),
            "listener.enabled=true needs a Polygon node: set secrets.polygonRpcUrl",
        ),
        (
            (
                "--set",
                "secrets.existingSecret=",
                "--set",
                "postgresql.enabled=true",
                "--set",
                f"secrets.polygonRpcUrl={DEV_RPC}",
            ),
            "postgresql.enabled=true needs postgresql.auth.password",
        ),
        (
            ("--set", "executor.strategy.maxFadeScore=8"),
            "executor.strategy.maxFadeScore (8) must be below executor.strategy.minWhaleScore (7)",
        ),
        (
            ("--set", "executor.strategy.maxPositionUsd=20000"),
            "executor.strategy.maxPositionUsd (20000) exceeds "
            "executor.strategy.bankrollUsd (10000)",
        ),
        (
            ("--set", "exampleStrategy.enabled=true", "--set", "operator.enabled=false"),
            "exampleStrategy.enabled=true needs operator.enabled=true",
        ),
        (
            (
                "--set",
                "metrics.serviceMonitor.enabled=true",
                "--set",
                "metrics.service.enabled=false",
            ),
            "metrics.serviceMonitor.enabled=true needs metrics.service.enabled=true",
        ),
    ],
)
def test_invalid_combinations_fail_with_the_key_names(args: tuple[str, ...], expected: str) -> None:
    assert expected in render_error(*args)


def test_strategy_values_have_the_executors_bounds() -> None:
    """executor.strategy.* seeds StrategySettings: each value's type and bounds are the model's,
    so a value the executor would refuse at its first start (a crash loop after an install that
    went through) stops the install instead."""
    from orderflow.strategy import StrategySettings

    model = StrategySettings.model_json_schema(by_alias=True)["properties"]
    values = SCHEMA["properties"]["executor"]["properties"]["strategy"]["properties"]
    keys = ("type", "enum", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum")
    for name, prop in values.items():
        assert {k: prop.get(k) for k in keys} == {k: model[name].get(k) for k in keys}, name


def test_operator_probe_paths_are_the_one_kopf_serves() -> None:
    from urllib.parse import urlsplit

    from orderflow_operator.runner import liveness_url

    served = urlsplit(liveness_url(8080)).path
    operator = SCHEMA["properties"]["operator"]["properties"]
    for key in ("livenessPath", "readinessPath"):
        assert operator[key]["enum"] == [served], key


def test_live_mode_with_credentials_renders() -> None:
    docs = render(
        "--set", "executor.strategy.mode=live", "--set", "credentials.existingSecret=poly"
    )
    assert any(d["kind"] == "Deployment" for d in docs)


@pytest.mark.parametrize("path", [VALUES, VALUES_DEV, VALUES_PROD], ids=lambda p: p.name)
def test_values_files_satisfy_the_schema(path: Path) -> None:
    """The same check as helm's, in Python: the example files are valid on their own."""
    values = yaml.safe_load(VALUES.read_text())
    _merge(values, yaml.safe_load(path.read_text()))
    jsonschema.validate(values, SCHEMA, cls=jsonschema.Draft7Validator)


def _merge(base: dict[str, Any], overlay: dict[str, Any]) -> None:
    for key, value in overlay.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            _merge(base[key], value)
        else:
            base[key] = value


def test_schema_is_closed_and_described() -> None:
    """Every object in the schema refuses unknown keys (or types its free-form values), and
    every property has a description."""

    def walk(node: dict[str, Any], where: str) -> None:
        if node.get("type") == "object" and "properties" in node:
            assert node.get("additionalProperties") is False, f"{where} accepts unknown keys"
        for name, child in node.get("properties", {}).items():
            assert child.get("description"), f"{where}.{name} has no description"
            walk(child, f"{where}.{name}")

    walk(SCHEMA, "values")
    assert SCHEMA["additionalProperties"] is False


def test_every_value_is_documented_in_values_yaml() -> None:
    """Each key of values.yaml has a comment right above it, or sits inside a documented block
    (resources, strategy spec...)."""
    undocumented = []
    documented_at: list[int] = []  # indentation levels of documented ancestors
    previous = ""
    for line in VALUES.read_text().splitlines():
        match = re.match(r"^(\s*)([A-Za-z_][\w-]*):", line)
        if match:
            indent = len(match.group(1))
            documented_at = [i for i in documented_at if i < indent]
            commented = previous.lstrip().startswith("#")
            if commented:
                documented_at.append(indent)
            elif not documented_at and not line.rstrip().endswith(":"):
                undocumented.append(line.strip())
        if line.strip():
            previous = line
    assert not undocumented, f"values without a comment: {undocumented}"


def test_every_schema_leaf_has_a_default_in_values_yaml() -> None:
    """values.yaml lists every value the schema allows, so it is the complete reference."""
    values = yaml.safe_load(VALUES.read_text())
    missing = []

    def walk(node: dict[str, Any], data: Any, where: str) -> None:
        for name, child in node.get("properties", {}).items():
            if not isinstance(data, dict) or name not in data:
                missing.append(f"{where}.{name}")
            elif "properties" in child:
                walk(child, data[name], f"{where}.{name}")

    walk(SCHEMA, values, "values")
    # resources are open-ended (requests/limits of any resource name): not listed in full.
    missing = [m for m in missing if ".resources." not in m]
    assert not missing, f"in the schema but not in values.yaml: {missing}"


def test_helm_lint_passes_for_every_values_file() -> None:
    for args in (
        (),
        ("-f", str(VALUES_DEV), "--set", f"secrets.polygonRpcUrl={DEV_RPC}"),
        ("-f", str(VALUES_PROD)),
    ):
        proc = helm("lint", "--strict", str(CHART), *args)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert "1 chart(s) linted, 0 chart(s) failed" in proc.stdout


def test_helm_lint_fails_on_bad_values(tmp_path: Path) -> None:
    proc = helm("lint", str(CHART), "-f", _write(tmp_path, "listener:\n  replicas: many\n"))
    assert proc.returncode != 0
    assert "/listener/replicas" in proc.stdout + proc.stderr


@pytest.mark.parametrize(
    "args",
    [(), ("-f", str(VALUES_DEV), "--set", f"secrets.polygonRpcUrl={DEV_RPC}")],
    ids=["default", "dev"],
)
def test_notes_point_at_objects_that_exist(args: tuple[str, ...]) -> None:
    """NOTES.txt renders, and every object its kubectl commands name is in the release."""
    proc = helm("install", "of", str(CHART), "--namespace", "trading", "--dry-run=client", *args)
    assert proc.returncode == 0, proc.stderr
    notes = proc.stdout.split("NOTES:", 1)[1]
    names = {
        (d["kind"], d["metadata"]["name"])
        for d in yaml.safe_load_all(proc.stdout.split("NOTES:", 1)[0].split("MANIFEST:", 1)[1])
        if d
    }
    kinds = {"deploy": "Deployment", "cronjob": "CronJob"}
    referenced = re.findall(r"\b(deploy|cronjob)/([a-z0-9-]+)", notes)
    assert referenced
    for short, name in referenced:
        assert (kinds[short], name) in names, f"NOTES mention {short}/{name}, not in the release"
    assert "kubectl -n trading" in notes
    assert "-l app.kubernetes.io/instance=of" in notes


def test_readme_values_table_is_current() -> None:
    """charts/orderflow/README.md lists every documented value with its default."""
    from tests.chart.values_doc import render_readme

    readme = (CHART / "README.md").read_text()
    fresh = render_readme(readme, VALUES.read_text())
    assert readme == fresh, "run: .venv/bin/python -m tests.chart.values_doc --write"
    assert "| `executor.strategy.kellyFraction` | `0.25` |" in readme
