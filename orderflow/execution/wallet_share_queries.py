"""The SQL of squaring live books with the wallet's shares (migration 096,
:mod:`orderflow.execution.wallet_shares`): the live books of a token on one wallet, whether
they can be compared with the wallet's balance now, the strategy's position to square, and the
moves booked."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import NamedTuple

import asyncpg

from orderflow.accounting import Fill
from orderflow.execution.late_fill_queries import matched_unlisted_shares, order_may_fill

# A live position is the wallet's when an order of the signal that opened it (or took it over)
# was signed for it (orderflow.execution.wallet's rule). $1 null: any wallet's.
_OF_WALLET = """($1::text IS NULL OR EXISTS (
                SELECT 1 FROM orderflow_orders o
                 WHERE o.signal_id = p.signal_id AND lower(o.signed_order->>'maker') = $1))"""
_MAKER = "($1::text IS NULL OR lower(o.signed_order->>'maker') = $1)"

# One squaring of a (wallet, token) at a time, across executors sharing the database: the
# second reads the books the first left. Every booking of a live fill (or of its reversal) takes
# it too, first in its transaction (:func:`lock_order`): a fill booked between a squaring's
# check and its writes was compared with a balance read before it.
_LOCK = "SELECT pg_advisory_xact_lock(hashtextextended('orderflow_wallet_shares:' || $1, 0))"

# The (wallet, token)s of a live position: its signal's orders' makers (_OF_WALLET's rule).
_POSITION_KEYS = """
SELECT DISTINCT lower(o.signed_order->>'maker') AS wallet, p.token_id
  FROM orderflow_positions p JOIN orderflow_orders o ON o.signal_id = p.signal_id
 WHERE p.id = $1 AND p.mode = 'live' AND o.signed_order->>'maker' IS NOT NULL
 ORDER BY 1
"""

# The (wallet, token) of a live order's fills: its signed order's maker (paper: none).
_ORDER_KEY = """
SELECT lower(signed_order->>'maker') AS wallet, token_id FROM orderflow_orders
 WHERE id = $1 AND mode = 'live' AND signed_order->>'maker' IS NOT NULL
"""

# Every strategy's open live positions of the token on the wallet ($1, lower case; $2 the token).
_BOOKS = f"""
SELECT COALESCE(sum(p.shares), 0) FROM orderflow_positions p
 WHERE p.status = 'OPEN' AND p.mode = 'live' AND p.token_id = $2 AND {_OF_WALLET}
"""

# Whether the wallet's balance of the token may differ from the books for a reason of ours: a
# live order of it (any strategy's, on the wallet; $1 null: on any) resting, on its way or in
# doubt — a BUY's fill, or a SELL's, may be booked after the balance was read, the shares
# already in the wallet or gone from it —, or closed with more of it matched at the exchange
# than its fills booked while its late fills are asked for (``matched_shares``, migration 089:
# order_queries.matched_unlisted; $3 the executor's clock, as the limits' window: until 7 Dec
# 2026 the database's, which let the two disagree), or a BUY's trade not
# settled on chain yet (MATCHED, RETRYING: its shares may not be in the wallet yet;
# exit_queries' ``unsettled``).
_SHARES_ON_THE_WAY = f"""
SELECT EXISTS (SELECT 1 FROM orderflow_orders o
                WHERE o.mode = 'live' AND o.token_id = $2
                  AND o.status IN ('INTENT', 'OPEN') AND {_MAKER})
    OR EXISTS (SELECT 1 FROM orderflow_orders o
                WHERE o.mode = 'live' AND o.token_id = $2
                  AND o.status IN ('CANCELED', 'ABANDONED')
                  AND {matched_unlisted_shares("o")} > 0
                  AND {order_may_fill("o", "$3")} AND {_MAKER})
    OR EXISTS (SELECT 1 FROM orderflow_fill_trades ft
                 JOIN orderflow_orders o ON o.id = ft.order_id
                WHERE o.mode = 'live' AND o.side = 'BUY' AND o.token_id = $2 AND {_MAKER}
                  AND ft.status <> 'MINED' AND ft.final_at IS NULL AND ft.gave_up_at IS NULL)
"""

# Whether a SELL of ours of the token (any strategy's, on the wallet; $1 null: on any) is matched
# and booked but its trade not mined (MATCHED, RETRYING): the chain — the balance the exchange
# reports once refreshed — still holds its shares, beyond the books. It can only hide a
# shortfall, never make one; but shares beyond the books are not moved ones come back.
_SOLD_UNMINED = f"""
SELECT EXISTS (SELECT 1 FROM orderflow_fill_trades ft
                 JOIN orderflow_orders o ON o.id = ft.order_id
                WHERE o.mode = 'live' AND o.side = 'SELL' AND o.token_id = $2 AND {_MAKER}
                  AND ft.status <> 'MINED' AND ft.final_at IS NULL AND ft.gave_up_at IS NULL)
