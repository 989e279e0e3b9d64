"""Live strategies share one wallet: what every one of them has on it, checked before an order.

An executor's live strategies trade through one set of CLOB credentials, so one funder: one
collateral balance, one set of resting orders. Each strategy's own limits (its cash, Kelly's
bankroll, its exposure and daily loss: :mod:`orderflow.execution.book`) count only its own
positions and orders, so two strategies together could commit more collateral than the wallet
holds, and one could cross another's resting order (a self-trade: fees on both sides, wash volume
on our own wallet — the CLOB does not stop a wallet matching itself, as the listener's data shows)
or buy the outcome another holds (a YES and a NO of one market on one wallet: a pair worth 1
bought for more, a locked loss). Before a live order's intent is stored,
:func:`wallet_refusal` reads the wallet's live orders of every strategy, as the order rows record
them (the signed order's ``maker``: the funder), and its open positions, and refuses:

* any order that would meet one of our live orders (``self_cross``): a BUY at or above our
  resting SELL of the token, a SELL at or below our BUY; across the market's two outcomes (the
  CLOB's unified book mints and merges pairs) a BUY whose price and our resting BUY's of the
  other outcome sum to 1 or more, a SELL whose price and our SELL's of the other outcome sum to
  1 or less. An exit refused so is tried again after its pause, as any exit left open;
* a BUY of an outcome whose complement another strategy holds or has a BUY of on order on the
  wallet (``wallet_other_outcome``; its dust counts: it is held to resolution). The strategy's
  own are its book's (``position_exists``, which lets dust take an entry beside it);
* a BUY whose cost (limit x shares, and the taker fee it pays on top if it takes:
  :func:`buy_cost`) and that of every live BUY of the wallet (remaining size at its limit,
  resting, on its way, in doubt, and the taker fee of one on its way or in doubt, which may
  take; a resting order is a maker's, charged no fee) come to more
  than the collateral the exchange reports the wallet may spend on the exchange that settles
  the order's market (``wallet_collateral``): its balance capped by its allowance to *that*
  exchange (the CTF exchange for a standard market, the neg-risk CTF exchange for a neg-risk
  one: :meth:`~orderflow.execution.broker.Collateral.spendable`) — an allowance the reply does
  not name is taken as 0, and the reason says so. Unredeemed winnings are not in it, a withdrawal
  or another program's spending is. A read that fails (the exchange down, rate limited, an
  answer the SDK refuses) refuses the BUY (``wallet_unread``): fail-closed, nothing is assumed.

The decision sees the wallet too: a live strategy's cash is capped by what the wallet has left
on each entry's exchange (:func:`wallet_cash`, read by ``Trader`` before a batch with entry
candidates), so a stake is cut to it rather than refused here. That read serves the check of
the batch's first entry (:func:`fresh`: at most :data:`REUSE_SECS` old, no live BUY sent
since), so the wallet is read once per entry; the check reads it again otherwise (the
decision's read failed, is older, or a BUY went out since).

The check and the intent it lets through are one transaction under an advisory lock
(:data:`WALLET_LOCK_KEY`), so two executors sharing the wallet (``EXECUTOR_STRATEGIES``) each
see the other's intents. Exits are never refused for collateral (a SELL spends none).
"""

from __future__ import annotations

import time
from collections.abc import Collection, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal

import asyncpg

from orderflow.execution.book import fee_reserved
from orderflow.execution.broker import Collateral, OrderRequest
from orderflow.signals.sizing import taker_fee
from orderflow.signals.views import StrategyBook

WALLET_LOCK_KEY = 0x6F72_6477_616C_6C74  # "ordwallt": one live intent checked at a time

# The decision's read of the wallet serves its first entry's check this long (monotonic
# seconds): one read per entry, not two; an order placed later (behind a queue, a Retry-After,
# another live BUY sent since) reads again.
REUSE_SECS = 5.0

SELF_CROSS = "self_cross"
OTHER_OUTCOME = "wallet_other_outcome"
COLLATERAL = "wallet_collateral"
UNREAD = "wallet_unread"

