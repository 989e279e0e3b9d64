"""The paper exchange's state: paper orders resting until revealed depth fills them.

A paper order is accepted (:func:`accept`) and rests like a live GTD order: until it is filled,
cancelled or its expiry passes. What fills it is the book as the chain reveals it — the same model
as the backtest's (:mod:`orderflow.backtest.liquidity`): every maker fill stored with a timestamp
after the order was accepted and up to its expiry is a level that rested until a taker took it,
and the paper order, there first, takes it instead — best price first, each level at its own
price, up to the order's limit, paying the taker fee (:mod:`orderflow.execution.depth`). A BUY of
``X`` meets makers selling ``X`` and makers buying its complement (an ask of ``X`` at ``1 - q``
by minting); a SELL the mirror. A level better than the quote the order was priced from was
posted after the decision — a pre-arranged cross nobody else could hit — and is not offered.

Each :func:`match` pass walks the live orders oldest first, in one transaction under an advisory
lock, and stores what each took (``orderflow_paper_matches``): a level's shares are taken once
across every paper order and every pass, a restart finds them, and an order's fills are the same
rows each time they are read (:func:`fills_of`) — each booked once under its level's key.

Nothing is filled before a maker fill shows the liquidity: an order nobody is seen to meet
within its life expires unfilled, as a live order meeting an empty book does.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

import asyncpg

from orderflow.chain import pruning
from orderflow.execution.broker import ExchangeFill, FillReport, OrderOutcome, OrderRequest
from orderflow.execution.depth import ZERO, Level, LevelKey, paper_fill, plausible, takes
from orderflow.signals.quotes import levels_of
from orderflow.signals.views import Side

# How long after an order's expiry a level stored late may still fill it (the listener's lag; the
# executor closes an expired order 30 s after its expiry: orderflow.execution.settlement).
LATE_LEVELS = timedelta(minutes=2)
# pg_advisory_xact_lock key of the matching pass ('orderflow paper' in ASCII, truncated).
MATCH_LOCK = 0x6F7266_7061706572

_ACCEPT = """
INSERT INTO orderflow_paper_orders (order_key, token_id, side, price, shares, fee_rate, quote,
                                    accepted_at, expires_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
ON CONFLICT (order_key) DO NOTHING
"""

# Orders still able to fill: not cancelled, not filled, and expired less than LATE_LEVELS ago (a
# level stored late, its block older than the order's expiry, is still the order's).
_LIVE = """
SELECT order_key, token_id, side, price, shares, fee_rate, quote, accepted_at, expires_at, filled
  FROM orderflow_paper_orders
 WHERE canceled_at IS NULL AND filled < shares AND accepted_at < $1
   AND expires_at > $1 - $2::interval
 ORDER BY accepted_at, order_key
"""

# The maker fills of a token and of its complement revealed in (after, until]: each a level.
_MAKER_FILLS = f"""
SELECT t.tx_hash, t.log_index, t.timestamp, t.token_id, t.side, t.price, t.size
  FROM orderflow_trades t
 WHERE NOT t.is_taker_aggregate AND t.token_id IN ($1, $2)
   AND t.timestamp > $3 AND t.timestamp <= $4
   AND {pruning.since("$3", "t")} AND {pruning.until("$4", "t")}
"""

_COMPLEMENT = "SELECT complement_token_id FROM orderflow_tokens WHERE token_id = $1"

_CONSUMED = """
SELECT level_tx, level_log, sum(shares) AS shares
  FROM orderflow_paper_matches
 WHERE (level_tx, level_log) IN (SELECT * FROM unnest($1::text[], $2::int[]))
 GROUP BY level_tx, level_log
"""

_MATCH = """
INSERT INTO orderflow_paper_matches (order_key, level_tx, level_log, level_time, price, shares,
                                     usdc, fee)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
ON CONFLICT DO NOTHING
"""

_FILLED = "UPDATE orderflow_paper_orders SET filled = filled + $2 WHERE order_key = $1"

_MATCHES = """
SELECT order_key, level_tx, level_log, level_time, price, shares, usdc, fee
  FROM orderflow_paper_matches
 WHERE order_key = ANY($1::text[]) AND level_time >= $2
 ORDER BY level_time, level_tx, level_log
"""

_ORDER = """
SELECT order_key, shares, filled, expires_at, canceled_at
  FROM orderflow_paper_orders
 WHERE order_key = ANY($1::text[])
 ORDER BY order_key
 LIMIT 1
"""

_CANCEL = """
UPDATE orderflow_paper_orders SET canceled_at = $2
 WHERE order_key = ANY($1::text[]) AND canceled_at IS NULL AND filled < shares
   AND expires_at > $2
RETURNING order_key
"""


@dataclass(frozen=True, slots=True)
class _Live:
    key: str
    token_id: int
    side: Side
    limit: Decimal
    remaining: Decimal
    fee_rate: Decimal
    quote: Decimal
    accepted_at: datetime
    expires_at: datetime


def fill_key(level: LevelKey) -> str:
    """A paper fill's trade id: the maker fill whose level it took."""
    return f"paper:{level[0]}:{level[1]}"


async def accept(
    conn: asyncpg.Connection,
    key: str,
    request: OrderRequest,
    accepted_at: datetime,
    expires_at: datetime,
) -> None:
    """Rest a paper order (a second acceptance of the same key changes nothing)."""
    await conn.execute(
        _ACCEPT,
        key,
        Decimal(request.token_id),
        request.side,
        request.price,
        request.shares,
        request.fee_rate,
        request.observed_price,
        accepted_at,
        expires_at,
    )


async def _levels(
    conn: asyncpg.Connection, order: _Live, until: datetime, complement: int | None
) -> list[Level]:
    rows = await conn.fetch(
        _MAKER_FILLS,
        Decimal(order.token_id),
        None if complement is None else Decimal(complement),
        order.accepted_at,
        until,
    )
    out: list[Level] = []
    for r in rows:
        for token, met, price in levels_of(
            int(r["token_id"]),
            _other(int(r["token_id"]), order.token_id, complement),
            r["side"],
            False,
            r["price"],
        ):
            if token == order.token_id and met == order.side:
                out.append(Level((r["tx_hash"], r["log_index"]), r["timestamp"], price, r["size"]))
    return plausible(out, order.side, order.quote)


def _other(token: int, own: int, complement: int | None) -> int | None:
    """The complement of a fill's token, among the order's token and its complement."""
    return complement if token == own else own


async def _consumed(conn: asyncpg.Connection, levels: Sequence[Level]) -> dict[LevelKey, Decimal]:
    if not levels:
        return {}
    rows = await conn.fetch(_CONSUMED, [lv.key[0] for lv in levels], [lv.key[1] for lv in levels])
    return {(r["level_tx"], r["level_log"]): r["shares"] for r in rows}


async def match(conn: asyncpg.Connection, now: datetime) -> int:
    """Fill the live paper orders from the levels revealed since each was accepted, oldest
    order first; returns the number of levels taken."""
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", MATCH_LOCK)
        return await _match_locked(conn, now)


async def _match_locked(conn: asyncpg.Connection, now: datetime) -> int:
    taken = 0
    complements: dict[int, int | None] = {}
    for r in await conn.fetch(_LIVE, now, LATE_LEVELS):
        order = _Live(
            r["order_key"],
            int(r["token_id"]),
            r["side"],
            r["price"],
            r["shares"] - r["filled"],
            r["fee_rate"],
            r["quote"],
            r["accepted_at"],
            r["expires_at"],
        )
        if order.token_id not in complements:
            found = await conn.fetchval(_COMPLEMENT, Decimal(order.token_id))
            complements[order.token_id] = None if found is None else int(found)
        levels = await _levels(conn, order, min(now, order.expires_at), complements[order.token_id])
        consumed = await _consumed(conn, levels)
        filled = ZERO
        for level, shares in takes(levels, order.side, order.remaining, order.limit, consumed):
            fill = paper_fill(shares, level.price, order.fee_rate, level.time)
            await conn.execute(
                _MATCH,
                order.key,
                level.key[0],
                level.key[1],
                level.time,
                level.price,
                shares,
                fill.usdc,
                fill.fee,
            )
            filled += shares
            taken += 1
        if filled > 0:
            await conn.execute(_FILLED, order.key, filled)
    return taken


async def fills_of(
    conn: asyncpg.Connection, keys: Collection[str], since: datetime
) -> list[ExchangeFill]:
    """What the paper exchange filled of these orders, each level once."""
    rows = await conn.fetch(_MATCHES, list(keys), since)
    return [
        ExchangeFill(
            order_id=r["order_key"],
            fill=FillReport(
                fill_key=fill_key((r["level_tx"], r["level_log"])),
                shares=r["shares"],
                usdc=r["usdc"],
                fee=r["fee"],
                price=r["price"],
                at=r["level_time"],
            ),
        )
        for r in rows
    ]


async def status(
    conn: asyncpg.Connection, keys: Collection[str], now: datetime
) -> OrderOutcome | None:
    """The order as the paper exchange shows it: OPEN while it can still fill, FILLED, or
    CANCELED; None when it never reached the exchange or expired (as the real CLOB forgets an
    order that is done)."""
    r = await conn.fetchrow(_ORDER, list(keys))
    if r is None:
        return None
    key = r["order_key"]
    if r["filled"] >= r["shares"]:
        return OrderOutcome(status="FILLED", exchange_order_id=key, filled_shares=r["filled"])
    if r["canceled_at"] is not None:
        return OrderOutcome(
            status="CANCELED", exchange_order_id=key, reason="canceled", filled_shares=r["filled"]
        )
    if now >= r["expires_at"]:
        return None
    return OrderOutcome(status="OPEN", exchange_order_id=key, filled_shares=r["filled"])


async def cancel(conn: asyncpg.Connection, keys: Collection[str], now: datetime) -> list[str]:
    """Cancel what still rests of these orders, after matching what was revealed before the
    cancel; the keys cancelled (the others were unknown, filled, expired or cancelled)."""
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", MATCH_LOCK)
        await _match_locked(conn, now)
        rows = await conn.fetch(_CANCEL, list(keys), now)
    return [str(r["order_key"]) for r in rows]
