"""Health endpoints and structured logs."""

from __future__ import annotations

import json
import logging

import httpx

from orderflow.health import HealthServer
from orderflow.telemetry import JsonFormatter, meter, setup_metrics


async def test_health_ready_and_metrics() -> None:
    setup_metrics("test")
    counter = meter("test").create_counter("orderflow_test_events")
    counter.add(3)
    server = HealthServer(0, host="127.0.0.1")
    state = {"ok": True}

    async def check() -> tuple[bool, str]:
        return state["ok"], "lag 2 blocks"

    server.add_check("head_lag", check)
    await server.start()
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.port}") as client:
            assert (await client.get("/healthz")).status_code == 200
            ready = await client.get("/readyz")
            assert ready.status_code == 200
            assert ready.json()["checks"]["head_lag"] == "ok: lag 2 blocks"
            state["ok"] = False
            assert (await client.get("/readyz")).status_code == 503
            metrics = (await client.get("/metrics")).text
            assert "orderflow_test_events" in metrics
    finally:
        await server.stop()


def test_json_logs_carry_extra_fields() -> None:
    record = logging.LogRecord("orderflow.chain", logging.INFO, __file__, 1, "stored", (), None)
    record.tx_hash = "0xab"
    record.log_index = 7
    payload = json.loads(JsonFormatter().format(record))
    assert payload["msg"] == "stored"
    assert payload["tx_hash"] == "0xab"
    assert payload["log_index"] == 7