"""

# Every strategy's open live position of the token on the wallet, with its last fill and mark,
# held for the squaring's transaction.
_POSITIONS = f"""
SELECT p.id, p.strategy, p.shares, p.mark_price, p.signal_id,
       (SELECT max(f.id) FROM orderflow_fills f WHERE f.position_id = p.id) AS last_fill
  FROM orderflow_positions p
 WHERE p.status = 'OPEN' AND p.mode = 'live' AND p.token_id = $2 AND {_OF_WALLET}
 ORDER BY p.id
   FOR UPDATE OF p
"""

# The moves of the token on the wallet that may be undone, newest first: not undone yet, of a
# position still open or closed by its moves alone and free to reopen (no other open position
# of its strategy in the token).
_UNDOABLE = f"""
SELECT m.id, m.position_id, m.strategy, m.shares FROM orderflow_wallet_moves m
  JOIN orderflow_positions p ON p.id = m.position_id
 WHERE m.undone_at IS NULL AND p.mode = 'live' AND p.token_id = $2 AND {_OF_WALLET}
   AND (p.status = 'OPEN' OR (p.close_reason = 'left_wallet' AND NOT EXISTS (
        SELECT 1 FROM orderflow_positions q
         WHERE q.strategy = p.strategy AND q.token_id = p.token_id AND q.status = 'OPEN')))
 ORDER BY m.id DESC
"""

_INSERT = """
INSERT INTO orderflow_wallet_moves (position_id, strategy, token_id, shares, cost, books, wallet,
                                    after_fill_id)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
"""

# Tokens of ``$2`` with an exit of the strategy ($1) resting, on its way or in doubt.
_EXITING = """
SELECT DISTINCT token_id FROM orderflow_orders
 WHERE strategy = $1 AND side = 'SELL' AND status IN ('INTENT', 'OPEN')
   AND token_id = ANY($2::numeric[])
"""


async def lock(conn: asyncpg.Connection, wallet: str, token_id: int) -> None:
    """Hold the (wallet, token)'s books until the transaction ends: taken first by a squaring
    and by every booking of a live fill or reversal (:func:`lock_order`), before any row lock
    — one order, no deadlock."""
    await conn.execute(_LOCK, f"{wallet.lower()}:{token_id}")


async def lock_order(conn: asyncpg.Connection, order_id: int) -> None:
    """Hold the (wallet, token) of a live order's fills (:func:`lock`) until the transaction
    ends; the first statement of a transaction booking its fills or their reversals, so a
    squaring of the token (its check made, its positions not yet read) is waited for, never
    overtaken. Paper (no wallet): nothing."""
    row = await conn.fetchrow(_ORDER_KEY, order_id)
    if row is not None:
        await lock(conn, row["wallet"], int(row["token_id"]))


async def lock_position(conn: asyncpg.Connection, position_id: int) -> None:
    """Hold the (wallet, token) of a live position (:func:`lock`) until the transaction ends:
    taken by a settlement that closes it or reopens it, which moves the books as a fill does.
    Paper: nothing."""
    for row in await conn.fetch(_POSITION_KEYS, position_id):
        await lock(conn, row["wallet"], int(row["token_id"]))


async def books(conn: asyncpg.Connection, wallet: str | None, token_id: int) -> Decimal:
    """Every strategy's open live shares of the token on ``wallet`` (None: on any)."""
    found = await conn.fetchval(_BOOKS, wallet and wallet.lower(), Decimal(token_id))
    return Decimal(found)


async def shares_on_the_way(
    conn: asyncpg.Connection, wallet: str | None, token_id: int, now: datetime
) -> bool:
    """Whether shares of ours may reach or leave ``wallet`` (None: any) apart from the books: a
    live order of the token resting, on its way or in doubt, or closed with shares matched that
    its fills do not hold yet (their trades not listed) while its late fills are asked for
    (``now`` the executor's clock, the limits' rule), or a BUY's trade not mined."""
    found = await conn.fetchval(
        _SHARES_ON_THE_WAY, wallet and wallet.lower(), Decimal(token_id), now
    )
    return bool(found)


async def sold_unmined(conn: asyncpg.Connection, wallet: str | None, token_id: int) -> bool:
    """Whether a SELL of ours of the token on ``wallet`` (None: any) is booked and its trade not
    mined: the wallet may hold its shares beyond the books."""
    found = await conn.fetchval(_SOLD_UNMINED, wallet and wallet.lower(), Decimal(token_id))
    return bool(found)


async def positions(conn: asyncpg.Connection, wallet: str, token_id: int) -> list[asyncpg.Record]:
    """Every strategy's open live position of the token on ``wallet`` (locked till the
    transaction ends)."""
    return list(await conn.fetch(_POSITIONS, wallet.lower(), Decimal(token_id)))


async def insert_move(
    conn: asyncpg.Connection,
    *,
    position_id: int,
    strategy: str,
    token_id: int,
    shares: Decimal,
    cost: Decimal,
    books: Decimal,
    wallet: Decimal,
    after_fill_id: int,
) -> None:
    await conn.execute(
        _INSERT, position_id, strategy, Decimal(token_id), shares, cost, books, wallet,
        after_fill_id,
    )  # fmt: skip


