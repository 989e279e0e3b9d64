"""What a wallet's unrealized P&L is read from (migration 098): its open positions and the marks.

The mark (a token's last price) feeds one figure of a wallet's row, the unrealized P&L of its
open positions, and no score input. A run does not write it into the rows: readers compute it
(``orderflow_unrealized_pnl``, called by ``orderflow_wallet_read``) as the sum over the wallet's
open positions of ``(held_u x mark)::int8 - basis_u`` micro-units (the arithmetic the wallets
statement used when it stored the figure; it no longer computes it), from two tables a live run
keeps:

* :data:`OPEN` -- each open position (not resolved at the cut-off, shares held) of the wallets
  the run scored: ``rep_positions``' ``held_u`` and ``basis_open_u``, which move only with the
  wallet's fills or its market's resolution (both rescore the wallet);
* :data:`MARKS` -- each token's mark as the run's closing lines hold it: a full run's
  ``rep_close``, an incremental run's stored lines of the tokens whose fills changed
  (:data:`orderflow.reputation.detached_lines.CLOSES`, replaced by the run before this).

So a new trade that moves a token's mark writes one row of :data:`MARKS`, not a row per holder.
Both are brought to the run's rows by difference (the rows that moved are deleted, the missing
ones inserted): no table lock a reader would wait on, and a full run whose positions and marks
mostly did not move writes few rows.
"""

from __future__ import annotations

import asyncpg

from orderflow.reputation.detached_lines import CLOSES
from orderflow.reputation.probe import among

OPEN = "orderflow_reputation_open"
MARKS = "orderflow_reputation_marks"

# the open positions of rep_positions (WALLETS' open positions: evidence_sql's dec, ``open``)
OPEN_ROWS = """SELECT wallet_address, token_id, held_u, basis_open_u AS basis_u
  FROM rep_positions WHERE NOT resolved AND held_u > 0"""
_VALUES = ("held_u", "basis_u")


def _marks_of(lines: str, scope: str) -> str:
    return f"SELECT token_id, mark_price FROM {lines} WHERE mark_price IS NOT NULL{scope}"


async def _sync(
    conn: asyncpg.Connection,
    table: str,
    new: str,
    key: tuple[str, ...],
    values: tuple[str, ...],
    scope: str = "TRUE",
) -> None:
    """``table``'s rows matching ``scope`` (an SQL condition on ``o``; every row of ``new`` is
    in it) made the rows of ``new``: a row that moved or went is deleted, one missing is
    inserted. Both statements read ``table`` within ``scope`` alone."""
    columns = (*key, *values)
    same = " AND ".join(f"n.{c} = o.{c}" for c in columns)
    same_key = " AND ".join(f"n.{c} = o.{c}" for c in key)
    await conn.execute(
        f"""DELETE FROM {table} o
             WHERE {scope} AND NOT EXISTS (SELECT 1 FROM ({new}) n WHERE {same})"""
    )
    await conn.execute(
        f"""INSERT INTO {table} ({", ".join(columns)})
            SELECT {", ".join(f"n.{c}" for c in columns)} FROM ({new}) n
             WHERE NOT EXISTS (SELECT 1 FROM {table} o WHERE {scope} AND {same_key})"""
    )


async def save(conn: asyncpg.Connection, *, incremental: bool) -> None:
    """After a live run's upsert: the open positions of the wallets it scored (an incremental
    run: ``rep_dirty_wallets``, whose positions ``rep_positions`` holds; a full run: every
    wallet) and the marks of the tokens whose lines it computed (incremental:
    ``rep_dirty_tokens``, from the stored lines; full: every token, from ``rep_close``)."""
    # the open positions taken out of rep_positions once (a few percent of its rows), for the
    # delete's and the insert's joins: not the wide table read by each
    await conn.execute(f"CREATE TEMP TABLE rep_open ON COMMIT DROP AS {OPEN_ROWS}")
    opened = "SELECT * FROM rep_open"
    if incremental:  # the stored open positions read at the rescored wallets alone
        wallets = among("o.wallet_address", "SELECT wallet_address FROM rep_dirty_wallets")
        tokens = "token_id IN (SELECT token_id FROM rep_dirty_tokens)"
        await _sync(conn, OPEN, opened, ("wallet_address", "token_id"), _VALUES, wallets)
        await _sync(
            conn,
            MARKS,
            _marks_of(CLOSES, f" AND {tokens}"),
            ("token_id",),
            ("mark_price",),
            f"o.{tokens}",
        )
        return
    await _sync(conn, OPEN, opened, ("wallet_address", "token_id"), _VALUES)
    await _sync(conn, MARKS, _marks_of("rep_close", ""), ("token_id",), ("mark_price",))
