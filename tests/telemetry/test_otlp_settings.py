"""Which OTEL_* variables switch export on, what they may say, and the exit flush of a command."""

from __future__ import annotations

import asyncio
import math
import os
import re
import sys
from pathlib import Path

import asyncpg
import pytest

from orderflow import telemetry, tracing
from orderflow.errors import ConfigError
from orderflow.tracing import TracingSettings
from tests.telemetry.conftest import OTEL_VARIABLES
from tests.telemetry.receiver import OtlpReceiver

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "samples" / "polymarket-logs.jsonl"


def test_without_otel_variables_no_exporter_is_created(
    no_otel_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*_: object, **__: object) -> None:
        raise AssertionError("an exporter was created without any OTEL_* variable")

    monkeypatch.setattr(tracing, "OTLPSpanExporter", refuse)
    settings = tracing.setup_tracing("test")
    assert not settings.exports
    assert tracing.trace_exporter() is None
    # Spans are still real: their context links the rows they write and the log lines.
    with telemetry.tracer("test").start_as_current_span("work"):
        assert tracing.current_traceparent() is not None
    tracing.shutdown_tracing()


@pytest.mark.parametrize(
    ("env", "exports"),
    [
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, True),
        ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "https://c.example/v1/traces"}, True),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_TRACES_EXPORTER": "none"}, False),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_SDK_DISABLED": "true"}, False),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": ""}, False),  # a chart's empty value
        ({"OTEL_SERVICE_NAME": "x", "OTEL_TRACES_SAMPLER": "always_on"}, False),
    ],
)
def test_only_an_endpoint_switches_export_on(
    no_otel_env: None, monkeypatch: pytest.MonkeyPatch, env: dict[str, str], exports: bool
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert TracingSettings().exports is exports


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
        ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "http/json"),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "collector:4318"),
        ("OTEL_TRACES_SAMPLER", "sometimes"),
        ("OTEL_TRACES_SAMPLER_ARG", "1.5"),
    ],
)
def test_bad_values_stop_the_start_naming_the_variable(
    no_otel_env: None, monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=name):
        tracing.setup_tracing("test")


def test_sampler_follows_the_standard_names(
    no_otel_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert "ParentBased{root:AlwaysOnSampler" in TracingSettings().build_sampler().get_description()
    monkeypatch.setenv("OTEL_TRACES_SAMPLER", "parentbased_traceidratio")
    monkeypatch.setenv("OTEL_TRACES_SAMPLER_ARG", "0.25")
    description = TracingSettings().build_sampler().get_description()
    assert description.startswith("ParentBased{root:TraceIdRatioBased{0.25}")
    monkeypatch.setenv("OTEL_TRACES_SAMPLER", "always_off")
    assert TracingSettings().build_sampler().get_description() == "AlwaysOffSampler"


BATCH_SIZE = 4


async def _import(dsn: str, tmp_path: Path, **otel: str) -> str:
    """``orderflow listen --from-file`` in its own process (a fresh provider), to its end;
    returns the summary it prints."""
    env = {k: v for k, v in os.environ.items() if k not in OTEL_VARIABLES}
    env.update(DATABASE_URL=dsn, ORDERFLOW_DATA_DIR=str(tmp_path), HEALTH_PORT="0", **otel)
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "orderflow",
        "listen",
        "--from-file",
        str(SAMPLE),
        "--batch-size",
        str(BATCH_SIZE),
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), timeout=120)
    assert proc.returncode == 0, err.decode()
    return out.decode()


async def test_a_command_exports_its_batches_and_flushes_them_on_exit(
    receiver: OtlpReceiver, pool: asyncpg.Pool, dsn: str, tmp_path: Path
) -> None:
    summary = await _import(
        dsn,
        tmp_path,
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=f"{receiver.endpoint}/v1/traces",
        OTEL_SERVICE_NAME="orderflow-import-test",
        # Far longer than the run: every span can only arrive through the exit flush.
        OTEL_BSP_SCHEDULE_DELAY="600000",
    )
    found = re.search(r"(\d+) lines, .* in (\d+) batches", summary)
    assert found, summary
    lines, stored = int(found[1]), int(found[2])
    # A batch is BATCH_SIZE lines, extended to the end of its transaction by at most as many
    # again: several batches, whatever the file's transactions.
    assert math.ceil(lines / (2 * BATCH_SIZE)) <= stored <= math.ceil(lines / BATCH_SIZE)
    assert stored > 1
    # One span per stored batch, every one of them through the exit flush.
    batches = receiver.received.named("ingest.batch")
    assert len(batches) == stored
    assert {s.resource["service.name"] for s in batches} == {"orderflow-import-test"}
    assert sum(s.attributes["fills"] for s in batches) > 0
    rows = await pool.fetch("SELECT DISTINCT traceparent FROM orderflow_trades")
    assert rows and all(any(s.named_by(r["traceparent"]) for s in batches) for r in rows)


async def test_sampler_always_off_exports_nothing_and_marks_rows_unsampled(
    receiver: OtlpReceiver, pool: asyncpg.Pool, dsn: str, tmp_path: Path
) -> None:
    await _import(
        dsn,
        tmp_path,
        OTEL_EXPORTER_OTLP_ENDPOINT=receiver.endpoint,
        OTEL_TRACES_SAMPLER="always_off",
    )
    assert receiver.received.bodies == []
    rows = await pool.fetch("SELECT DISTINCT traceparent FROM orderflow_trades")
    # W3C trace flags: bit 0 "sampled" is off (bit 1, "random trace id", may be on).
    assert rows and all(int(r["traceparent"].split("-")[3], 16) & 1 == 0 for r in rows)


def test_the_endpoint_is_logged_without_credentials(
    no_otel_env: None, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "https://tenant:pa55word@collector:4318")
    with caplog.at_level("INFO", logger="orderflow.tracing"):
        tracing.setup_tracing("test")
    try:
        assert tracing.trace_exporter() is not None
        (record,) = [
            r for r in caplog.records if r.getMessage() == "exporting traces over OTLP/HTTP"
        ]
        assert record.__dict__["endpoint"] == "https://collector:4318"
        assert "pa55word" not in caplog.text
    finally:
        tracing.shutdown_tracing()
    assert tracing.trace_exporter() is None
