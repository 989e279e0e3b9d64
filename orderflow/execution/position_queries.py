"""The execution stage's SQL for positions: the strategy's book, fills, positions and the
status and P&L of the signals they answer. The SQL of exits (an entry's trigger, the leader's
sells since, the exits tried) is :mod:`orderflow.execution.exit_queries`'s."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from decimal import Decimal
from typing import Any, NamedTuple

import asyncpg

from orderflow.accounting import Fill, Position
from orderflow.execution.broker import FillReport
from orderflow.signals.tape import tape_price

# --------------------------------------------------------------------------------------------
# The strategy's book (what risk limits see)
# --------------------------------------------------------------------------------------------


def mark_price(token: str, before: str | None = None) -> str:
    """SQL: the price an open position in ``token`` is marked at (a live BUY's loss measured
    at): the token's payout once its market's resolution is stored, else its tape price
    (:func:`orderflow.signals.tape.tape_price`: one pair of wallets trading between itself
    cannot set it, as it set the last trade); with ``before``, as of then (resolved before it,
    the tape before it). A position of a resolved market waits for its settlement while an
    order of it may fill (:func:`orderflow.execution.settle_queries.resolvable_positions`):
    marked at the tape before the resolution meanwhile, a lost bet still showed its
    pre-resolution value. Read each time: a resolution a reorg took back marks the position at
    the tape again."""
    resolved = f" AND r.resolved_at < {before}" if before else ""
    return f"""COALESCE(
        (SELECT r.payouts[tok.outcome_index + 1] FROM orderflow_tokens tok
           JOIN orderflow_market_outcomes r ON r.market_id = tok.condition_id
          WHERE tok.token_id = {token}{resolved}),
        {tape_price(token, before)})"""


LAST_PRICE = mark_price("p.token_id")
# The mode of a position's fills (paper or live; NULL before its first fill): its first fill's,
# stored with it (migration 069, :func:`open_position_for`).
POSITION_MODE = "p.mode"


BOOK_ROWS = f"""
SELECT p.id, p.token_id, COALESCE(p.market_id, tok.condition_id) AS market_id,
       COALESCE(p.outcome_index, tok.outcome_index) AS outcome_index, p.opened_at,
       p.shares, p.cost_basis, {LAST_PRICE} AS last_price,
       s.wallet_address AS leader, s.signal_type AS leader_type,
       {POSITION_MODE} AS mode
  FROM orderflow_positions p
  LEFT JOIN orderflow_signals s ON s.id = p.signal_id
  LEFT JOIN orderflow_tokens tok ON tok.token_id = p.token_id
 WHERE p.strategy = $1 AND p.status = 'OPEN'
 ORDER BY p.id
