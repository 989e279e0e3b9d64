"""The operator as `orderflow operator` starts it: kopf's own login (a kubeconfig pointing at
kmock), the liveness endpoint on HEALTH_PORT, and a clean stop."""

from __future__ import annotations

import asyncio
import socket
import threading
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import aiohttp
import kmock
import pytest
import yaml

from orderflow import db
from orderflow.cli import build_parser
from orderflow_operator import runner
from tests.operator.conftest import NAMESPACE, ApiServer, eventually, operator_config

pytestmark = pytest.mark.kmock(cls=ApiServer)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def kubeconfig(path: Path, server: str) -> Path:
    path.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "kmock", "cluster": {"server": server}}],
                "users": [{"name": "test", "user": {"token": "not-a-secret"}}],
                "contexts": [{"name": "kmock", "context": {"cluster": "kmock", "user": "test"}}],
                "current-context": "kmock",
            }
        )
    )
    return path


async def test_runner_logs_in_serves_healthz_and_stops(
    api: kmock.KubernetesEmulator, dsn: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config_file = str(kubeconfig(tmp_path / "config", str(api.url)))
    monkeypatch.setenv("KUBECONFIG", config_file)
    # the client library reads KUBECONFIG once, at import time
    monkeypatch.setattr("kubernetes.config.kube_config.KUBE_CONFIG_DEFAULT_LOCATION", config_file)
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    port = free_port()
    config = operator_config(health_port=port)
    stop = threading.Event()
    failure: list[BaseException] = []

    def operate() -> None:
        try:
            asyncio.run(runner.run(config, dsn, clusterwide=True, standalone=True, stop_flag=stop))
        except BaseException as exc:  # reported to the test below
            failure.append(exc)

    thread = threading.Thread(target=operate)
    thread.start()
    try:
        async with aiohttp.ClientSession() as http:

            async def health() -> tuple[int, Any]:
                try:
                    async with http.get(f"http://127.0.0.1:{port}/healthz") as resp:
                        return resp.status, await resp.json()
                except aiohttp.ClientConnectionError:
                    return 0, None

            _, body = await eventually(
                health, lambda r: r[0] == 200 and bool(r[1]), what="/healthz"
            )
            assert body == {"database": "ok"}

        url = f"/apis/orderflow.io/v1alpha1/namespaces/{NAMESPACE}/tradingstrategies"
        spec = {"metadata": {"name": "via-kubeconfig", "namespace": NAMESPACE}, "spec": {}}
        async with api.post(url, json=spec) as resp:
            assert resp.status == 200
        conn = await db.connect(dsn)
        try:

            async def row() -> Any:
                return await conn.fetchval(
                    "SELECT source FROM orderflow_strategies WHERE name = 'via-kubeconfig'"
                )

            assert await eventually(row, bool, what="the row") == f"k8s:{NAMESPACE}/via-kubeconfig"
        finally:
            await conn.close()
    finally:
        stop.set()
        await asyncio.to_thread(thread.join, 60)
    assert not thread.is_alive()
    assert not failure, failure


def test_cli_parses_scope_flags() -> None:
    parser = build_parser()
    args = parser.parse_args(["operator", "-n", "trading", "-n", "research", "--standalone"])
    assert args.namespace == ["trading", "research"] and args.standalone
    args = parser.parse_args(["operator", "-A", "--priority", "7"])
    assert args.all_namespaces and args.priority == 7 and not args.standalone
    with pytest.raises(SystemExit):
        parser.parse_args(["operator", "-A", "-n", "trading"])


def test_json_logs_keep_the_object_reference_not_kopf_settings() -> None:
    import json
    import logging

    import kopf

    from orderflow.telemetry import JsonFormatter

    record = logging.LogRecord("kopf.objects", logging.INFO, __file__, 1, "handled", (), None)
    record.__dict__.update(
        settings=kopf.OperatorSettings(),
        k8s_skip=False,
        k8s_ref={"namespace": "trading", "name": "whale"},
    )
    assert runner.KopfRecordFilter().filter(record)
    line = json.loads(JsonFormatter().format(record))
    assert line["k8s_ref"] == {"namespace": "trading", "name": "whale"}
    assert "settings" not in line and "k8s_skip" not in line


class DatabaseDoor:
    """A TCP port in front of the test PostgreSQL that refuses connections until opened."""

    def __init__(self, dsn: str) -> None:
        parts = urlsplit(dsn)
        query = parse_qs(parts.query)
        socket_dir = query.get("host", [parts.hostname or ""])[0]
        port = parts.port or int(query.get("port", ["5432"])[0])
        self.socket = f"{socket_dir}/.s.PGSQL.{port}" if socket_dir.startswith("/") else None
        self.upstream = (parts.hostname or "127.0.0.1", port)
        self.port = free_port()
        user = parts.username or "postgres"
        self.dsn = f"postgresql://{user}@127.0.0.1:{self.port}{parts.path}"
        self.server: asyncio.Server | None = None

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except OSError:
            pass
        finally:
            writer.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.socket is not None:
            up_reader, up_writer = await asyncio.open_unix_connection(self.socket)
        else:
            up_reader, up_writer = await asyncio.open_connection(*self.upstream)
        await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))

    async def open(self) -> None:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)

    async def close(self) -> None:
        if self.server is not None:
            self.server.close()


