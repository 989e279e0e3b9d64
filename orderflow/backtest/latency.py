"""How a follower's order reaches the market in the replay: the latency and the order's life."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from orderflow.strategy.settings import DEFAULT_ORDER_TTL_SECS

# The default latency, from what the pipeline measures (docs/backtest.md "Latency"): the listener
# stores a log once CONFIRMATIONS (3) Polygon blocks of ~2 s bury it (6 s) and it sees a block on
# average ~1 s after its timestamp; the executor's signal p99 is 8 ms (docs/benchmarks.md "signal
# latency"); placing a CLOB order is a ~1 s HTTPS round trip (assumed, not measured here).
DEFAULT_LATENCY_SECS = 3 * 2.0 + 1.0 + 0.008 + 1.0


@dataclass(frozen=True)
class Execution:
    """How a follower's order reaches the market.

    ``latency``: from the leader's fill (its block time) to our order at the exchange — the
    decision is taken then, with what the tape shows then, and the order meets the book as it
    stands then. ``window``: the order's life, how long it rests and the chain may reveal the
    book that fills it (maker fills of later trades in the token); nothing in it means no fill.
    It is the strategy's ``order_ttl_secs``, as long as the executor's order would rest
    (:meth:`orderflow.backtest.runner.BacktestOptions.execution`).
    """

    latency: timedelta = timedelta(seconds=DEFAULT_LATENCY_SECS)
    window: timedelta = timedelta(seconds=DEFAULT_ORDER_TTL_SECS)
