"""Traces that leave the process: trade -> signal -> order -> fill, as a collector receives them.

The real listener (anvil node, LogRelay at the real exchange address) stores a fill; the real
executor follows it in paper mode; the spans reach a local OTLP/HTTP receiver over the official
exporter, and their parent links form one trace from the listener's ingest batch to the fill.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from decimal import Decimal

import asyncpg
import pytest

from orderflow import tracing
from orderflow.chain.listener import Listener
from orderflow.execution.engine import Executor
from tests.chain_live.anvil_node import Anvil
from tests.chain_live.listener_runs import make_settings, running
from tests.chain_live.logs import V2_EXCHANGE, order_filled_v2, wait_until
from tests.execution.conftest import (
    MARKET,
    TOKEN_NO,
    TOKEN_YES,
    WHALE,
    add_strategy,
    add_token,
    add_wallet,
    fill_resting,
)
from tests.telemetry.conftest import SECRET_HEADER, SECRET_VALUE
from tests.telemetry.receiver import OtlpReceiver

BATCH_SPANS = {"live.flush", "backfill.range"}


@pytest.mark.anvil
async def test_one_exported_trace_from_ingested_trade_to_paper_fill(
    exporting: OtlpReceiver,
    anvil: Anvil,
    pool: asyncpg.Pool,
    dsn: str,
    make_executor: Callable[..., Executor],
) -> None:
    ex = make_executor()
    async with pool.acquire() as conn:
        await add_strategy(conn, "alpha")
        await add_token(conn, TOKEN_YES, MARKET, 0)
        await add_token(conn, TOKEN_NO, MARKET, 1)
        await add_wallet(conn, WHALE, 8.5, edge=0.10, edge_se=0.02)
        await ex.registry.refresh(conn)

    # The whale buys 1200 shares at 0.50 (600 USDC) as the taker of a match (the exchange is
    # the counterparty of the taker's aggregate fill): only a taker's decision is a signal.
    listener = Listener(pool, make_settings(anvil.ws_url, DATABASE_URL=dsn))
    async with running(listener):
        await anvil.emit(
            order_filled_v2(
                order_hash=7,
                maker=WHALE,
                taker=V2_EXCHANGE,
                token_id=TOKEN_YES,
                maker_amount=600_000_000,
                taker_amount=1_200_000_000,
            )
        )

        async def stored() -> bool:
            n = await pool.fetchval(
                "SELECT count(*) FROM orderflow_trades WHERE wallet_address = $1", WHALE
            )
            return bool(n)

        await wait_until(stored, what="the whale's trade stored")
    trade = await pool.fetchrow(
        "SELECT tx_hash, log_index, traceparent FROM orderflow_trades WHERE wallet_address = $1",
        WHALE,
    )
    assert await ex.catch_up() >= 1
    assert await fill_resting(pool, ex) == 1  # an ask at the paper order's limit
    signal = await pool.fetchrow("SELECT id, status, traceparent FROM orderflow_signals")
    order = await pool.fetchrow("SELECT id, status, mode, traceparent FROM orderflow_orders")
    fill = await pool.fetchrow("SELECT shares, price FROM orderflow_fills")
    assert signal["status"] == "EXECUTED" and order["status"] == "FILLED"
    assert order["mode"] == "paper"

    await asyncio.to_thread(tracing.shutdown_tracing)  # what a clean exit does
    got = exporting.received

    # The trade row's traceparent names a real, exported span: the listener's ingest batch.
    (batch,) = [s for s in got.spans if s.named_by(trade["traceparent"])]
    assert batch.name in BATCH_SPANS
    (signal_span,) = got.named("orderflow.signal")
    (order_span,) = got.named("orderflow.order")
    (fill_span,) = got.named("orderflow.fill")

    # One trace, each span the child of the one before it.
    assert {s.trace_id for s in (batch, signal_span, order_span, fill_span)} == {batch.trace_id}
    assert signal_span.parent_span_id == batch.span_id
    assert order_span.parent_span_id == signal_span.span_id
    assert fill_span.parent_span_id == order_span.span_id
    # ... and the rows store the spans that wrote them.
    assert signal_span.named_by(signal["traceparent"])
    assert order_span.named_by(order["traceparent"])

    assert signal_span.attributes["orderflow.strategy"] == "alpha"
    assert signal_span.attributes["orderflow.tx_hash"] == trade["tx_hash"]
    assert signal_span.attributes["orderflow.log_index"] == trade["log_index"]
    assert order_span.attributes["orderflow.signal_id"] == signal["id"]
    assert order_span.attributes["orderflow.order_id"] == order["id"]
    assert order_span.attributes["orderflow.mode"] == "paper"
    assert fill_span.attributes["orderflow.order_id"] == order["id"]
    assert Decimal(fill_span.attributes["orderflow.shares"]) == fill["shares"]
    assert Decimal(fill_span.attributes["orderflow.price"]) == fill["price"]

    # The configured headers travel with every export; no secret is in any span or resource.
    assert got.headers and all(h.get(SECRET_HEADER) == SECRET_VALUE for h in got.headers)
    for body in got.bodies:
        assert SECRET_VALUE.encode() not in body
        assert dsn.encode() not in body and b"postgresql://" not in body
