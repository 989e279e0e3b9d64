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

import re

NO_BOUND_HIGH = 9223372036854775807

# Whether every attached partition has a row (rows of partitions no longer attached only widen
# the bounds: they are left in the aggregates); otherwise no bound at all.
_KNOWN = (
    "ARRAY(SELECT i.inhrelid FROM pg_inherits i"
    " WHERE i.inhparent = 'orderflow_trades'::regclass)"
    " <@ coalesce(array_agg(r.relid), '{}')"
)
_RANGES = "FROM orderflow_trade_partition_ranges r"


def _col(alias: str) -> str:
    return f"{alias}.block_number" if alias else "block_number"


def _bound(column: str, op: str, value: str, none: object, bound: str) -> str:
    return (
        f"{column} {op} (SELECT CASE WHEN ({value}) IS NULL OR NOT ({_KNOWN}) THEN {none}"
        f" ELSE {bound} END {_RANGES})"
    )


def since(ts: str, alias: str = "") -> str:
    """Every row with ``timestamp >= ts`` (so also ``> ts``) passes (``ts`` is evaluated twice:
    a parameter, or an uncorrelated subquery)."""
    return _bound(
        _col(alias),
        ">=",
        ts,
        0,
        f"coalesce(min(r.first_block) FILTER (WHERE r.max_ts >= ({ts})), max(r.last_block) + 1, 0)",
    )


def until(ts: str, alias: str = "") -> str:
    """Every row with ``timestamp <= ts`` (so also ``< ts``) passes."""
    return _bound(
        _col(alias),
        "<=",
        ts,
        NO_BOUND_HIGH,
        f"coalesce(max(r.last_block) FILTER (WHERE r.min_ts <= ({ts})), -1)",
    )


def after_id(trade_id: str, alias: str = "") -> str:
    """Every row with ``id > trade_id`` passes."""
    return _bound(
        _col(alias),
        ">=",
        trade_id,
        0,
        f"coalesce(min(r.first_block) FILTER (WHERE r.max_id > ({trade_id})),"
        " max(r.last_block) + 1, 0)",
    )


_FRAGMENT = re.compile(
    r"(?:\w+\.)?block_number [<>]= \(SELECT CASE WHEN .*? END " + re.escape(_RANGES) + r"\)",
    re.DOTALL,
)


def without_bounds(query: str) -> str:
    """``query`` with every fragment of this module made ``TRUE``: the statement as it was
    before migration 018 (tests compare the rows, the benchmark the cost)."""
    stripped, n = _FRAGMENT.subn("TRUE", query)
    if n == 0:
        raise ValueError("no block bound in this statement")
    return stripped
