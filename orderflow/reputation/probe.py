"""A stored table read at the keys an incremental run changed, by its index (:func:`among`).

An hour's change touches a few percent of the wallets and tokens. Joined with the run's temp
table of those keys, a stored table of every wallet or every position (``orderflow_wash_wallets``:
one row a wallet; ``orderflow_position_sums``: one a position) was planned as a hash join over a
sequential scan of the whole table: past a few thousand keys the planner's costs put one pass
over the table below a probe a key, which it is not once the table is in memory (at 1 M wallets,
20,000 keys: the wallets' share volumes 3.7 s by the scan, 0.6 s by the primary key; the stored
verdicts of 20,000 wallets 0.9 s, 0.15 s). Given as an array, the keys make an index condition
(``= ANY``) whose size the planner cannot see and takes for a handful, so the table is read at
those keys alone (one index scan over the sorted keys, or a bitmap of their pages), whatever
their number -- a statement paid per changed key, not per stored row.

The rows are the join's: the keys of these tables are never NULL, and each stored row matches a
key once whether the key query repeats it or not (``IN``'s semi-join, not a join's product).
"""

from __future__ import annotations


def among(column: str, keys: str) -> str:
    """The condition ``column IN (keys)`` read by ``column``'s index: ``column`` (a key of a
    stored table, never NULL) equal to one of the values the query ``keys`` returns."""
    return f"{column} = ANY (ARRAY({keys}))"
