"""What the rendered workloads take from values and secrets: secrets by reference and never in
ConfigMaps, the executor's credentials and strategy environment, extra environment, and pods
rolled on a config change (schedules, hooks, probes, rollouts: test_workloads.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.chart.rendering import by_kind, component, one, pod_template, render, workloads
from tests.chart.test_workloads import DEV, SERVICES

pytestmark = pytest.mark.helm


def test_secrets_are_references_and_never_in_configmaps() -> None:
    db = "postgresql://trader:s3cr3t-Pa55@db.internal:5432/orderflow"
    rpc = "wss://polygon.example.invalid/v2/API-KEY-123"
    docs = render(
        "--set", "secrets.existingSecret=",
        "--set", f"secrets.databaseUrl={db}",
        "--set", f"secrets.polygonRpcUrl={rpc}",
        "--set", "credentials.existingSecret=poly-creds",
        "--set", "executor.strategy.mode=live",
        "--set", "grafanaDashboard.enabled=true",
    )  # fmt: skip
    for config_map in by_kind(docs, "ConfigMap"):
        text = repr(config_map)
        for secret in (db, rpc, "s3cr3t-Pa55", "API-KEY-123"):
            assert secret not in text, f"secret value in ConfigMap {config_map['metadata']['name']}"
        assert not {"DATABASE_URL", "POLYGON_RPC_URL"} & set(config_map.get("data", {}))
        assert not any(k.startswith("POLY_") for k in config_map.get("data", {}))
    for doc, spec in workloads(docs):
        for container in spec["containers"]:
            for env in container.get("env", []):
                if env["name"] in ("DATABASE_URL", "POLYGON_RPC_URL") or env["name"].startswith(
                    "POLY_"
                ):
                    assert "value" not in env, f"{env['name']} inline in {doc['metadata']['name']}"
                    assert "secretKeyRef" in env["valueFrom"]
    secrets = {s["metadata"]["name"]: s for s in by_kind(docs, "Secret")}
    assert secrets["of-orderflow"]["stringData"] == {"DATABASE_URL": db, "POLYGON_RPC_URL": rpc}


def test_live_executor_gets_credentials_by_reference() -> None:
    docs = render(
        "--set", "executor.strategy.mode=live", "--set", "credentials.existingSecret=poly-creds"
    )
    executor = one(docs, "Deployment", "-executor")
    env = {e["name"]: e for e in executor["spec"]["template"]["spec"]["containers"][0]["env"]}
    key = env["POLY_PRIVATE_KEY"]["valueFrom"]["secretKeyRef"]
    assert key == {"name": "poly-creds", "key": "POLY_PRIVATE_KEY", "optional": False}
    assert {
        "POLY_FUNDER",
        "POLY_SIGNATURE_TYPE",
        "POLY_API_KEY",
        "POLY_API_SECRET",
        "POLY_API_PASSPHRASE",
        "POLY_RPC_URL",  # the node redemptions go through: its URL may carry an API key
        "POLY_RELAYER_API_KEY",  # a proxy/Safe/deposit wallet's redemptions: the relayer's key
        "POLY_RELAYER_API_KEY_ADDRESS",
        "POLY_BUILDER_API_KEY",  # or a Builder API key
        "POLY_BUILDER_SECRET",
        "POLY_BUILDER_PASSPHRASE",
    } <= set(env)
    for optional in ("POLY_RPC_URL", "POLY_RELAYER_API_KEY", "POLY_BUILDER_SECRET"):
        assert env[optional]["valueFrom"]["secretKeyRef"]["optional"] is True
    strategy = one(docs, "ConfigMap", "-strategy")
    assert strategy["data"]["ENABLE_PAPER_TRADING"] == "false"
    # Paper mode without credentials: no POLY_* variables at all.
    paper = one(render(), "Deployment", "-executor")
    names = {e["name"] for e in paper["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert not any(n.startswith("POLY_") for n in names)
    # Only the executor ever sees the credentials (the operator gets the Secret's name only).
    for doc, spec in workloads(docs):
        if component(doc) != "executor":
            assert "poly-creds" not in repr(secret_references(spec))


def test_strategy_values_become_the_executor_environment(tmp_path: Path) -> None:
    docs = render(
        "--set-json",
        "executor.strategy.kellyFraction=0.1",
        "--set",
        "executor.strategy.maxOpenPositions=12",
    )
    data = one(docs, "ConfigMap", "-strategy")["data"]
    assert data["KELLY_FRACTION"] == "0.1"
    assert data["MAX_OPEN_POSITIONS"] == "12"
    assert data["ENABLE_PAPER_TRADING"] == "true"
    # From a values file numbers are floats to Helm; big whole ones must not become "2.5e+06".
    values = tmp_path / "big.yaml"
    values.write_text(
        "executor:\n  strategy:\n    bankrollUsd: 2500000\n    maxDailyLoss: 1234.5\n"
    )
    big = one(render("-f", str(values)), "ConfigMap", "-strategy")["data"]
    assert (big["BANKROLL_USD"], big["MAX_DAILY_LOSS"]) == ("2500000", "1234.5")


def _checksums(docs: list[dict[str, object]]) -> dict[str, dict[str, str]]:
    return {
        doc["metadata"]["name"]: {
            k: v
            for k, v in pod_template(doc)["metadata"].get("annotations", {}).items()
            if k.startswith("checksum/")
        }
        for doc, _ in workloads(docs)
        if component(doc) in SERVICES
    }


def test_config_changes_roll_the_pods() -> None:
    base = _checksums(render(*DEV))
    assert all("checksum/config" in c and "checksum/secret" in c for c in base.values())
    assert "checksum/strategy" in base["of-orderflow-executor"]
    level = _checksums(render(*DEV, "--set", "config.logLevel=INFO"))
    assert all(level[n]["checksum/config"] != base[n]["checksum/config"] for n in base)
    rpc = _checksums(render(*DEV, "--set", "secrets.polygonRpcUrl=wss://other.invalid"))
    assert all(rpc[n]["checksum/secret"] != base[n]["checksum/secret"] for n in base)
    kelly = _checksums(render(*DEV, "--set-json", "executor.strategy.kellyFraction=0.5"))
    assert (
        kelly["of-orderflow-executor"]["checksum/strategy"]
        != base["of-orderflow-executor"]["checksum/strategy"]
    )
    assert kelly["of-orderflow-listener"] == base["of-orderflow-listener"]


def test_component_extra_env_and_optional_http_rpc(tmp_path: Path) -> None:
    values = tmp_path / "env.yaml"
    values.write_text(
        "listener:\n  extraEnv:\n    START_BLOCK: '65000000'\n"
        "secrets:\n  existingSecret: ''\n  databaseUrl: postgresql://u:p@db/orderflow\n"
        "  polygonRpcUrl: wss://node.invalid\n  polygonHttpUrl: https://node.invalid/rpc\n"
    )
    docs = render("-f", str(values))
    env = {
        component(doc): {e["name"]: e for e in spec["containers"][0].get("env", [])}
        for doc, spec in workloads(docs)
    }
    assert env["listener"]["START_BLOCK"]["value"] == "65000000"
    assert "START_BLOCK" not in env["executor"]
    http = env["listener"]["POLYGON_HTTP_URL"]["valueFrom"]["secretKeyRef"]
    assert http == {"name": "of-orderflow", "key": "POLYGON_HTTP_URL", "optional": True}
    secret = one(docs, "Secret", "of-orderflow")
    assert secret["stringData"]["POLYGON_HTTP_URL"] == "https://node.invalid/rpc"
    # Numbers are refused: Helm would print a large one as 6.5e+07.
    numeric = tmp_path / "numeric.yaml"  # a new path: renders are memoised by argument list
    numeric.write_text("listener:\n  extraEnv:\n    START_BLOCK: 65000000\n")
    from tests.chart.rendering import render_error

    assert "/listener/extraEnv/START_BLOCK" in render_error("-f", str(numeric))


@pytest.mark.parametrize("secret", ["", "poly-keys"])
def test_operator_knows_the_executors_credentials_secret(secret: str) -> None:
    """A live TradingStrategy must name the Secret the executor really trades with; the operator
    learns its name (empty: the executor has none, so live specs are refused)."""
    docs = render("--set", f"credentials.existingSecret={secret}")
    operator = one(docs, "Deployment", "-operator")
    env = {e["name"]: e for e in operator["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["OPERATOR_LIVE_CREDENTIALS_SECRET"] == {
        "name": "OPERATOR_LIVE_CREDENTIALS_SECRET",
        "value": secret,
    }
    executor = one(docs, "Deployment", "-executor")
    keys = {
        e["valueFrom"]["secretKeyRef"]["name"]
        for e in executor["spec"]["template"]["spec"]["containers"][0]["env"]
        if e["name"].startswith("POLY_")
    }
    assert keys == ({secret} if secret else set())


def secret_references(node: object) -> list[object]:
    """Every secretKeyRef, secretRef and secret volume inside a pod spec."""
    if isinstance(node, dict):
        found: list[object] = [v for k, v in node.items() if k in SECRET_KEYS]
        return found + [r for v in node.values() for r in secret_references(v)]
    if isinstance(node, list):
        return [r for v in node for r in secret_references(v)]
    return []


SECRET_KEYS = {"secretKeyRef", "secretRef", "secret"}
