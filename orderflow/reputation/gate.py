"""The as_of gate: the only way reputation's SQL reads trades, resolutions and the event's legs.

Trades with ``timestamp <= $1`` and resolutions with ``resolved_at <= $1``; ``$1`` is always the
cut-off (``now()`` for a live run), so no statement can see the future of a backtest. The trades'
block bound (:mod:`orderflow.chain.pruning`) selects nothing: it lets an ``--as-of`` run skip the
partitions above the cut-off.

Conditions (:func:`gated_conditions`) are read through it where their *existence* changes a
figure: the legs of a neg-risk event a complete set must cover (HEDGED). A leg prepared after the
cut-off (its ConditionPreparation's block time) did not exist then; counting it made a wallet
holding YES on every leg of the event as it stood no set at all, as of a time before the leg. A
run at the present passes NULL (no cut-off): every stored leg is known now, one whose block is
stamped a few seconds ahead of the database clock included (the run takes the leg's mark in the
change log, so leaving the leg out would leave the event's holders stale).
"""

from orderflow.chain import pruning

GATED_TRADES = (
    "SELECT * FROM orderflow_trades WHERE timestamp <= $1::timestamptz"
    f" AND {pruning.until('$1::timestamptz')}"
)
GATED_OUTCOMES = "SELECT * FROM orderflow_market_outcomes WHERE resolved_at <= $1::timestamptz"


def gated_conditions(cutoff: str) -> str:
    """Conditions prepared at or before ``cutoff`` (an SQL parameter; NULL: every stored one, a
    live run's; a condition whose preparation time is unknown counts as known)."""
    return (
        "SELECT * FROM orderflow_conditions"
        f" WHERE {cutoff}::timestamptz IS NULL OR timestamp IS NULL"
        f" OR timestamp <= {cutoff}::timestamptz"
    )


def gated_in_runs(token: str) -> str:
    """A LATERAL read of the gated trades of ``token`` (an SQL expression) within a run of
    buckets ``r`` (``r.lo`` .. ``r.hi``, ``$3`` seconds a bucket), with a second of margin either
    side, aliased ``t``: by the token index within the run's time range (OFFSET 0 keeps the
    subquery apart, so the bounds are the scan's own condition). The counterparty region's read
    (wash_partials_sql) and the COPIER cells' (copy_sql)."""
    return f"""CROSS JOIN LATERAL (
       SELECT * FROM ({GATED_TRADES}) g
        WHERE g.token_id = {token}
          AND g.timestamp >= to_timestamp(r.lo * $3::float8) - interval '1 second'
          AND g.timestamp < to_timestamp((r.hi + 1) * $3::float8) + interval '1 second'
       OFFSET 0) t"""
