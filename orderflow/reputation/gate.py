"""The as_of gate: the only way reputation's SQL reads trades and resolutions.

Trades with ``timestamp <= $1`` and resolutions with ``resolved_at <= $1``; ``$1`` is always the
cut-off (``now()`` for a live run), so no statement can see the future of a backtest. The trades'
block bound (:mod:`orderflow.chain.pruning`) selects nothing: it lets an ``--as-of`` run skip the
partitions above the cut-off.
"""

from orderflow.chain import pruning

GATED_TRADES = (
    "SELECT * FROM orderflow_trades WHERE timestamp <= $1::timestamptz"
    f" AND {pruning.until('$1::timestamptz')}"
)
GATED_OUTCOMES = "SELECT * FROM orderflow_market_outcomes WHERE resolved_at <= $1::timestamptz"
