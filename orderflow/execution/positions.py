"""Positions from our own fills, through the one accounting implementation.

A position's numbers are never updated incrementally in SQL: every change replays the
position's fills (``orderflow_fills``) through :func:`orderflow.accounting.replay`, settled at the
market's payout when it resolves, and stores the result. The same code that scores wallets
therefore books the executor's P&L.

A settlement rests on the resolution stored at that moment, which the chain can take back (a
reorg's rollback, a file's retraction: :mod:`orderflow.chain.rollback`; a market handed back to
Gamma's resolution): :func:`unsettle_stale` reopens a position whose token's stored payout is
gone or another, and :func:`settle_resolved` settles it again once a resolution is stored.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal

import asyncpg

from orderflow.accounting import Position, replay
from orderflow.execution import (
    position_queries,
    settle_queries,
    trade_queries,
    wallet_share_queries,
)
from orderflow.execution.broker import FillReport
from orderflow.execution.wallet_share_queries import WalletMove

log = logging.getLogger(__name__)


def _replay(rows: list[asyncpg.Record], moves: Sequence[WalletMove] = ()) -> Position:
    """The fills ``rows`` replayed, each of the position's shares that left the wallet
    (``moves``: :mod:`orderflow.execution.wallet_shares`) sold for nothing after its fill."""
    fills = [position_queries.fill_of(r) for r in rows]
    if moves:
        ids = [int(r["id"]) for r in rows]
        fills = wallet_share_queries.with_moves(list(zip(ids, fills, strict=True)), moves)
    return replay(fills)


async def load_position(conn: asyncpg.Connection, position_id: int) -> Position:
    fills = await position_queries.position_fills(conn, position_id)
    return _replay(fills, await wallet_share_queries.position_moves(conn, position_id))


async def _parts(
    conn: asyncpg.Connection, position_id: int, fills: list[asyncpg.Record]
) -> tuple[list[tuple[int | None, Decimal]], Decimal | None]:
    """Each earlier owner of a position taken over (dust taking a new entry) with what its own
    part realized — the position's fills up to its takeover, replayed net of their reversals,
    less the parts before it — and the total handed over (None: never taken over)."""
    parts: list[tuple[int | None, Decimal]] = []
    before = None
    for handover in await position_queries.handovers(conn, position_id):
        upto = int(handover["upto_fill_id"])
        realized = _replay([f for f in fills if int(f["id"]) <= upto]).realized_pnl
        owner = handover["signal_id"]
        parts.append((None if owner is None else int(owner), realized - (before or Decimal(0))))
        before = realized
    return parts, before


async def restate_signal_pnl(conn: asyncpg.Connection, signal_id: int | None) -> None:
    """A signal's P&L, all its positions made: each closed position it owns (less what earlier
    owners' parts of it were) and its part of each position a later entry took over from it;
    none while it has neither (its positions open, or every fill of them reversed). The one
    place a signal's P&L is written: every close, settlement, takeover and reversal restates
    it whole."""
    if signal_id is None:
        return
    closed = await position_queries.closed_pnl(conn, signal_id)
    parts: list[Decimal] = []
    for position_id in await position_queries.handed_over_by(conn, signal_id):
        fills = await position_queries.position_fills(conn, position_id)
        held, _ = await _parts(conn, position_id, fills)
        parts += [part for owner, part in held if owner == signal_id]
    pnl = None if closed is None and not parts else (closed or Decimal(0)) + sum(parts, Decimal(0))
    await position_queries.store_signal_pnl(conn, signal_id, pnl)


async def _restate_handovers(
    conn: asyncpg.Connection, position_id: int, fills: list[asyncpg.Record]
) -> None:
    """Each earlier owner of a position taken over gets again what its own part realized
    (:func:`_parts`), and the position the total handed over, which its owner's P&L leaves
    out."""
    parts, before = await _parts(conn, position_id, fills)
    if before is None:
        return
    await position_queries.set_handed_over(conn, position_id, before)
    for owner in dict.fromkeys(owner for owner, _ in parts):
        await restate_signal_pnl(conn, owner)


async def book_fill(
    conn: asyncpg.Connection,
    *,
    order: asyncpg.Record,
    fill: FillReport,
    outcome_index: int | None,
) -> int:
    """Record one fill of an order and re-derive its position; returns the position id."""
    position_id, handed_from = await position_queries.open_position_for(
        conn,
        strategy=order["strategy"],
        signal_id=order["signal_id"],
        token_id=int(order["token_id"]),
        market_id=order["market_id"],
        outcome_index=outcome_index,
        mode=order["mode"],
        entry=order["side"] == "BUY",
    )
    await position_queries.insert_fill(
        conn,
        order_id=order["id"],
        position_id=position_id,
        strategy=order["strategy"],
        mode=order["mode"],
        token_id=int(order["token_id"]),
        side=order["side"],
        fill=fill,
    )
    position = await load_position(conn, position_id)
    exited = order["side"] == "SELL" and position.shares == 0
    await position_queries.store_position(
        conn, position_id, position, mark_price=fill.price, close_reason="exit" if exited else None
    )
    if exited:  # closed by selling (the leader's exit): the owning signal carries the P&L
        await restate_signal_pnl(conn, await position_queries.owner_of(conn, position_id))
    # taken over by this entry: the earlier signal keeps what the position made while its own
    await restate_signal_pnl(conn, handed_from)
    return position_id


async def restate_position(conn: asyncpg.Connection, position_id: int) -> Position:
    """Re-derive a position after one of its fills was reversed (its trade failed on chain):
    the replay of what is left. No fill left: CLOSED ``trade_failed`` (it never existed); no
    share left: closed by its sells; shares again in a position a sell had closed (the sell
    failed): OPEN again, so the limits and the exit rule see them. A resolved market settles
    the reopened position at the next maintenance tick. A position taken over (dust taking a
    new entry): the earlier owners' parts are restated too, so a reversal of one of their
    fills is theirs, not the new owner's."""
    state = await trade_queries.position_state(conn, position_id)
    fills = await position_queries.position_fills(conn, position_id)
    position = _replay(fills, await wallet_share_queries.position_moves(conn, position_id))
    await _restate_handovers(conn, position_id, fills)
    mark = state["mark_price"]
    if not fills:  # it never existed: nothing of it is its signal's
        await position_queries.store_position(
            conn, position_id, position, close_reason="trade_failed"
        )
    elif position.shares == 0:
        closing = "exit" if state["status"] == "OPEN" else None
        await position_queries.store_position(conn, position_id, position, close_reason=closing)
    else:
        if state["status"] == "CLOSED" and not await trade_queries.reopen_position(
            conn, position_id
        ):
            log.error(
                "a sell failed on chain but its position cannot reopen (another open position "
                "in the token): the shares are held outside the book",
                extra={"position_id": position_id, "shares": str(position.shares)},
            )
        await position_queries.store_position(conn, position_id, position, mark_price=mark)
    # closed, never existed, or open again (no longer in its signal's P&L): its signal's restated
    await restate_signal_pnl(conn, state["signal_id"])
    return position