class WalletMove(NamedTuple):
    """Shares of a position that left the wallet, after its fill ``after_fill_id``."""

    after_fill_id: int
    shares: Decimal
    at: datetime

    @property
    def fill(self) -> Fill:
        """The move as the accounting books it: a sale of the shares for nothing."""
        return Fill(side="SELL", shares=self.shares, usdc=Decimal(0), timestamp=self.at)


def with_moves(fills: Sequence[tuple[int, Fill]], moves: Sequence[WalletMove]) -> list[Fill]:
    """``fills`` (by id, in the order booked) with each move after its fill."""
    out: list[Fill] = []
    pending = sorted(moves, key=lambda m: m.after_fill_id)
    for fill_id, fill in fills:
        while pending and pending[0].after_fill_id < fill_id:
            out.append(pending.pop(0).fill)
        out.append(fill)
    return out + [m.fill for m in pending]


async def position_moves(conn: asyncpg.Connection, position_id: int) -> list[WalletMove]:
    """The position's shares that left the wallet, in the order booked (not those undone)."""
    rows = await conn.fetch(
        "SELECT after_fill_id, shares, created_at FROM orderflow_wallet_moves"
        " WHERE position_id = $1 AND undone_at IS NULL ORDER BY id",
        position_id,
    )
    return [WalletMove(int(r["after_fill_id"]), r["shares"], r["created_at"]) for r in rows]


async def exiting(conn: asyncpg.Connection, strategy: str, tokens: Collection[int]) -> set[int]:
    """Of ``tokens``, those with an exit of the strategy stored and not done."""
    rows = await conn.fetch(_EXITING, strategy, [Decimal(t) for t in tokens])
    return {int(r["token_id"]) for r in rows}


# The audit's schedule (migration 104), one statement: held tokens ($1) not seen before stored as
# read now ($3: due an interval later), tokens no longer held forgotten, and at most $4 of those
# due ($2: read before it) taken, the longest due first, marked read now. (The CTEs see one
# snapshot: a token just stored is not due, a token forgotten is not held.)
_DUE = """
WITH seen AS (INSERT INTO orderflow_wallet_reads (token_id, read_at)
              SELECT t, $3 FROM unnest($1::numeric[]) t ON CONFLICT (token_id) DO NOTHING),
     gone AS (DELETE FROM orderflow_wallet_reads WHERE token_id <> ALL($1::numeric[])),
     due AS (SELECT token_id, read_at FROM orderflow_wallet_reads
              WHERE token_id = ANY($1::numeric[]) AND read_at <= $2
              ORDER BY read_at, token_id LIMIT $4 FOR UPDATE)
UPDATE orderflow_wallet_reads r SET read_at = $3 FROM due WHERE r.token_id = due.token_id
RETURNING r.token_id, due.read_at AS was
"""


# A token's balance read by an exit ($1, at $2): the audit's read of it too — due an interval
# after, whichever read came last (a token not on the schedule yet joins it so).
_READ = """
INSERT INTO orderflow_wallet_reads (token_id, read_at)
SELECT t, $2 FROM unnest($1::numeric[]) t
ON CONFLICT (token_id) DO UPDATE
   SET read_at = GREATEST(orderflow_wallet_reads.read_at, EXCLUDED.read_at)
"""


async def note_reads(conn: asyncpg.Connection, tokens: Collection[int], now: datetime) -> None:
    """The wallet's balance of ``tokens`` was read ``now`` (an exit's read, as fresh as the
    audit's): the audit's next read of each is an interval after it."""
    await conn.execute(_READ, [Decimal(t) for t in tokens], now)


async def due_reads(
    conn: asyncpg.Connection,
    tokens: Collection[int],
    now: datetime,
    interval: timedelta,
    limit: int,
) -> list[int]:
    """Of the held ``tokens``, at most ``limit`` whose balance was last read (or that were first
    seen held) an ``interval`` ago or more, the longest due first; each marked read ``now`` (a
    read that fails waits its turn too). Tokens not held any more are forgotten."""
    held = [Decimal(t) for t in tokens]
    rows = await conn.fetch(_DUE, held, now - interval, now, limit)
    return [int(r["token_id"]) for r in sorted(rows, key=lambda r: (r["was"], r["token_id"]))]


async def undoable(conn: asyncpg.Connection, wallet: str, token_id: int) -> list[asyncpg.Record]:
    """The moves of the token on ``wallet`` a read showing their shares back may undo."""
    return list(await conn.fetch(_UNDOABLE, wallet.lower(), Decimal(token_id)))


async def undo_move(conn: asyncpg.Connection, move_id: int, wallet: Decimal) -> None:
    """Mark the move undone by a read of ``wallet`` shares (left out of its position's replay)."""
    await conn.execute(
        "UPDATE orderflow_wallet_moves SET undone_at = clock_timestamp(), undone_wallet = $2"
        " WHERE id = $1",
        move_id,
        wallet,
    )
