"""P&L since 00:00 UTC, for the daily loss limit (one mode's positions: paper's P&L is not the
live wallet's, :mod:`orderflow.execution.book`) and the performance row (all of them).

``day P&L = (realized + unrealized now) - (realized + unrealized at midnight)`` summed over the
strategy's positions that are open now or were closed since midnight. Realized P&L includes
partial sells; unrealized is marked at the token's tape price (:mod:`orderflow.signals.tape`:
one wash pair's prints cannot set it), or at its payout once its market's resolution is stored
(a position may wait for its settlement: :func:`settle_queries.resolvable_positions`).
Midnight's mark is computed from history, so it needs no process running at midnight: the position's
fills before midnight replayed through :func:`orderflow.accounting.replay` in the order they were
booked (as the position is), marked at the token's tape price before midnight (from
``orderflow_trades``), or its payout if its market resolved before midnight. A position opened today
has a zero mark (its price before midnight is not read). Fills are net of reversals (a trade that
failed on chain never happened). What the fills before midnight leave (realized P&L, shares, cost)
is cached per position, day and version: the number of the position's fills from before midnight and
of its reversals. Fills are only ever added, so the version moves whenever midnight's fills change:
by a reversal, or by a fill from before midnight booked after it (a live fill read late from the
account's trades, a paper fill from a level stored late). The price before midnight is read each
time, as stored now: a trade of the last seconds before midnight may be stored after it (listener
lag). A mark cached whole, per reversal only, kept either out until a restart recomputed it (a quiet
day read +20 in a running executor, 0 after a restart: ``test_daily_loss.py``).

Worked example (docs/executor.md has it too): bought 100 shares at 0.50 yesterday (cost 50),
the tape price at midnight 0.70, so midnight's mark is +20 unrealized. Today 40 shares are sold
at 0.60 (realized +4) and the price is now 0.55 (unrealized on 60 shares: 60 x 0.55 - 30 = +3).
Day P&L = (4 + 3) - (0 + 20) = -13: a loss today, although the position is up since it was
bought. The old formula (lifetime unrealized + realized of positions closed today) said +3.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

import asyncpg

from orderflow.accounting import Fill, replay
from orderflow.execution import position_queries


def _filled_before(instant: str) -> str:
    """SQL: position ``p`` has a fill (net of reversals) from before ``instant``."""
    return f"""EXISTS (SELECT 1 FROM orderflow_net_fills f
                WHERE f.position_id = p.id AND f.filled_at < {instant})"""


def _mark_before(instant: str) -> str:
    """SQL: position ``p``'s mark price as of ``instant`` (:func:`position_queries.mark_price`),
    NULL when it had no fill before it: its value then is zero, its price then is not read (it
    was, per position opened since, per batch today and per past day:
    tests/execution/test_mark_reads.py)."""
    return f"""CASE WHEN {_filled_before(instant)}
            THEN {position_queries.mark_price("p.token_id", instant)} END"""


_POSITIONS = f"""
SELECT p.id, p.status, p.realized_pnl, p.shares, p.cost_basis,
       {position_queries.LAST_PRICE} AS last_price,
       {_mark_before("$2")} AS midnight_price,
       {_filled_before("$2")} AS before_midnight,
       (SELECT count(*) FROM orderflow_fills f
         WHERE f.position_id = p.id AND (f.filled_at < $2 OR f.reverses IS NOT NULL)) AS version
  FROM orderflow_positions p
 WHERE p.strategy = $1 AND (p.status = 'OPEN' OR p.closed_at >= $2)
   AND ($3::text IS NULL OR COALESCE(p.mode, $3) = $3)
