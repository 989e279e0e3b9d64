"""Block bounds for readers of ``orderflow_trades`` bounded by time or id: partition pruning.

``orderflow_trades`` is partitioned by block (migration 012); a reader asking for a time window
or for ids after a cursor would otherwise probe an index in every partition. Migration 018 keeps
each partition's ``min(timestamp)``, ``max(timestamp)`` and ``max(id)`` in
``orderflow_trade_partition_ranges`` (widened by a statement trigger in the writer's transaction,
never narrowed by a delete); the fragments here turn a time or an id into a block bound that never
excludes a matching row, whatever order the timestamps came in and whatever a history import
inserted late (its old partition's ``max(id)`` grows, so a cursor reader still reads it).

Each fragment is a condition on ``block_number`` to ``AND`` with the reader's own time or id
condition (which stays: the bound only prunes, it never selects). Its bound is a scalar subquery
of the reader's statement (an InitPlan: evaluated once, or once per outer row when correlated,
in the statement's own snapshot — a separate statement could miss a row committed in between),
so PostgreSQL prunes at execution time, with a generic plan of a prepared statement too:
``EXPLAIN ANALYZE`` shows the pruned partitions as ``never executed``. (``Subplans Removed``,
pruning before the executor starts, needs the bound as a statement parameter or a stable
function call in the condition itself; the first means a second statement, the second calls the
function again on every row the scan filters.)

An attached partition without a range row (attached by hand, or restored with new oids) makes
every bound "no bound" until ``SELECT orderflow_trade_ranges_refresh()``.
"""

from __future__ import annotations

NO_BOUND_HIGH = 9223372036854775807

# The attached partitions of orderflow_trades and their ranges (r.* NULL: none known).
_ATTACHED = """CROSS JOIN pg_inherits i
 LEFT JOIN orderflow_trade_partition_ranges r ON r.relid = i.inhrelid
 WHERE i.inhparent = 'orderflow_trades'::regclass GROUP BY b.v"""


def _col(alias: str) -> str:
    return f"{alias}.block_number" if alias else "block_number"


def since(ts: str, alias: str = "") -> str:
    """Every row with ``timestamp >= ts`` (so also ``> ts``) passes."""
    return (
        f"{_col(alias)} >= (SELECT CASE WHEN b.v IS NULL OR bool_or(r.relid IS NULL) THEN 0"
        " ELSE coalesce(min(r.first_block) FILTER (WHERE r.max_ts >= b.v),"
        " max(r.last_block) + 1, 0) END"
        f" FROM (SELECT ({ts})::timestamptz AS v OFFSET 0) b {_ATTACHED})"
    )


def until(ts: str, alias: str = "") -> str:
    """Every row with ``timestamp <= ts`` (so also ``< ts``) passes."""
    return (
        f"{_col(alias)} <= (SELECT CASE WHEN b.v IS NULL OR bool_or(r.relid IS NULL)"
        f" THEN {NO_BOUND_HIGH}"
        " ELSE coalesce(max(r.last_block) FILTER (WHERE r.min_ts <= b.v), -1) END"
        f" FROM (SELECT ({ts})::timestamptz AS v OFFSET 0) b {_ATTACHED})"
    )


def after_id(trade_id: str, alias: str = "") -> str:
    """Every row with ``id > trade_id`` passes."""
    return (
        f"{_col(alias)} >= (SELECT CASE WHEN b.v IS NULL OR bool_or(r.relid IS NULL) THEN 0"
        " ELSE coalesce(min(r.first_block) FILTER (WHERE r.max_id > b.v),"
        " max(r.last_block) + 1, 0) END"
        f" FROM (SELECT ({trade_id})::bigint AS v OFFSET 0) b {_ATTACHED})"
    )
