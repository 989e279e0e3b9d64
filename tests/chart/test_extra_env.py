"""The chart's checks of ``*.extraEnv``: the variables it renders in plain text and that override
what the chart sets may carry no secret, no live switch, no database of the pod's own and no
health port of their own (the install stops with a message naming the key); ordinary variables
still render."""

from __future__ import annotations

import pytest

from tests.chart.rendering import VALUES_PROD, render, render_error

pytestmark = pytest.mark.helm


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        # The live switch: it overrode executor.strategy.mode (the ConfigMap still said paper)
        # and skipped the check that live mode has credentials.existingSecret.
        (
            ("--set-string", "executor.extraEnv.ENABLE_PAPER_TRADING=false"),
            "executor.extraEnv.ENABLE_PAPER_TRADING: set executor.strategy.mode",
        ),
        (
            (
                "-f",
                str(VALUES_PROD),
                "--set-string",
                "executor.extraEnv.ENABLE_PAPER_TRADING=false",
            ),
            "executor.extraEnv.ENABLE_PAPER_TRADING: set executor.strategy.mode",
        ),
        # Secrets: extraEnv is plain text, in a ConfigMap (config.extraEnv) or the pod spec.
        (
            ("--set", "executor.extraEnv.POLY_PRIVATE_KEY=0x0123"),
            "executor.extraEnv.POLY_PRIVATE_KEY: a secret",
        ),
        (
            ("--set", "config.extraEnv.DATABASE_URL=postgresql://u:pw@h/db"),
            "config.extraEnv.DATABASE_URL: a secret",
        ),
        (
            ("--set", "listener.extraEnv.POLYGON_RPC_URL=wss://key@node"),
            "listener.extraEnv.POLYGON_RPC_URL: a secret",
        ),
        (
            ("--set", "reputation.extraEnv.POLY_API_SECRET=s3cr3t"),
            "reputation.extraEnv.POLY_API_SECRET: a secret",
        ),
        (
            ("--set", "operator.extraEnv.OTEL_EXPORTER_OTLP_HEADERS=api-key=k"),
            "operator.extraEnv.OTEL_EXPORTER_OTLP_HEADERS: a secret",
        ),
        # In any case: the settings read variable names regardless of case (see
        # test_settings_read_variable_names_in_any_case), so these were the signing key and
        # the database password, rendered in plain text past the check.
        (
            ("--set", "executor.extraEnv.poly_private_key=0x0123"),
            "executor.extraEnv.poly_private_key: a secret",
        ),
        (
            ("--set", "config.extraEnv.Database_Url=postgresql://u:pw@h/db"),
            "config.extraEnv.Database_Url: a secret",
        ),
        (
            ("--set", "listener.extraEnv.polygon_rpc_url=wss://key@node"),
            "listener.extraEnv.polygon_rpc_url: a secret",
        ),
    ],
)
def test_extra_env_cannot_carry_a_secret_or_the_live_switch(
    args: tuple[str, ...], expected: str
) -> None:
    """extraEnv is rendered in plain text and overrides what the chart sets: a secret there
    lands in a ConfigMap or the Deployment (and the release record), and ENABLE_PAPER_TRADING
    there turned the executor live behind the values' ``mode: paper``, with or without the
    credentials the chart requires for live mode. Non-secret variables still pass
    (``STRATEGY_NAME``, ``START_BLOCK``, ``POLY_CLOB_URL``: see below and
    test_workload_config.py)."""
    assert expected in render_error(*args)


def test_settings_read_variable_names_in_any_case(monkeypatch: pytest.MonkeyPatch) -> None:
    """Why the extraEnv check ignores case: pydantic-settings matches variable names
    case-insensitively, so ``database_url`` and ``poly_private_key`` are read as the secrets."""
    from orderflow.config import CommonSettings
    from orderflow.execution.credentials import LiveCredentials

    for name in ("DATABASE_URL", "POLY_PRIVATE_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("database_url", "postgresql://u:pw@h/db")
    monkeypatch.setenv("poly_private_key", "0x" + "11" * 32)
    url = CommonSettings().database_url
    key = LiveCredentials().private_key
    assert url is not None and url.get_secret_value() == "postgresql://u:pw@h/db"
    assert key is not None and key.get_secret_value() == "0x" + "11" * 32


@pytest.mark.parametrize("component", ["config", "executor", "listener"])
@pytest.mark.parametrize("name", ["ORDERFLOW_DATA_DIR", "orderflow_embedded_database"])
def test_extra_env_cannot_move_the_database_into_the_pod(component: str, name: str) -> None:
    """ORDERFLOW_DATA_DIR is where a process without DATABASE_URL starts a PostgreSQL of its
    own; in the cluster no directory is writable for it (test_workloads.py), and an extraEnv
    must not make one (/tmp is), nor turn the image's refusal of one off."""
    message = render_error("--set", f"{component}.extraEnv.{name}=/tmp/db")
    assert f"{component}.extraEnv.{name}:" in message


@pytest.mark.parametrize("component", ["config", "listener", "executor", "operator"])
def test_extra_env_cannot_move_the_health_port_away_from_the_probes(component: str) -> None:
    """The probes and the Services aim at the container port config.healthPort; a HEALTH_PORT in
    an extraEnv moved the server elsewhere, and the liveness probe restarted the pod forever."""
    message = render_error("--set-string", f"{component}.extraEnv.HEALTH_PORT=9090")
    assert f"{component}.extraEnv.HEALTH_PORT: set config.healthPort" in message


def test_extra_env_with_ordinary_variables_renders() -> None:
    docs = render(
        "--set", "executor.extraEnv.POLY_CLOB_URL=https://clob.example.invalid",
        "--set", "executor.extraEnv.STRATEGY_NAME=seed",
        "--set", "config.extraEnv.OTEL_SERVICE_NAMESPACE=orderflow",
    )  # fmt: skip
    assert any(d["kind"] == "Deployment" for d in docs)