"""

# In the order the fills were booked, as the position itself replays them
# (``position_queries.position_fills``): a placement fill is stamped with our clock and a fill
# from the account's trades with the exchange's whole seconds, so ``filled_at`` can put a sell
# before the buy it sold.
# With them, the shares that left the wallet (orderflow.execution.wallet_shares), each a sale
# for nothing after the fill it was booked after, at the time it was booked (until it was
# undone, if it was: migration 105).
_MIDNIGHT_FILLS = """
SELECT position_id, side, shares, usdc, fee, fee_asset, filled_at FROM (
    SELECT position_id, side, shares, usdc, fee, fee_asset, filled_at, id::numeric AS seq
      FROM orderflow_net_fills
     WHERE position_id = ANY($1::bigint[]) AND filled_at < $2
    UNION ALL
    SELECT position_id, 'SELL', shares, 0, 0, 'COLLATERAL', created_at, after_fill_id + 0.5
      FROM orderflow_wallet_moves
     WHERE position_id = ANY($1::bigint[]) AND created_at < $2
       AND (undone_at IS NULL OR undone_at >= $2)) f
 ORDER BY position_id, seq
"""


# A past day's positions (strategy $1, the day from $2 to $3): those not closed before it began
# with a fill before it ended, each marked at its start if it had a fill before it began, and
# at its end if it was still open then (the tape price before the instant, or its payout if its
# market resolved before it): a position closed by then is what it realized, its price then
# is not read (tests/execution/test_mark_reads.py); and what the positions closed before it
# began realized (the equity's base).
_DAY_POSITIONS = f"""
SELECT p.id, p.realized_pnl, c.closed_by_end,
       {_mark_before("$2")} AS start_price,
       CASE WHEN NOT c.closed_by_end
            THEN {position_queries.mark_price("p.token_id", "$3")} END AS end_price
  FROM orderflow_positions p
 CROSS JOIN LATERAL (SELECT COALESCE(p.closed_at < $3, false) AS closed_by_end) c
 WHERE p.strategy = $1 AND (p.closed_at IS NULL OR p.closed_at >= $2)
   AND {_filled_before("$3")}
"""
_CLOSED_BEFORE = """
SELECT COALESCE(sum(realized_pnl), 0) FROM orderflow_positions
 WHERE strategy = $1 AND status = 'CLOSED' AND closed_at < $2
