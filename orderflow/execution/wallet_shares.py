"""Live exits against the wallet's shares: the books squared with what the wallet holds.

The executor's books (its fills) say how many shares a live position holds; the wallet may hold
fewer — shares transferred away, merged with the other outcome into collateral, redeemed on the
site, none of it through the executor. An exit of the whole position is then refused (``not
enough balance / allowance``), again and again, and the shares still held are never sold.

So before a live exit is decided (the leader's sell, and every try again after one was refused
or cancelled: maintenance's late exits), the trading loop reads the wallet's balance of the
token (``GET /balance-allowance?asset_type=CONDITIONAL&token_id=``: :func:`exit_reads`, one
request per token exited, outside the decision lock; a balance short of the books is read again
after asking the exchange to refresh it from the chain, ``GET /balance-allowance/update``: the
CLOB caches balances, and the SDK's own recovery asks so) and, under the lock, squares the books
with it (:func:`square`): when every live strategy's open positions of the token on that wallet
hold more than the wallet does, and none of the shortfall can be ours on its way (a live order
of the token resting, on its way or in doubt, or closed with a match its trades do not list yet,
or a BUY's trade not settled on chain — neither just before the read nor at the squaring, and
the books unchanged since the read: :class:`SharesRead`), the shortfall is taken out of every
live strategy's position of the token on the wallet, pro rata of the shares each holds
(:func:`pro_rata`: the balance does not say whose shares left; until 7 Dec 2026 the strategy
squaring bore it all, up to its position), as a recorded move each (``orderflow_wallet_moves``,
migration 096), in one transaction under a lock of the wallet and token: read again by the next
squaring, which then finds no shortfall (booked once, whatever restarts in between). Every
booking of a live fill or reversal takes that lock first too
(:func:`~orderflow.execution.wallet_share_queries.lock_order`): none lands between the
squaring's check and its writes. The exit then sells what the books hold, no more than the
wallet has. Held positions are read too, on a slow schedule, whether or not they are exited
(:mod:`orderflow.execution.wallet_audit`: maintenance, each held token once an hour).

A move is booked as a sale of the shares for nothing (:class:`~orderflow.execution.
wallet_share_queries.WalletMove`, replayed with the position's fills after the last one booked
before it): their basis (average cost, fees in) is realized as a loss, and recorded apart as the
move's ``cost`` (``orderflow strategy status`` reports it; docs/executor.md "Shares that left the
wallet"). What the shares fetched is not the executor's to know (a merge paid 1 per pair and a
redemption the payout into the wallet's collateral, a transfer nothing): counted at nothing, the
strategy's P&L, cash, equity and daily loss never count on money it cannot see.

A fresh read showing the wallet holding, beyond the books, every share of a move (booked on a
wrong balance: stale after the refresh, a chain read behind) undoes it (:func:`_undo`,
migration 105): the position replayed without it, open again; shares back in part, or with no
move, are not told apart from shares from elsewhere and book nothing; and no move is undone
while a sale of ours is not mined (its shares still on chain: :attr:`SharesRead.selling`).

A read that fails (an error, a timeout) squares nothing: the exit sells the books, as before,
and the exchange's refusal takes its usual course (tried again, then hourly). Paper has no
wallet: nothing is read.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Collection, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime
from decimal import ROUND_DOWN, Decimal
from typing import NamedTuple

import asyncpg

from orderflow.errors import ExecutionError
from orderflow.execution import position_queries, wallet_share_queries
from orderflow.execution.broker import Mode, WalletShares
from orderflow.execution.orders import OrderDesk
from orderflow.execution.positions import load_position, restate_position, restate_signal_pnl
from orderflow.signals.views import TradeView

log = logging.getLogger(__name__)

# A position's close reason once every share it held has left the wallet.
LEFT_WALLET = "left_wallet"
QUANTUM = Decimal("0.000001")  # shares are kept to 6 decimals (the usdc domain)


async def exit_tokens(
    conn: asyncpg.Connection,
    strategy: str,
    sells: Collection[TradeView],
    held: Mapping[int, tuple[str | None, Mode]],
    on_the_way: Collection[int],
) -> set[int]:
    """The tokens of ``sells`` that would exit a live position of the strategy: sold by the
    wallet the position followed in (``held``: :func:`~orderflow.execution.book.held_modes`),
    with no exit of it on its way (``on_the_way``) nor stored and not done — a leader's sells
    while an exit rests read nothing."""
    tokens = {
        t.token_id for t in sells if t.token_id in held and held[t.token_id] == (t.wallet, "live")
    } - set(on_the_way)
    if not tokens:
        return tokens
    return tokens - await wallet_share_queries.exiting(conn, strategy, tokens)


async def read_shares(
    desk: OrderDesk, tokens: Collection[int], *, refresh: bool = False
) -> dict[int, WalletShares]:
    """The wallet's balance of each of ``tokens`` as the live broker's exchange reports it
    (each read within the desk's ``call_timeout``; ``refresh``: read again from the chain
    first); a token whose read fails (or answers nothing: no wallet) is left out — its books
    are not squared."""
    found: dict[int, WalletShares] = {}
    broker = desk.brokers.get("live")
    if broker is None:
        return found
    for token in sorted(tokens):
        try:
            async with asyncio.timeout(desk.call_timeout):
                shares = await broker.wallet_shares(token, refresh=refresh)
        except (ExecutionError, TimeoutError) as exc:
            log.warning(
                "wallet's shares not read; the exit sells the books",
                extra={"token_id": str(token), "error": str(exc) or type(exc).__name__},
            )
            continue
        if shares is not None:
            found[token] = shares
    return found


class SharesRead(NamedTuple):
    """A balance read (:class:`~orderflow.execution.broker.WalletShares`' fields) with the books
    as of it: every wallet's live books of the token and whether shares of ours were on their
    way (:func:`~orderflow.execution.wallet_share_queries.shares_on_the_way`), both taken just
    before the read. The squaring compares like with like: the books moved since, or ours on
    their way then, it squares nothing."""

    wallet: str
    token_id: int
    shares: Decimal
    books: Decimal
    moving: bool
    selling: bool  # a sale of ours not mined: shares beyond the books undo no move
    at: datetime  # the executor's clock the books were taken at (the late-fill window's now)


class BooksBefore(NamedTuple):
    """The books of a token (every wallet's), whether shares of ours are on their way, and
    whether a sale of ours is not mined yet (:func:`books_before`), as of ``at``."""

    books: Decimal
    moving: bool
    selling: bool
    at: datetime


async def books_before(conn: asyncpg.Connection, token_id: int, now: datetime) -> BooksBefore:
    """The books of a token (every wallet's), whether shares of ours are on their way, and
    whether a sale of ours is booked but not mined, as a read about to be made will be compared
    with them; ``now`` is the executor's clock (the late-fill window of an order closed with
    shares matched but not listed ends on it, as in the limits: one clock for both)."""
    return BooksBefore(
        await wallet_share_queries.books(conn, None, token_id),
        await wallet_share_queries.shares_on_the_way(conn, None, token_id, now),
        await wallet_share_queries.sold_unmined(conn, None, token_id),
        now,
    )


async def exit_reads(
    connection: Callable[[], AbstractAsyncContextManager[asyncpg.Connection]],
    desk: OrderDesk,
    tokens: Collection[int],
) -> dict[int, SharesRead]:
    """The wallet's balance of each token a live exit may sell (:func:`read_shares`), outside
    the decision lock, with the books as of it (:func:`books_before`, taken before the read);
    one that falls short of the books read again after the exchange was asked to refresh it
    from the chain (it caches balances), and left out unless that read answers — a shortfall
    is booked only on a fresh read. Each read that answered is the token's audit read too
    (``orderflow_wallet_reads``: the audit reads it an interval later, not sooner)."""
    if desk.brokers.get("live") is None or not tokens:
        return {}
    async with connection() as conn:
        now = desk.clock()
        before = {token: await books_before(conn, token, now) for token in tokens}
    reads = await read_shares(desk, tokens)
    if not reads:
        return {}
    async with connection() as conn:
        # The audit's read of these tokens too (orderflow.execution.wallet_audit): not read
        # again within its interval.
        await wallet_share_queries.note_reads(conn, reads, desk.clock())
        short = {t for t, read in reads.items() if await _may_square(conn, read, before[t])}
    if short:
        fresh = await read_shares(desk, short, refresh=True)
        reads = {t: r for t, r in reads.items() if t not in short} | fresh
    return {t: SharesRead(r.wallet, t, r.shares, *before[t]) for t, r in reads.items()}


def pro_rata(short: Decimal, held: Sequence[Decimal]) -> list[Decimal]:
    """``short`` shared among positions holding ``held`` in proportion, to :data:`QUANTUM`:
    the parts add up to ``short`` (at most all held), the remainder to the largest fractions
    (the first of equals), none above its position."""
    total = sum(held, Decimal(0))
    short = min(short, total)
    if short <= 0:
        return [Decimal(0)] * len(held)
    exact = [short * h / total for h in held]
    floors = (e.quantize(QUANTUM, rounding=ROUND_DOWN) for e in exact)
    parts = [min(f, h) for f, h in zip(floors, held, strict=True)]
    by_fraction = sorted(range(len(held)), key=lambda i: (parts[i] - exact[i], i))
    left = int((short - sum(parts)) / QUANTUM)
    for i in by_fraction[:left]:
        parts[i] += QUANTUM
    return parts


async def _may_square(conn: asyncpg.Connection, read: WalletShares, before: BooksBefore) -> bool:
    """Whether the read would book something: short of the books, or beyond them with a move to
    undo and no sale of ours unmined (read again fresh before either)."""
    books = await wallet_share_queries.books(conn, read.wallet, read.token_id)
    if books == read.shares:
        return False
    return books > read.shares or (
        not before.selling
        and bool(await wallet_share_queries.undoable(conn, read.wallet, read.token_id))
    )


async def square(conn: asyncpg.Connection, found: Mapping[int, SharesRead]) -> dict[int, Decimal]:
    """Square the live positions of ``found``'s tokens with the wallet's balance (each token in
    a transaction of its own); returns the shares moved out, by token."""
    moved: dict[int, Decimal] = {}
    for token, read in sorted(found.items()):
        async with conn.transaction():
            shares = await _square_one(conn, read)
        if shares:
            moved[token] = shares
    return moved


async def _square_one(conn: asyncpg.Connection, read: SharesRead) -> Decimal:
    """The shortfall of the wallet's read below the books, shared pro rata among every
    strategy's positions of the token on the wallet (:func:`pro_rata`): the balance does not
    say whose shares left."""
    token = read.token_id
    await wallet_share_queries.lock(conn, read.wallet, token)
    now = await books_before(conn, token, read.at)  # the window as of the read
    if read.moving or (now.books, now.moving) != (read.books, False):
        return Decimal(0)  # not the books the wallet was read against: the next read squares
    rows = [r for r in await wallet_share_queries.positions(conn, read.wallet, token)
            if r["last_fill"] is not None]  # fmt: skip
    books = sum((r["shares"] for r in rows), Decimal(0))
    if books < read.shares:
        if read.selling or now.selling:  # our sale's shares, still on chain: no move is back
            return Decimal(0)
        return -await _undo(conn, read, read.shares - books)
    parts = pro_rata(books - read.shares, [r["shares"] for r in rows])
    for row, take in zip(rows, parts, strict=True):
        if take > 0:
            await _move(conn, row, take, books, read)
    return sum(parts, Decimal(0))


async def _move(
    conn: asyncpg.Connection, row: asyncpg.Record, take: Decimal, books: Decimal, read: SharesRead
) -> None:
    """Book ``take`` shares of the position ``row`` as gone from the wallet: a move, sold for
    nothing."""
    position_id, strategy, token = int(row["id"]), row["strategy"], read.token_id
    position = await load_position(conn, position_id)
    move = wallet_share_queries.WalletMove(int(row["last_fill"]), take, datetime.now(UTC))
    basis = position.cost_basis
    position.apply(move.fill)  # a sale for nothing: its basis realized as a loss
    cost = basis - position.cost_basis
    await wallet_share_queries.insert_move(
        conn, position_id=position_id, strategy=strategy, token_id=token, shares=take,
        cost=cost, books=books, wallet=read.shares, after_fill_id=int(row["last_fill"]),
    )  # fmt: skip
    gone = position.shares == 0
    await position_queries.store_position(
        conn,
        position_id,
        position,
        mark_price=row["mark_price"],
        close_reason=LEFT_WALLET if gone else None,
    )
    if gone:  # closed: the owning signal carries what it realized
        await restate_signal_pnl(conn, row["signal_id"])
    log.error(
        "shares of a live position left the wallet outside the executor; books squared",
        extra={"strategy": strategy, "position_id": position_id, "token_id": str(token),
               "shares": str(take), "cost": str(cost), "books": str(books),
               "wallet_shares": str(read.shares)},
    )  # fmt: skip


async def _undo(conn: asyncpg.Connection, read: SharesRead, back: Decimal) -> Decimal:
    """Undo the newest moves of the token on the wallet whose shares are all among the ``back``
    the wallet holds beyond the books (a move booked on a wrong balance: stale after the
    refresh, a chain read behind): each left out of its position's replay, the position
    restated (open again if the move closed it). Returns the shares put back. Shares back in
    part of a move, or with no move to undo, are not told apart from shares from elsewhere:
    nothing is booked."""
    undone = Decimal(0)
    for row in await wallet_share_queries.undoable(conn, read.wallet, read.token_id):
        if row["shares"] > back - undone:
            continue
        await wallet_share_queries.undo_move(conn, int(row["id"]), read.shares)
        await restate_position(conn, int(row["position_id"]))
        undone += row["shares"]
        log.warning(
            "shares booked as left the wallet are back in it; their move undone",
            extra={"strategy": row["strategy"], "position_id": int(row["position_id"]),
                   "token_id": str(read.token_id), "shares": str(row["shares"]),
                   "wallet_shares": str(read.shares)},
        )  # fmt: skip
    return undone