"""


async def book_rows(conn: asyncpg.Connection, strategy: str) -> list[asyncpg.Record]:
    """Open positions with their latest price, the wallet they followed in, and the mode of
    their fills (an exit goes where the position is, whatever the strategy's mode now). A
    position opened before the token registry knew its market (stored with none until it is
    settled) takes the market the registry names now, as live orders and the settlement do: one
    position per market held its other outcome apart (YES held, NO bought beside it)."""
    return list(await conn.fetch(BOOK_ROWS, strategy))


async def held_in(
    conn: asyncpg.Connection, strategy: str, tokens: Collection[int]
) -> list[asyncpg.Record]:
    """The strategy's open positions in ``tokens``: the wallet each followed in and the mode of
    its fills (what :func:`book_rows` says of them, read ahead of the decision)."""
    return list(
        await conn.fetch(
            f"""
            SELECT p.token_id, s.wallet_address AS leader, {POSITION_MODE} AS mode
              FROM orderflow_positions p
              LEFT JOIN orderflow_signals s ON s.id = p.signal_id
             WHERE p.strategy = $1 AND p.status = 'OPEN' AND p.token_id = ANY($2::numeric[])
            """,
            strategy,
            [Decimal(t) for t in tokens],
        )
    )


# --------------------------------------------------------------------------------------------
# Signals (status changes after the decision)
# --------------------------------------------------------------------------------------------


async def set_signal_status(
    conn: asyncpg.Connection, signal_id: int, status: str, reason: str | None
) -> None:
    await conn.execute(
        "UPDATE orderflow_signals SET status = $2, reason = COALESCE($3, reason),"
        " decided_at = COALESCE(decided_at, clock_timestamp()) WHERE id = $1",
        signal_id,
        status,
        reason,
    )


# --------------------------------------------------------------------------------------------
# Fills and positions
# --------------------------------------------------------------------------------------------


# A takeover: the earlier owner ($2) and the position's last fill before the new entry's.
_HANDOVER = """
INSERT INTO orderflow_position_handovers (position_id, upto_fill_id, signal_id)
SELECT $1, COALESCE(max(f.id), 0), $2 FROM orderflow_fills f
 WHERE f.position_id = $1 AND f.reverses IS NULL
ON CONFLICT (position_id, upto_fill_id) DO NOTHING
"""


async def handovers(conn: asyncpg.Connection, position_id: int) -> list[asyncpg.Record]:
    """A position's takeovers in order: each earlier owner (``signal_id``) and the last fill
    of the position before it was taken over (``upto_fill_id``)."""
    return list(
        await conn.fetch(
            "SELECT upto_fill_id, signal_id FROM orderflow_position_handovers"
            " WHERE position_id = $1 ORDER BY upto_fill_id",
            position_id,
        )
    )


async def set_handed_over(conn: asyncpg.Connection, position_id: int, pnl: Decimal) -> None:
    await conn.execute(
        "UPDATE orderflow_positions SET handed_over_pnl = $2 WHERE id = $1", position_id, pnl
    )


class Opened(NamedTuple):
    """The position a fill is booked into, and the signal it was taken over from (None: it was
    not taken over by this fill)."""

    id: int
    handed_from: int | None


async def open_position_for(
    conn: asyncpg.Connection,
    *,
    strategy: str,
    signal_id: int | None,
    token_id: int,
    market_id: str | None,
    outcome_index: int | None,
    mode: str,
    entry: bool = False,
) -> Opened:
    """The strategy's OPEN position in the token, created if there is none, in ``mode`` (the
    mode of the fill about to be booked: a position's mode is its first fill's). An ``entry``
    (a BUY's fill) into an open position — dust under the minimum order size, which does not
    refuse entries — makes its signal the position's: the position now follows that entry's
    leader (its exit) and carries its P&L from then on; the earlier signal keeps what the
    position realized while it was its own (``handed_over_pnl`` keeps the total handed over;
    ``orderflow_position_handovers`` where its part ends: :func:`handovers`), which the caller
    restates as that signal's (``Opened.handed_from``)."""
    existing = await conn.fetchrow(
        "SELECT id, signal_id, realized_pnl, handed_over_pnl, mode FROM orderflow_positions"
        " WHERE strategy = $1 AND token_id = $2 AND status = 'OPEN' FOR UPDATE",
        strategy,
        Decimal(token_id),
    )
    if existing is not None:
        if existing["mode"] is None:
            await conn.execute(
                "UPDATE orderflow_positions SET mode = $2 WHERE id = $1", existing["id"], mode
            )
        earlier = existing["signal_id"]
        # A later entry only: a late fill of an earlier one booked after it (found in the
        # account's trades) leaves the position with the later leader.
        if entry and signal_id is not None and (earlier is None or earlier < signal_id):
            realized = Decimal(existing["realized_pnl"] or 0)
            await conn.execute(
                "UPDATE orderflow_positions SET signal_id = $2, handed_over_pnl = $3 WHERE id = $1",
                existing["id"],
                signal_id,
                realized,
            )
            await conn.execute(_HANDOVER, existing["id"], earlier)
            return Opened(int(existing["id"]), earlier)
        return Opened(int(existing["id"]), None)
    created = await conn.fetchval(
        """
        INSERT INTO orderflow_positions (strategy, signal_id, token_id, market_id,
            outcome_index, mode)
        SELECT $1, $2, $3, COALESCE($4, tok.condition_id), COALESCE($5, tok.outcome_index), $6
          FROM (SELECT 1) one
          LEFT JOIN orderflow_tokens tok ON tok.token_id = $3
        RETURNING id
        """,
        strategy,
        signal_id,
        Decimal(token_id),
        market_id,
        outcome_index,
        mode,
    )
    return Opened(int(created), None)


async def insert_fill(
    conn: asyncpg.Connection,
    *,
    order_id: int,
    position_id: int,
    strategy: str,
    mode: str,
    token_id: int,
    side: str,
    fill: FillReport,
) -> bool:
    inserted = await conn.fetchval(
        """
        INSERT INTO orderflow_fills (order_id, position_id, strategy, mode, fill_key, token_id,
            side, price, shares, usdc, fee, fee_asset, filled_at)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
        ON CONFLICT (order_id, fill_key) DO NOTHING
        RETURNING id
        """,
        order_id,
        position_id,
        strategy,
        mode,
        fill.fill_key,
        Decimal(token_id),
        side,
        fill.price,
        fill.shares,
        fill.usdc,
        fill.fee,
        fill.fee_asset,
        fill.at,
    )
    if inserted is not None:
        await conn.execute(
            "UPDATE orderflow_orders SET filled_usdc = filled_usdc + $2, fee = fee + $3"
            " WHERE id = $1",
            order_id,
            fill.usdc,
            fill.fee,
        )
    return inserted is not None


def fill_of(row: Mapping[str, Any]) -> Fill:
    """A row of ``orderflow_net_fills`` (:func:`position_fills`, the day P&L's midnight fills)
    as the accounting's fill."""
    return Fill(
        side=row["side"],
        shares=row["shares"],
        usdc=row["usdc"],
        fee=row["fee"],
        fee_asset=row["fee_asset"],
        timestamp=row["filled_at"],
    )


async def position_fills(conn: asyncpg.Connection, position_id: int) -> list[asyncpg.Record]:
    """A position's fills, net of reversals (a trade that failed on chain), in the order they
    were booked. Not by ``filled_at``: a placement
    fill is stamped with our clock and a later fill with the exchange's (whole seconds), so an
    exit could sort before the buy it sells; an exit is only ever placed after its buy is
    booked."""
    return list(
        await conn.fetch(
            "SELECT id, side, shares, usdc, fee, fee_asset, filled_at FROM orderflow_net_fills"
            " WHERE position_id = $1 ORDER BY id",
            position_id,
        )
    )


async def store_position(
    conn: asyncpg.Connection,
    position_id: int,
    position: Position,
    *,
    close_reason: str | None = None,
    mark_price: Decimal | None = None,
) -> None:
    unrealized = position.mark(mark_price) if mark_price is not None else Decimal(0)
    await conn.execute(
        """
        UPDATE orderflow_positions SET
            shares = $2, cost_basis = $3, avg_price = $4, fees_paid = $5, realized_pnl = $6,
            mark_price = COALESCE($7, mark_price), unrealized_pnl = $8,
            status = CASE WHEN $9::text IS NULL THEN status ELSE 'CLOSED' END,
            closed_at = CASE WHEN $9::text IS NULL THEN closed_at ELSE clock_timestamp() END,
            close_reason = COALESCE($9, close_reason),
            settled_payout = CASE WHEN $9::text IN ('resolved', 'trade_failed') THEN $10
                                  ELSE settled_payout END
        WHERE id = $1
        """,
        position_id,
        position.shares,
        position.cost_basis,
        position.avg_price,
        position.fees_paid,
        position.realized_pnl,
        mark_price,
        unrealized,
        close_reason,
        position.settled_payout,
    )


async def mark_open_positions(conn: asyncpg.Connection) -> None:
    await conn.execute(
        f"""
        UPDATE orderflow_positions p SET mark_price = m.price,
               unrealized_pnl = p.shares * m.price - p.cost_basis
          FROM (SELECT p.id, {LAST_PRICE} AS price FROM orderflow_positions p
                 WHERE p.status = 'OPEN') m
         WHERE p.id = m.id AND m.price IS NOT NULL
        """
    )


async def owner_of(conn: asyncpg.Connection, position_id: int) -> int | None:
    """The signal that owns the position now (None: a position no signal opened)."""
    signal_id = await conn.fetchval(
        "SELECT signal_id FROM orderflow_positions WHERE id = $1", position_id
    )
    return None if signal_id is None else int(signal_id)


async def handed_over_by(conn: asyncpg.Connection, signal_id: int) -> list[int]:
    """The positions the signal owned until a later entry took them over."""
    rows = await conn.fetch(
        "SELECT DISTINCT position_id FROM orderflow_position_handovers WHERE signal_id = $1"
        " ORDER BY position_id",
        signal_id,
    )
    return [int(r[0]) for r in rows]


async def closed_pnl(conn: asyncpg.Connection, signal_id: int) -> Decimal | None:
    """What the signal's closed positions made, each less the parts earlier owners had
    (``handed_over_pnl``); None when it has none closed. A position whose every fill was
    reversed (CLOSED ``trade_failed``) never existed and counts for nothing."""
    pnl = await conn.fetchval(
        "SELECT sum(realized_pnl - handed_over_pnl) FROM orderflow_positions"
        " WHERE signal_id = $1 AND status = 'CLOSED'"
        " AND close_reason IS DISTINCT FROM 'trade_failed'",
        signal_id,
    )
    return None if pnl is None else Decimal(pnl)


async def store_signal_pnl(conn: asyncpg.Connection, signal_id: int, pnl: Decimal | None) -> None:
    """The signal's P&L (None: nothing of it realized yet), stamped when it moves."""
    await conn.execute(
        """
        UPDATE orderflow_signals
           SET pnl = $2::numeric,
               resolved_at = CASE WHEN $2::numeric IS NULL THEN NULL
                                  WHEN pnl = $2::numeric AND resolved_at IS NOT NULL
                                  THEN resolved_at
                                  ELSE clock_timestamp() END
         WHERE id = $1
        """,
        signal_id,
        pnl,
    )
