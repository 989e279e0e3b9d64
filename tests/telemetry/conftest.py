"""Fixtures: a local OTLP receiver, tracing switched on against it, and the listener's anvil."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from orderflow import tracing
from tests.chain_live.conftest import anvil, anvil_process  # noqa: F401  (fixtures)
from tests.execution.conftest import make_executor  # noqa: F401  (fixture)
from tests.telemetry.receiver import OtlpReceiver

OTEL_VARIABLES = (
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    "OTEL_EXPORTER_OTLP_HEADERS",
    "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
    "OTEL_EXPORTER_OTLP_PROTOCOL",
    "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
    "OTEL_TRACES_EXPORTER",
    "OTEL_TRACES_SAMPLER",
    "OTEL_TRACES_SAMPLER_ARG",
    "OTEL_SERVICE_NAME",
    "OTEL_RESOURCE_ATTRIBUTES",
    "OTEL_SDK_DISABLED",
)
SECRET_HEADER = "x-collector-token"
SECRET_VALUE = "s3cr3t-collector-token-5f1d"


@pytest.fixture
def no_otel_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in OTEL_VARIABLES:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
async def receiver() -> AsyncIterator[OtlpReceiver]:
    async with OtlpReceiver() as r:
        yield r


@pytest.fixture
async def exporting(
    receiver: OtlpReceiver, no_otel_env: None, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[OtlpReceiver]:
    """Tracing of this process exported to ``receiver`` (with a secret header), as a service
    configured by the standard variables would be; flushed and switched off afterwards."""
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint)
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", f"{SECRET_HEADER}={SECRET_VALUE}")
    tracing.setup_tracing("test")
    assert tracing.trace_exporter() is not None
    try:
        yield receiver
    finally:
        # The export runs in the SDK's thread and this loop serves the receiver: never block it.
        await asyncio.to_thread(tracing.shutdown_tracing)
