"""The paper exchange's state: paper orders resting until revealed depth fills them.

A paper order is accepted (:func:`accept`) and rests like a live GTD order: until it is filled,
cancelled, its expiry passes or its market resolves (the real CLOB cancels what rests on a
resolved market). What fills it is the book as the chain reveals it — the same model
as the backtest's (:mod:`orderflow.backtest.liquidity`): every maker fill stored with a timestamp
after the order was accepted and up to its expiry is a level that rested until a taker took it,
and the paper order, there first, takes it instead — best price first, each level at its own
price, up to the order's limit, paying the taker fee. A BUY of ``X`` meets makers selling ``X``
and makers buying its complement (an ask of ``X`` at ``1 - q`` by minting); a SELL the mirror.
A level better than the quote the order was priced from was posted after the decision, and the
flow the chain reveals beyond the order's limit while it rests (a seller hitting a bid below a
BUY's limit, an ask posted below it) met the resting order first: it fills the order at its
limit, as maker, without fee — the one rule of :func:`orderflow.execution.depth.fill_resting`,
the backtest's too.

Each :func:`match` pass walks the live orders oldest first, in one transaction under an advisory
lock, and stores what each took (``orderflow_paper_matches``): a level's shares are taken once
across every paper order and every pass, a restart finds them, and an order's fills are the same
rows each time they are read (:func:`fills_of`) — each booked once under its level's key.

A match whose level a reorg took away is reversed (:mod:`orderflow.execution.paper_trades`):
it no longer fills its order, whose filled amount goes down.

Nothing is filled before a maker fill shows the liquidity: an order nobody is seen to meet
within its life expires unfilled, as a live order meeting an empty book does.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

import asyncpg

from orderflow.chain import pruning
from orderflow.execution.broker import ExchangeFill, FillReport, OrderOutcome, OrderRequest
from orderflow.execution.depth import ZERO, Level, LevelKey, fill_resting
from orderflow.execution.settlement import LATE_FILLS
from orderflow.signals.quotes import levels_of
from orderflow.signals.views import Side

# pg_advisory_xact_lock key of the matching pass ('orderflow paper' in ASCII, truncated).
MATCH_LOCK = 0x6F7266_7061706572
PAPER_TRADE = "paper:"  # a paper fill's trade id: paper:<tx>:<log index> of the level it took

_ACCEPT = """
INSERT INTO orderflow_paper_orders (order_key, token_id, side, price, shares, fee_rate, quote,
                                    accepted_at, expires_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
ON CONFLICT (order_key) DO NOTHING
"""

# When the order's market resolved (NULL: no resolution stored): the real CLOB cancels what
# rests on a market at its resolution (CANCELED_MARKET_RESOLVED), and so does the paper exchange.
_RESOLVED_AT = """(SELECT r.resolved_at FROM orderflow_tokens tok
                    JOIN orderflow_market_outcomes r ON r.market_id = tok.condition_id
                   WHERE tok.token_id = o.token_id)"""

# Orders still able to fill: not filled, and closed — expired, cancelled or their market
# resolved, whichever came first — less than LATE_FILLS before paper's fill watermark (the start
# of the last complete reconciliation pass, or now when later: orderflow.execution.
# fill_watermark): a level stored late (listener lag, a backfill after downtime), its block older
# than the close, is still the order's, as long as the desk asks for an order's late fills
# (orderflow.execution.settlement; it books a cancelled order's fills from before the cancel
# too). From the watermark, not from now: an order that met a level while the executor was down
# for longer than LATE_FILLS, and expired meanwhile, is matched at the restart — the exchange
# would have filled it (it was closed unfilled). The inner filter, by expiry or cancel, is the
# one migration 043 indexes (the bound is evaluated once).
_SINCE = """(LEAST($1, (SELECT w.complete_at FROM orderflow_fill_watermarks w
                          WHERE w.mode = 'paper')) - $2::interval)"""
_LIVE = f"""
SELECT order_key, token_id, side, price, shares, fee_rate, quote, accepted_at, filled, closes_at
  FROM (SELECT o.*, LEAST(o.expires_at, o.canceled_at, {_RESOLVED_AT}) AS closes_at
          FROM orderflow_paper_orders o
         WHERE o.filled < o.shares AND o.accepted_at < $1
           AND LEAST(o.expires_at, o.canceled_at) > {_SINCE}) o
 WHERE closes_at > {_SINCE}
 ORDER BY accepted_at, order_key
"""

# Every live order's levels in one statement: the maker fills revealed in (after, until] of each
# (order, token) pair given — the order's token and its complement, one pair each, so that each is
# an equality probe of the (token, time) index. The partitions are pruned once, by the bounds of
# every order's window ($5, $6: uncorrelated, so evaluated once rather than per order).
_LEVELS = f"""
SELECT o.key, t.tx_hash, t.log_index, t.block_number, t.timestamp, t.token_id, t.side, t.price,
       t.size
  FROM unnest($1::text[], $2::numeric[], $3::timestamptz[], $4::timestamptz[])
       AS o(key, token, after, until)
  JOIN LATERAL (
       SELECT t.tx_hash, t.log_index, t.block_number, t.timestamp, t.token_id, t.side, t.price,
              t.size
         FROM orderflow_trades t
        WHERE t.token_id = o.token AND t.timestamp > o.after AND t.timestamp <= o.until
          AND NOT t.is_taker_aggregate
          AND {pruning.since("$5::timestamptz", "t")}
          AND {pruning.until("$6::timestamptz", "t")}) t ON true
"""

# A token's complement, when it is one: another token of the same condition (a mapping to the
# token itself or to another market's token would make bids of one book asks of another).
_COMPLEMENTS = """
SELECT t.token_id, t.complement_token_id
  FROM orderflow_tokens t
  JOIN orderflow_tokens c ON c.token_id = t.complement_token_id
 WHERE t.token_id = ANY($1::numeric[]) AND c.token_id <> t.token_id
   AND c.condition_id = t.condition_id
"""

# What earlier passes took of these levels, and which orders took them (an order takes a level
# once: its match is the fill booked under the level's key; an order a reversal reopened does not
# come back for the rest of a level it took part of).
_CONSUMED = """
SELECT level_tx, level_log, sum(shares) AS shares, array_agg(order_key) AS takers
  FROM orderflow_paper_matches
 WHERE (level_tx, level_log) IN (SELECT * FROM unnest($1::text[], $2::int[]))
 GROUP BY level_tx, level_log
"""

# With the level's block (migration 045): whether it is still stored is probed in its partition
# only (orderflow.execution.paper_trades).
_MATCH = """
INSERT INTO orderflow_paper_matches (order_key, level_tx, level_log, level_time, level_block,
                                     price, shares, usdc, fee)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
ON CONFLICT DO NOTHING
"""

_FILLED = "UPDATE orderflow_paper_orders SET filled = filled + $2 WHERE order_key = $1"

_MATCHES = """
SELECT order_key, level_tx, level_log, level_time, price, shares, usdc, fee
  FROM orderflow_paper_matches
 WHERE order_key = ANY($1::text[]) AND level_time >= $2 AND reversed_at IS NULL
 ORDER BY level_time, level_tx, level_log
"""

_ORDER = f"""
SELECT o.order_key, o.shares, o.filled, o.expires_at, o.canceled_at,
       {_RESOLVED_AT} AS resolved_at
  FROM orderflow_paper_orders o
 WHERE o.order_key = ANY($1::text[])
 ORDER BY o.order_key
 LIMIT 1
"""

# The real CLOB's cancel at a market's resolution is off the chain: a reorg that takes the
# resolution back does not make the order rest again. Once shown closed so, the order is
# cancelled as of the resolution (levels up to it still fill it, as for any cancel: ``_LIVE``).
_CLOSE_RESOLVED = """
UPDATE orderflow_paper_orders SET canceled_at = $2 WHERE order_key = $1 AND canceled_at IS NULL
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
    closes_at: datetime  # its expiry, or its cancel when earlier


def fill_key(level: LevelKey) -> str:
    """A paper fill's trade id: the maker fill whose level it took."""
    return f"{PAPER_TRADE}{level[0]}:{level[1]}"


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


def _levels(
    order: _Live, rows: Sequence[asyncpg.Record], complement: int | None
) -> tuple[list[Level], list[Level]]:
    """The levels ``rows`` (maker fills of the order's token and complement) show in the order's
    book: those a taker on the order's side meets, and the others (:func:`depth.fill_resting`)."""
    offers: list[Level] = []
    opposite: list[Level] = []
    for r in rows:
        token = int(r["token_id"])
        other = complement if token == order.token_id else order.token_id
        for book, met, price in levels_of(token, other, r["side"], False, r["price"]):
            if book == order.token_id:
                level = Level((r["tx_hash"], r["log_index"]), r["timestamp"], price, r["size"])
                (offers if met == order.side else opposite).append(level)
    return offers, opposite


async def match(conn: asyncpg.Connection, now: datetime) -> int:
    """Fill the live paper orders from the levels revealed since each was accepted, oldest
    order first; returns the number of levels taken."""
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", MATCH_LOCK)
        return await _match_locked(conn, now)


async def _match_locked(conn: asyncpg.Connection, now: datetime) -> int:
    """One pass in four statements whatever the number of orders: the live orders, their
    tokens' complements, every order's levels, what earlier passes took of those levels; then
    the orders take in turn (``consumed`` carries each one's takings to the next) and what they
    took is stored."""
    orders = [
        _Live(
            r["order_key"],
            int(r["token_id"]),
            r["side"],
            r["price"],
            r["shares"] - r["filled"],
            r["fee_rate"],
            r["quote"],
            r["accepted_at"],
            r["closes_at"],
        )
        for r in await conn.fetch(_LIVE, now, LATE_FILLS)
    ]
    if not orders:
        return 0
    tokens = sorted({o.token_id for o in orders})
    complements: dict[int, int | None] = {t: None for t in tokens}
    for r in await conn.fetch(_COMPLEMENTS, [Decimal(t) for t in tokens]):
        found = r["complement_token_id"]
        complements[int(r["token_id"])] = None if found is None else int(found)
    pairs = [
        (o, token)
        for o in orders
        for token in (o.token_id, complements[o.token_id])
        if token is not None
    ]
    rows: dict[str, list[asyncpg.Record]] = {o.key: [] for o in orders}
    blocks: dict[LevelKey, int] = {}
    for r in await conn.fetch(
        _LEVELS,
        [o.key for o, _ in pairs],
        [Decimal(token) for _, token in pairs],
        [o.accepted_at for o, _ in pairs],
        [min(now, o.closes_at) for o, _ in pairs],
        min(o.accepted_at for o in orders),
        max(min(now, o.closes_at) for o in orders),
    ):
        rows[r["key"]].append(r)
        blocks[(r["tx_hash"], r["log_index"])] = int(r["block_number"])
    levels = {o.key: _levels(o, rows[o.key], complements[o.token_id]) for o in orders}
    keys = sorted({lv.key for both in levels.values() for found in both for lv in found})
    consumed: dict[LevelKey, Decimal] = {}
    taken: set[tuple[str, LevelKey]] = set()
    if keys:
        for r in await conn.fetch(_CONSUMED, [k[0] for k in keys], [k[1] for k in keys]):
            took: LevelKey = (r["level_tx"], r["level_log"])
            consumed[took] = r["shares"]
            taken.update((key, took) for key in r["takers"])
    matches: list[tuple[object, ...]] = []
    filled: list[tuple[str, Decimal]] = []
    for order in orders:
        got = ZERO
        offers, opposite = (
            [lv for lv in found if (order.key, lv.key) not in taken] for found in levels[order.key]
        )
        for take in fill_resting(
            offers, opposite, order.side, order.remaining, order.limit, order.quote, consumed
        ):
            fill = take.report(order.fee_rate, take.level.time)
            matches.append(
                (
                    order.key,
                    *take.level.key,
                    take.level.time,
                    blocks[take.level.key],
                    take.price,
                    take.shares,
                    fill.usdc,
                    fill.fee,
                )
            )
            got += take.shares
        if got > 0:
            filled.append((order.key, got))
    if matches:
        await conn.executemany(_MATCH, matches)
        await conn.executemany(_FILLED, filled)
    return len(matches)


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
    CANCELED (by us, or by its market's resolution: then for good, whatever a reorg does to the
    resolution later); None when it never reached the exchange or expired (as the real CLOB
    forgets an order that is done)."""
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
    if r["resolved_at"] is not None:
        await conn.execute(_CLOSE_RESOLVED, key, r["resolved_at"])
        return OrderOutcome(
            status="CANCELED",
            exchange_order_id=key,
            reason="market_resolved",
            filled_shares=r["filled"],
        )
    return OrderOutcome(status="OPEN", exchange_order_id=key, filled_shares=r["filled"])


async def cancel(conn: asyncpg.Connection, keys: Collection[str], now: datetime) -> list[str]:
    """Cancel what still rests of these orders, after matching what was revealed before the
    cancel (a level stored later, its block before the cancel, still fills it: ``_LIVE``); the
    keys cancelled (the others were unknown, filled, expired or cancelled)."""
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", MATCH_LOCK)
        await _match_locked(conn, now)
        rows = await conn.fetch(_CANCEL, list(keys), now)
    return [str(r["order_key"]) for r in rows]
