"""Storing one decision as a signal: its row, its span, its metrics and its log line.

The span continues the listener's trace of the trade (``orderflow.signal``), and its traceparent
is stored with the signal and goes on with the order. The signal's UNIQUE key (strategy, signal
type, the trade's chain id, tx hash and log index) makes a decision recorded before (a replayed
trade) a no-op: :func:`record_signal` then returns None and nothing is counted or logged.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime

import asyncpg

from orderflow.execution.strategies import StrategyState
from orderflow.execution.tracing import context_from, current_traceparent
from orderflow.signals import queries as signal_queries
from orderflow.signals.decide import Decision
from orderflow.signals.views import TradeView, WalletView
from orderflow.telemetry import meter, tracer

log = logging.getLogger(__name__)
_tracer = tracer("orderflow.signals")
_signals = meter("orderflow.signals").create_counter(
    "orderflow_signals_total", description="Signals by type and status"
)
_latency = meter("orderflow.signals").create_histogram(
    "orderflow_signal_latency_seconds",
    unit="s",
    description="From the trade row's insert to its signal row (host clock vs database clock)",
)


@dataclass(frozen=True, slots=True)
class Recorded:
    """A stored signal: its id, and the trace its order continues."""

    signal_id: int
    traceparent: str | None


async def record_signal(
    conn: asyncpg.Connection,
    state: StrategyState,
    trade: TradeView,
    wallet: WalletView,
    decision: Decision,
    attempt: int = 0,
) -> Recorded | None:
    """Store one decision under a span continuing the listener's trace (None: recorded before).
    ``attempt``: 0, or the number of an exit tried again."""
    with _tracer.start_as_current_span(
        "orderflow.signal",
        context=context_from(trade.traceparent),
        attributes={
            "orderflow.strategy": state.name,
            "orderflow.tx_hash": trade.tx_hash,
            "orderflow.log_index": trade.log_index,
        },
    ):
        traceparent = current_traceparent()
        signal_id = await signal_queries.insert_signal(
            conn, state.name, trade, wallet, decision, traceparent=traceparent, attempt=attempt
        )
    if signal_id is None:
        return None
    _signals.add(1, {"type": decision.signal_type.value, "status": decision.status})
    if trade.inserted_at is not None:
        _latency.record(max(0.0, (datetime.now(UTC) - trade.inserted_at).total_seconds()))
    log.info(
        "signal",
        extra={
            "strategy": state.name,
            "signal_id": signal_id,
            "signal_type": decision.signal_type.value,
            "side": decision.side,
            "status": decision.status,
            "reason": decision.reason.value,
            "tx_hash": trade.tx_hash,
            "log_index": trade.log_index,
            "wallet": trade.wallet,
        },
    )
    return Recorded(signal_id, traceparent)
