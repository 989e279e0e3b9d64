"""``orderflow execute`` stopped by SIGTERM (a pod stopping) still delivers its spans."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import asyncpg

from tests.execution.conftest import (
    MARKET,
    TOKEN_NO,
    TOKEN_YES,
    WHALE,
    add_strategy,
    add_token,
    add_trade,
    add_wallet,
    reveal,
    wait_for,
)
from tests.telemetry.conftest import OTEL_VARIABLES
from tests.telemetry.receiver import OtlpReceiver

# A batch span of some listener: the executor's spans must continue its trace.
BATCH_TRACE, BATCH_SPAN = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"


async def test_sigterm_flushes_the_executors_spans(
    receiver: OtlpReceiver, pool: asyncpg.Pool, dsn: str, tmp_path: Path
) -> None:
    async with pool.acquire() as conn:
        await add_strategy(conn, "alpha")
        await add_token(conn, TOKEN_YES, MARKET, 0)
        await add_token(conn, TOKEN_NO, MARKET, 1)
        await add_wallet(conn, WHALE, 8.5)
    env = {k: v for k, v in os.environ.items() if k not in OTEL_VARIABLES}
    env.update(
        DATABASE_URL=dsn,
        ORDERFLOW_DATA_DIR=str(tmp_path),
        HEALTH_PORT="0",
        EXECUTOR_HEARTBEAT_SECS="0.5",
        OTEL_EXPORTER_OTLP_ENDPOINT=receiver.endpoint,
        OTEL_SERVICE_NAME="orderflow-executor-test",
        OTEL_BSP_SCHEDULE_DELAY="600000",  # nothing is sent before the exit flush
    )
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "orderflow",
        "execute",
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    try:

        async def leading() -> bool:
            return bool(
                await pool.fetchval(
                    "SELECT count(*) FROM orderflow_executor_heartbeats WHERE is_leader"
                )
            )

        await wait_for(leading, timeout=60)
        async with pool.acquire() as conn:
            await add_trade(conn, usdc="600", traceparent=f"00-{BATCH_TRACE}-{BATCH_SPAN}-01")

        async def resting() -> asyncpg.Record | None:
            row: asyncpg.Record | None = await pool.fetchrow(
                "SELECT price, shares FROM orderflow_orders WHERE status = 'OPEN'"
            )
            return row

        order = await wait_for(resting, timeout=60)
        async with pool.acquire() as conn:  # an ask at its limit: the paper order fills
            await reveal(conn, price=str(order["price"]), shares=str(order["shares"]))

        async def filled() -> bool:
            status: str | None = await pool.fetchval("SELECT status FROM orderflow_orders")
            return status == "FILLED"

        await wait_for(filled, timeout=60)
        assert receiver.received.spans == []  # still queued in the executor
        proc.send_signal(signal.SIGTERM)
        _, err = await asyncio.wait_for(proc.communicate(), timeout=60)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode == 0, err.decode()
    got = receiver.received
    (signal_span,) = got.named("orderflow.signal")
    (order_span,) = got.named("orderflow.order")
    (fill_span,) = got.named("orderflow.fill")
    assert signal_span.trace_id == order_span.trace_id == fill_span.trace_id == BATCH_TRACE
    assert signal_span.parent_span_id == BATCH_SPAN
    assert order_span.parent_span_id == signal_span.span_id
    assert fill_span.parent_span_id == order_span.span_id
    assert fill_span.resource["service.name"] == "orderflow-executor-test"
