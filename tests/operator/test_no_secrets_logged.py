"""The operator, as `orderflow operator` runs it (kopf's own login from a kubeconfig, its liveness
endpoint, the orphan sweep), never writes a secret where others read: its log lines (kopf's debug
dumps of the objects included), what it stores on the TradingStrategy (kopf keeps each handler's
last error in an ``orderflow.io/*`` annotation, readable by whoever reads the resource), the Events
it posts, or /healthz. Its secrets are the password in DATABASE_URL and the API token it logs in
with.

The database is unreachable throughout, so the handlers, the orphan sweep and the probe all go
through their error paths, whose messages are built from the connection's failure."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from pathlib import Path

import aiohttp
import kmock
import pytest
import yaml

from orderflow.telemetry import JsonFormatter
from orderflow_operator import runner
from tests.operator.conftest import NAMESPACE, TS, ApiServer, eventually, operator_config
from tests.operator.test_runner import free_port

pytestmark = pytest.mark.kmock(cls=ApiServer)

PASSWORD = "pw-S3cr3t-4f9a"
TOKEN = "tok-S3cr3t-b71c"


def kubeconfig(path: Path, server: str) -> str:
    user = {"token": TOKEN}
    path.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "kmock", "cluster": {"server": server}}],
                "users": [{"name": "operator", "user": user}],
                "contexts": [
                    {"name": "kmock", "context": {"cluster": "kmock", "user": "operator"}}
                ],
                "current-context": "kmock",
            }
        )
    )
    return str(path)


async def test_no_secret_reaches_a_log_line_the_resource_or_the_probe(
    api: kmock.KubernetesEmulator,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    config_file = kubeconfig(tmp_path / "config", str(api.url))
    monkeypatch.setenv("KUBECONFIG", config_file)
    monkeypatch.setattr("kubernetes.config.kube_config.KUBE_CONFIG_DEFAULT_LOCATION", config_file)
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    closed = free_port()  # nothing listens there
    dsn = f"postgresql://orderflow:{PASSWORD}@127.0.0.1:{closed}/orderflow"
    port = free_port()
    config = operator_config(
        health_port=port, retry_max_delay_secs=0.5, live_credentials_secret="poly-keys"
    )
    stop = threading.Event()
    failure: list[BaseException] = []

    def operate() -> None:
        try:
            asyncio.run(runner.run(config, dsn, clusterwide=True, standalone=True, stop_flag=stop))
        except BaseException as exc:  # reported below
            failure.append(exc)

    thread = threading.Thread(target=operate)
    thread.start()
    try:
        url = f"/apis/orderflow.io/v1alpha1/namespaces/{NAMESPACE}/tradingstrategies"
        body = {
            "metadata": {"name": "guarded", "namespace": NAMESPACE},
            "spec": {"mode": "live", "credentialsSecret": "poly-keys", "killed": True},
        }
        async with api.post(url, json=body) as resp:
            assert resp.status == 200

        async def progress() -> str:
            annotations = api.objects[TS, NAMESPACE, "guarded"].raw["metadata"].get("annotations")
            return str((annotations or {}).get("orderflow.io/reconcile-create", ""))

        # The handler's failure is stored on the resource, with what the connection's error says.
        await eventually(progress, lambda a: f"'127.0.0.1', {closed}" in a, what="the failure")

        async def swept() -> bool:
            return any("orphaned strategies not checked" in r.getMessage() for r in caplog.records)

        await eventually(swept, bool, what="the orphan sweep's warning")
        async with aiohttp.ClientSession() as http:

            async def health() -> str:
                try:
                    async with http.get(f"http://127.0.0.1:{port}/healthz") as resp:
                        return await resp.text()
                except aiohttp.ClientConnectionError:
                    return ""

            probe = await eventually(health, lambda t: "database" in t, what="/healthz")
    finally:
        stop.set()
        await asyncio.to_thread(thread.join, 60)
    assert not thread.is_alive()
    assert not failure, failure

    formatter = JsonFormatter()
    lines = [formatter.format(r) for r in caplog.records]
    assert any("is in progress" in line for line in lines), "kopf's debug dump was logged"
    for secret in (PASSWORD, TOKEN):
        assert not [line for line in lines if secret in line], secret
        assert not [text for text in stored(api) if secret in text], secret
        assert secret not in probe
    assert json.loads(probe)  # the probe's reply, read


def stored(api: kmock.KubernetesEmulator) -> list[str]:
    """Every object the API server holds (the resource with its annotations and status, any
    Event), as JSON."""
    found = []
    for key in list(api.objects):
        obj = api.objects[key]
        if not obj.deleted:
            found.append(json.dumps(obj.raw, default=str))
    return found
