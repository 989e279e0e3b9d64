"""How a follower's order reaches the market in the replay: what its decision can know (the
visibility), when its order is at the exchange (the latency) and how long it rests (its life)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from orderflow.chain.settings import ListenerSettings
from orderflow.strategy.settings import DEFAULT_ORDER_TTL_SECS

# The listener stores a log once its block is buried under CONFIRMATIONS blocks (its setting's
# default, ``ListenerSettings.confirmations``); Polygon PoS makes a block every ~2 s, and the
# listener sees a block on average ~1 s after its timestamp (docs/backtest.md "Latency").
CONFIRMATIONS: int = ListenerSettings.model_fields["confirmations"].default
POLYGON_BLOCK_SECS = 2.0
LISTENER_LAG_SECS = 1.0
# A fill is stored, and so can be read by the executor, this long after its block's time.
DEFAULT_VISIBILITY_SECS = CONFIRMATIONS * POLYGON_BLOCK_SECS + LISTENER_LAG_SECS
# The executor's signal p99 is 8 ms (docs/benchmarks.md "signal latency"); placing a CLOB order
# is a ~1 s HTTPS round trip (assumed, not measured here).
SIGNAL_SECS = 0.008
ORDER_TRIP_SECS = 1.0
DEFAULT_LATENCY_SECS = DEFAULT_VISIBILITY_SECS + SIGNAL_SECS + ORDER_TRIP_SECS


@dataclass(frozen=True)
class Execution:
    """How a follower's order reaches the market.

    ``latency``: from the leader's fill (its block time) to our order at the exchange — the
    decision is taken then, and the order meets the book as it stands then. ``visibility``: how
    long after its block's time a fill is stored by the listener and so known to a decision
    (:meth:`horizon`): the decision reads the tape as of its time less it, never the blocks the
    executor has not stored. ``window``: the order's life, how long it rests and the chain may
    reveal the book that fills it (maker fills of later trades in the token); nothing in it
    means no fill. It is the strategy's ``order_ttl_secs``, as long as the executor's order
    would rest (:meth:`orderflow.backtest.runner.BacktestOptions.execution`).
    """

    latency: timedelta = timedelta(seconds=DEFAULT_LATENCY_SECS)
    window: timedelta = timedelta(seconds=DEFAULT_ORDER_TTL_SECS)
    visibility: timedelta = timedelta(seconds=DEFAULT_VISIBILITY_SECS)

    def horizon(self, due: datetime, known: datetime) -> datetime:
        """The newest block time a decision at ``due`` reads: ``due`` less the visibility, but
        never before ``known``, what it is taken on (its trigger: the executor decides on a fill
        once it has stored it; a late exit's retry: the time it is scheduled)."""
        return max(known, due - self.visibility)