"""


def unrealized_pnl(shares: Decimal, cost: Decimal, last_price: Decimal | None) -> Decimal:
    """An open position marked at ``last_price`` (:func:`position_queries.mark_price`: the
    token's tape price, its payout once resolved; nothing without one): the book's mark
    (:mod:`orderflow.execution.book`), the status's and today's."""
    return Decimal(0) if last_price is None else shares * last_price - cost


@dataclass(frozen=True, slots=True)
class DayPnl:
    realized: Decimal  # realized since midnight (partial sells and settlements included)
    total: Decimal  # realized since midnight + change of unrealized since midnight's mark
    # the open positions' unrealized P&L now (a closed day's: at its end), at the marks
    # ``total`` is made of: the performance row's, whose equity it is part of
    unrealized: Decimal


@dataclass(frozen=True, slots=True)
class ClosedDay:
    """A past day as its end left it: its P&L (:class:`DayPnl`, with the unrealized P&L of the
    positions open at its end) and the strategy's realized P&L to date then (the equity's)."""

    pnl: DayPnl
    realized_to_date: Decimal


@dataclass(frozen=True, slots=True)
class _Midnight:
    """A position as its fills from before midnight left it."""

    realized: Decimal
    shares: Decimal
    cost: Decimal


class DayMarks:
    """Positions at 00:00 UTC (realized P&L, shares, cost) per position, cached per day and
    version of its fills; each is marked at the tape price before midnight as stored now."""

    def __init__(self) -> None:
        self._marks: dict[tuple[int, datetime, int], _Midnight] = {}

    async def day_pnl(
        self, conn: asyncpg.Connection, strategy: str, since: datetime, mode: str | None = None
    ) -> Decimal:
        return (await self.day(conn, strategy, since, mode)).total

    async def day(
        self, conn: asyncpg.Connection, strategy: str, since: datetime, mode: str | None = None
    ) -> DayPnl:
        """The strategy's P&L since ``since``; ``mode``: of that mode's positions only (a
        position not filled yet counts in any), else of all of them (its performance)."""
        rows = await conn.fetch(_POSITIONS, strategy, since, mode)
        missing = {
            int(r["id"]): int(r["version"])
            for r in rows
            if r["before_midnight"] and (int(r["id"]), since, int(r["version"])) not in self._marks
        }
        if missing:
            await self._load(conn, missing, since)
        realized = total = open_value = Decimal(0)
        for r in rows:
            unrealized = (
                unrealized_pnl(r["shares"], r["cost_basis"], r["last_price"])
                if r["status"] == "OPEN"
                else Decimal(0)
            )
            open_value += unrealized
            mid_realized = mid_unrealized = Decimal(0)
            if r["before_midnight"]:
                mid = self._marks[(int(r["id"]), since, int(r["version"]))]
                mid_realized = mid.realized
                if mid.shares > 0:
                    mid_unrealized = unrealized_pnl(mid.shares, mid.cost, r["midnight_price"])
            realized += Decimal(r["realized_pnl"]) - mid_realized
            total += Decimal(r["realized_pnl"]) + unrealized - mid_realized - mid_unrealized
        if len(self._marks) > 100_000:  # yesterday's marks are never read again
            self._marks = {k: v for k, v in self._marks.items() if k[1] == since}
        return DayPnl(realized=realized, total=total, unrealized=open_value)

    async def _load(
        self, conn: asyncpg.Connection, versions: dict[int, int], since: datetime
    ) -> None:
        ids = list(versions)
        fills: dict[int, list[Fill]] = {i: [] for i in ids}
        for r in await conn.fetch(_MIDNIGHT_FILLS, ids, since):
            fills[int(r["position_id"])].append(position_queries.fill_of(r))
        for pid in ids:
            position = replay(fills[pid])
            self._marks[(pid, since, versions[pid])] = _Midnight(
                position.realized_pnl, position.shares, position.cost_basis
            )


async def closed_day(
    conn: asyncpg.Connection, strategy: str, start: datetime, end: datetime
) -> ClosedDay:
    """The strategy's day from ``start`` to ``end`` (a past one, all modes: its performance row)
    from history alone — what ran that day need not have run to its end. Each position's value
    (realized + unrealized) at both ends: its fills before the instant replayed in the order
    they were booked (as :class:`DayMarks` replays midnight's), marked at the tape price before
    it or its payout; a position closed by then is what it realized (a settlement's payout is
    no fill). The day's P&L is the change, ``realized`` the realized part of it."""
    rows = await conn.fetch(_DAY_POSITIONS, strategy, start, end)
    fills: dict[int, list[tuple[datetime, Fill]]] = {int(r["id"]): [] for r in rows}
    for f in await conn.fetch(_MIDNIGHT_FILLS, list(fills), end):
        fills[int(f["position_id"])].append((f["filled_at"], position_queries.fill_of(f)))
    realized = total = unrealized_end = Decimal(0)
    realized_to_date = Decimal(await conn.fetchval(_CLOSED_BEFORE, strategy, start))
    for r in rows:
        pid = int(r["id"])
        before = replay([f for at, f in fills[pid] if at < start])
        start_realized = before.realized_pnl
        start_value = start_realized + unrealized_pnl(
            before.shares, before.cost_basis, r["start_price"]
        )
        if r["closed_by_end"]:
            end_realized = end_value = Decimal(r["realized_pnl"])
        else:
            after = replay([f for _, f in fills[pid]])
            open_value = unrealized_pnl(after.shares, after.cost_basis, r["end_price"])
            end_realized, end_value = after.realized_pnl, after.realized_pnl + open_value
            unrealized_end += open_value
        realized += end_realized - start_realized
        total += end_value - start_value
        realized_to_date += end_realized
    return ClosedDay(DayPnl(realized, total, unrealized_end), realized_to_date)
