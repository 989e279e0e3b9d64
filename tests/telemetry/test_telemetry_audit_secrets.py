"""Audit (6 Dec 2026): no secret of the environment in any output of a command, its logs (a
library's warning, a traceback), its readiness details, or what it exports over OTLP."""

from __future__ import annotations

import asyncio
import logging
import socket
import sys
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

from orderflow import tracing
from orderflow.health import HealthServer
from orderflow.telemetry import JsonFormatter, TextFormatter, redact, setup_logging
from tests.cli_env import orderflow_env
from tests.telemetry.receiver import OtlpReceiver

SAMPLE = Path(__file__).resolve().parents[2] / "samples" / "polymarket-logs.jsonl"
SECRETS = {
    "POLY_PRIVATE_KEY": "0x4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318",
    "POLY_API_KEY": "5e1f2d3c-aaaa-bbbb-cccc-apikey0123456",
    "POLY_API_SECRET": "c2VjcmV0LWFwaS1zZWNyZXQtdmFsdWU=",
    "POLY_API_PASSPHRASE": "passphrase-9f8e7d6c",
    "POLYGON_RPC_URL": "wss://polygon-mainnet.g.alchemy.com/v2/alchemyKEY0123456789",
    "POLYGON_HTTP_URL": "https://polygon-mainnet.g.alchemy.com/v2/alchemyKEY0123456789",
}
MARKERS = ("4c0883a69102937d", "apikey0123456", "c2VjcmV0LWFwaS1z", "passphrase-9f8e7d6c")
KEY = "alchemyKEY0123456789"
DB_PASSWORD = "dbPa55word-7c1e"


def _with_password(dsn: str) -> tuple[str, str]:
    """``dsn`` with a password (the test server trusts local connections: any is accepted), and
    that password (its own, when it has one)."""
    parts = urlsplit(dsn)
    if parts.password:
        return dsn, parts.password
    user = parts.username or "postgres"
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{user}:{DB_PASSWORD}@{host}")), DB_PASSWORD


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _listen(env: dict[str, str]) -> str:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "orderflow",
        "listen",
        "--from-file",
        str(SAMPLE),
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(proc.communicate(), timeout=120)
    assert proc.returncode == 0, out.decode()
    return out.decode()


async def test_an_unreachable_collector_is_never_logged_with_its_key(
    dsn: str, tmp_path: Path
) -> None:
    """Before: the exporter's own warning (and the "exporting traces" line) quoted the
    endpoint's path and query, where a collector's API key goes."""
    url, password = _with_password(dsn)
    endpoint = f"http://tenant:otlpPa55@127.0.0.1:{_free_port()}/v1/traces/otlpPATHkey123?key=otlpQUERYkey456"
    env = orderflow_env(
        url,
        tmp_path,
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=endpoint,
        OTEL_EXPORTER_OTLP_TIMEOUT="1",
        **SECRETS,
    )
    out = await _listen(env)
    assert "exporting traces over OTLP/HTTP" in out
    for secret in (*MARKERS, KEY, password, "otlpPa55", "otlpPATHkey123", "otlpQUERYkey456"):
        assert secret not in out, (secret, out)


async def test_exported_spans_and_resource_carry_no_secret(
    receiver: OtlpReceiver, dsn: str, tmp_path: Path
) -> None:
    url, password = _with_password(dsn)
    env = orderflow_env(
        url,
        tmp_path,
        OTEL_EXPORTER_OTLP_ENDPOINT=receiver.endpoint,
        OTEL_EXPORTER_OTLP_HEADERS="x-collector-token=hdrSECRETtoken99",
        **SECRETS,
    )
    out = await _listen(env)
    assert receiver.received.spans
    exported = b"".join(receiver.received.bodies)
    for secret in (*MARKERS, KEY, password, "hdrSECRETtoken99"):
        assert secret not in out
        assert secret.encode() not in exported
    spans = repr(receiver.received.spans)
    assert all(secret not in spans for secret in (*MARKERS, KEY, password))


def test_the_endpoint_is_logged_without_a_key_in_its_path_or_query(
    no_otel_env: None, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv(
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "https://collector:4318/v1/traces/K3Y?api-key=Q1"
    )
    with caplog.at_level("INFO", logger="orderflow.tracing"):
        tracing.setup_tracing("test")
    try:
        (record,) = [
            r for r in caplog.records if r.getMessage() == "exporting traces over OTLP/HTTP"
        ]
        assert record.__dict__["endpoint"] == "https://collector:4318/…"
    finally:
        tracing.shutdown_tracing()


@pytest.mark.parametrize("formatter", [JsonFormatter(), TextFormatter()])
def test_a_log_line_and_its_traceback_mask_the_secrets(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    formatter: logging.Formatter,
) -> None:
    monkeypatch.setenv("DATABASE_URL", f"postgresql://u:{DB_PASSWORD}@db:5432/orderflow")
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    setup_logging("INFO", "json" if isinstance(formatter, JsonFormatter) else "text")
    log = logging.getLogger("orderflow.audit")
    try:
        raise RuntimeError(f"connect to {SECRETS['POLYGON_HTTP_URL']} as {DB_PASSWORD}")
    except RuntimeError:
        log.exception(
            "key %s", SECRETS["POLY_PRIVATE_KEY"], extra={"url": SECRETS["POLYGON_RPC_URL"]}
        )
    err = capsys.readouterr().err
    assert "orderflow.audit" in err and "RuntimeError" in err  # only the secrets masked
    for secret in (*MARKERS, KEY, DB_PASSWORD, SECRETS["POLY_PRIVATE_KEY"][2:]):
        assert secret not in err, err


async def test_readiness_details_never_quote_the_dsn(monkeypatch: pytest.MonkeyPatch) -> None:
    dsn = f"postgresql://orderflow:{DB_PASSWORD}@db.internal:5432/orderflow"
    monkeypatch.setenv("DATABASE_URL", dsn)
    health = HealthServer(0)

    async def database() -> tuple[bool, str]:
        raise OSError(f"cannot reach {dsn}")

    health.add_check("database", database)
    ok, checks = await health.readiness()
    assert not ok
    assert checks["database"].startswith("failing: OSError: cannot reach")
    assert DB_PASSWORD not in checks["database"]
    assert redact(dsn) == "postgresql://orderflow:***@db.internal:5432/orderflow"