async def settle_resolved(
    conn: asyncpg.Connection, now: datetime
) -> list[tuple[str, int, Decimal]]:
    """Close every open position whose market resolved, once no order of it may still fill
    (``now``: the executor's clock; a closed order's late fills are asked for until a complete
    pass read them LATE_FILLS after its close, whatever the outage in between); returns
    (strategy, id, realized P&L). Each on the resolution as it is at its commit
    (:func:`settle_queries.hold_payout`): one a rollback deleted meanwhile is not settled on."""
    settled: list[tuple[str, int, Decimal]] = []
    for row in await settle_queries.resolvable_positions(conn, now):
        if row["payout"] is None:
            continue
        payout = Decimal(row["payout"])
        async with conn.transaction():
            # First: a squaring of the wallet's shares of the token is waited for, not
            # overtaken (the settlement takes the position out of the books it compares).
            await wallet_share_queries.lock_position(conn, row["id"])
            if not await settle_queries.hold_payout(
                conn, row["market_id"], row["outcome_index"], payout
            ):
                continue
            position = await load_position(conn, row["id"])
            position.settle(payout)
            await position_queries.store_position(
                conn, row["id"], position, close_reason="resolved"
            )
            await settle_queries.settled_in(conn, row["id"], row["market_id"])
            await restate_signal_pnl(conn, row["signal_id"])
        log.info(
            "position settled",
            extra={
                "strategy": row["strategy"],
                "position_id": row["id"],
                "realized_pnl": str(position.realized_pnl),
            },
        )
        settled.append((row["strategy"], row["id"], position.realized_pnl))
    return settled


async def unsettle_stale(conn: asyncpg.Connection) -> list[tuple[str, int]]:
    """Undo the settlements whose resolution is no longer stored as it was (a reorg orphaned
    its block, a file retracted it, its market went back to Gamma's payouts): the markets
    migration 071's trigger queued are taken, and each settled position of theirs whose token's
    payout stored now is another or none is OPEN again with what its fills leave (its shares
    held: a redemption waits until no reorg can take the resolution back), its P&L no longer its
    signal's; :func:`settle_resolved`
    settles it again at the payout stored next. In one transaction with the queue's take, so a
    failure leaves the markets queued. A position whose strategy holds another open position in
    the token (an entry taken after the resolution went) cannot reopen: its market stays queued
    until that one is closed. Returns (strategy, id) of each position reopened."""
    undone: list[tuple[str, int, asyncpg.Record, Position]] = []
    async with conn.transaction():
        markets = await settle_queries.take_markets(conn)
        if not markets:
            return []
        held_back: set[str] = set()
        for row in await settle_queries.stale_settlements(conn, markets):
            await wallet_share_queries.lock_position(conn, row["id"])  # the books it reopens
            if not await settle_queries.reopen_settled(conn, row["id"]):
                held_back.add(str(row["market_id"]))
                continue
            position = await restate_position(conn, row["id"])  # its signal's P&L too
            undone.append((row["strategy"], row["id"], row, position))
        if held_back:
            await settle_queries.requeue_markets(conn, sorted(held_back))
    for strategy, position_id, row, position in undone:
        log.warning(
            "settlement undone: its market's resolution is no longer stored at that payout",
            extra={
                "strategy": strategy,
                "position_id": position_id,
                "settled_payout": str(row["settled_payout"]),
                "payout": None if row["payout"] is None else str(row["payout"]),
                "shares": str(position.shares),
            },
        )
    return [(strategy, position_id) for strategy, position_id, _, _ in undone]