# The wallet's live orders (every strategy's, resting, on their way or in doubt) in the order's
# token and its market's other outcome(s): through the open orders' partial index.
_ORDERS = """
WITH this AS (SELECT condition_id FROM orderflow_tokens WHERE token_id = $2)
SELECT o.strategy, o.token_id, o.side, o.price, o.shares - o.filled_shares AS remaining
  FROM orderflow_orders o
  LEFT JOIN orderflow_tokens tok ON tok.token_id = o.token_id
 WHERE o.status IN ('INTENT', 'OPEN') AND o.mode = 'live' AND o.shares > o.filled_shares
   AND lower(o.signed_order->>'maker') = lower($1)
   AND (o.token_id = $2
        OR COALESCE(o.market_id, tok.condition_id) = (SELECT condition_id FROM this))
 ORDER BY o.id
"""

# Every live BUY of the wallet: what it reserves (:func:`committed`).
_BUYS = """
SELECT o.status, o.shares - o.filled_shares AS remaining, o.price, o.fee_rate, o.fee_exponent,
       o.may_take
  FROM orderflow_orders o
 WHERE o.status IN ('INTENT', 'OPEN') AND o.mode = 'live' AND o.side = 'BUY'
   AND o.shares > o.filled_shares AND lower(o.signed_order->>'maker') = lower($1)
"""

# Other strategies' open live positions of the wallet in the market's other outcome(s): a
# position is the wallet's when the order of the signal that opened it was signed for it.
_OTHER_HELD = """
WITH this AS (SELECT condition_id FROM orderflow_tokens WHERE token_id = $2)
SELECT p.strategy, p.token_id, p.shares
  FROM orderflow_positions p
  JOIN orderflow_orders o ON o.signal_id = p.signal_id
  LEFT JOIN orderflow_tokens tok ON tok.token_id = p.token_id
 WHERE p.status = 'OPEN' AND p.mode = 'live' AND p.shares > 0 AND p.token_id <> $2
   AND p.strategy <> $3
   AND COALESCE(p.market_id, tok.condition_id) = (SELECT condition_id FROM this)
   AND lower(o.signed_order->>'maker') = lower($1)
 ORDER BY p.id
"""


@dataclass(frozen=True, slots=True)
class Resting:
    """One of the wallet's live orders, as the check reads it."""

    strategy: str
    token_id: int
    side: str
    price: Decimal
    remaining: Decimal


def meets(order: OrderRequest, other: Resting) -> bool:
    """Whether ``order`` would match ``other`` on the CLOB's unified book: in the same token a
    BUY at or above a SELL's limit (a SELL at or below a BUY's); in the market's other outcome
    a BUY whose limit and the other BUY's sum to 1 or more (a pair minted), a SELL whose limit
    and the other SELL's sum to 1 or less (a pair merged)."""
    if other.token_id == order.token_id:
        if other.side == order.side:
            return False
        return order.price >= other.price if order.side == "BUY" else order.price <= other.price
    if other.side != order.side:
        return False  # a BUY of one outcome and a SELL of the other sit on one side
    total = order.price + other.price
    return total >= 1 if order.side == "BUY" else total <= 1


def buy_cost(order: OrderRequest) -> Decimal:
    """What a BUY may take from the wallet: its limit x shares, and the V2 taker fee it pays on
    top when it takes (polymarket.md §3) at the limit, on the schedule it carries (``fee_rate``,
    ``fee_exponent``: the market's, none for a market stating none) — what the decision sized
    the stake with. A fill below the limit pays no more: a share's price and fee together, ``p
    + r (p(1 - p))^e``, grow with ``p`` for any rate below 1 and exponent of 1 or more."""
    fee = taker_fee(order.shares, order.price, order.fee_rate, order.fee_exponent)
    return order.price * order.shares + fee


def _refusal(
    order: OrderRequest,
    resting: Sequence[Resting],
    held: Sequence[asyncpg.Record],
    committed: Decimal,
    collateral: Collateral | None,
) -> str | None:
    for other in resting:
        if meets(order, other):
            return (
                f"{SELF_CROSS}: would meet our {other.side} of token {other.token_id} at "
                f"{other.price.normalize():f} ({other.strategy})"
            )
    if order.side != "BUY":
        return None
    if held:
        return f"{OTHER_OUTCOME}: {held[0]['strategy']} holds token {held[0]['token_id']}"
    for other in resting:
        if other.strategy == order.strategy:
            continue  # the strategy's own: position_exists (dust apart) decided already
        if other.token_id != order.token_id and other.side == "BUY":
            return f"{OTHER_OUTCOME}: {other.strategy} has a BUY of token {other.token_id}"
    cost = buy_cost(order)
    spent = f"{committed.normalize():f} on order + {cost.normalize():f}"
    if collateral is None:
        return f"{COLLATERAL}: {spent} > unknown the exchange reports"
    unknown = collateral.unknown(order.token_id)
    if unknown is not None:  # nothing assumed: an allowance not reported is none
        return f"{COLLATERAL}: {spent} > 0 the wallet may spend: {unknown}"
    free = collateral.spendable(order.token_id)
    if committed + cost > free:
        return f"{COLLATERAL}: {spent} > {free.normalize():f} the exchange reports"
    return None