async def test_database_down_at_start_serves_healthz_and_applies_the_kill_once_it_is_up(
    api: kmock.KubernetesEmulator, dsn: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The database is unreachable when the operator starts. /healthz must answer anyway (the
    chart's startup and liveness probes would otherwise restart the pod into a crash loop, and
    the restart back-off would delay every switch once the database is back), and a kill made
    meanwhile is written as soon as the database accepts connections, without a restart."""
    config_file = str(kubeconfig(tmp_path / "config", str(api.url)))
    monkeypatch.setenv("KUBECONFIG", config_file)
    monkeypatch.setattr("kubernetes.config.kube_config.KUBE_CONFIG_DEFAULT_LOCATION", config_file)
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    door = DatabaseDoor(dsn)
    port = free_port()
    config = operator_config(health_port=port, retry_max_delay_secs=0.5)
    stop = threading.Event()
    failure: list[BaseException] = []

    def operate() -> None:
        try:
            asyncio.run(
                runner.run(config, door.dsn, clusterwide=True, standalone=True, stop_flag=stop)
            )
        except BaseException as exc:  # reported to the test below
            failure.append(exc)

    thread = threading.Thread(target=operate)
    thread.start()
    conn = await db.connect(dsn)
    try:
        async with aiohttp.ClientSession() as http:

            async def health() -> tuple[int, Any]:
                try:
                    async with http.get(f"http://127.0.0.1:{port}/healthz") as resp:
                        return resp.status, await resp.json()
                except aiohttp.ClientConnectionError:
                    return 0, None

            _, body = await eventually(health, lambda r: r[0] == 200, what="/healthz, db down")
            assert body["database"].startswith("failing")

            url = f"/apis/orderflow.io/v1alpha1/namespaces/{NAMESPACE}/tradingstrategies"
            spec = {
                "metadata": {"name": "braked", "namespace": NAMESPACE},
                "spec": {"killed": True},
            }
            async with api.post(url, json=spec) as resp:
                assert resp.status == 200
            await asyncio.sleep(1.0)  # a few failed attempts
            assert await conn.fetchval("SELECT count(*) FROM orderflow_strategies") == 0

            await door.open()

            async def killed() -> Any:
                return await conn.fetchval(
                    "SELECT killed FROM orderflow_strategies WHERE name = 'braked'"
                )

            assert await eventually(killed, bool, what="the kill written") is True
            await eventually(
                health, lambda r: r[1] == {"database": "ok"}, what="/healthz, db up", timeout=40
            )
    finally:
        await conn.close()
        stop.set()
        await asyncio.to_thread(thread.join, 60)
        await door.close()
    assert not thread.is_alive()
    assert not failure, failure