def fresh(collateral: Collateral, token_id: int, buy_sent_at: float) -> bool:
    """Whether ``collateral`` (a decision's read) may serve the check of a BUY of ``token_id``
    now: naming the token's exchange, read at most :data:`REUSE_SECS` ago and after the last
    live BUY sent (``buy_sent_at``, monotonic: a fill at its placement moved the balance)."""
    if token_id not in collateral.exchanges or collateral.read_at <= buy_sent_at:
        return False
    return time.monotonic() - collateral.read_at <= REUSE_SECS


async def _committed(conn: asyncpg.Connection, maker: str) -> Decimal:
    """What every live BUY of the wallet ``maker`` reserves: its remaining size at its limit,
    and the taker fee it may still pay when it is on its way, in doubt or its matching held by
    the exchange (a resting one is a maker's: :func:`~orderflow.execution.book.fee_reserved`)."""
    return sum(
        (
            r["remaining"]
            * (
                r["price"]
                + fee_reserved(
                    "live",
                    r["status"],
                    r["price"],
                    r["fee_rate"],
                    r["fee_exponent"],
                    may_take=r["may_take"],
                )
            )
            for r in await conn.fetch(_BUYS, maker)
        ),
        Decimal(0),
    )


async def wallet_refusal(
    conn: asyncpg.Connection, order: OrderRequest, maker: str, collateral: Collateral | None
) -> str | None:
    """Why the wallet ``maker`` must not take ``order`` now (None: it may), given what the
    exchange reported of the wallet (a BUY's: its balance and its allowance to the exchange
    that settles the order's market; ignored for a SELL). Call it in the transaction that
    stores the order's intent: it takes the wallet's lock, held until that commits."""
    await conn.execute("SELECT pg_advisory_xact_lock($1)", WALLET_LOCK_KEY)
    token = Decimal(order.token_id)
    resting = [
        Resting(r["strategy"], int(r["token_id"]), r["side"], r["price"], r["remaining"])
        for r in await conn.fetch(_ORDERS, maker, token)
    ]
    held: list[asyncpg.Record] = []
    committed = Decimal(0)
    if order.side == "BUY":
        held = list(await conn.fetch(_OTHER_HELD, maker, token, order.strategy))
        committed = await _committed(conn, maker)
    return _refusal(order, resting, held, committed, collateral)


async def wallet_cash(
    conn: asyncpg.Connection,
    collateral: Collateral,
    on_the_way: Decimal,
    token_ids: Collection[int],
) -> dict[int, Decimal]:
    """What the wallet has left for a new BUY of each of ``token_ids``: what it may spend on
    the token's exchange (:meth:`~orderflow.execution.broker.Collateral.spendable`: its
    balance capped by its allowance to the exchange that settles the token's market), less
    every live BUY of it stored (remaining size at its limit, every strategy's, whichever
    exchange: never more than is left) and ``on_the_way`` (entries accepted and not stored
    yet; one stored meanwhile counts twice, for a moment: never less). A token whose allowance
    is not known is left out: its BUY is refused by the order's check, which says why. A live
    strategy's cash is capped by it (``Trader``), so a stake is cut to what the wallet can pay
    on that exchange, not refused at the order."""
    committed = await _committed(conn, collateral.wallet)
    return {
        token: max(Decimal(0), collateral.spendable(token) - committed - on_the_way)
        for token in token_ids
        if collateral.unknown(token) is None
    }


def capped(book: StrategyBook, left: Decimal) -> StrategyBook:
    """``book`` with its cash capped by what the wallet has ``left`` for an entry."""
    left = max(Decimal(0), left)
    return replace(book, cash=left if book.cash is None else min(book.cash, left))
