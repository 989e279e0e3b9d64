"""P&L since 00:00 UTC, for the daily loss limit (one mode's positions: paper's P&L is not the
live wallet's, :mod:`orderflow.execution.book`) and the performance row (all of them).

``day P&L = (realized + unrealized now) - (realized + unrealized at midnight)`` summed over the
strategy's positions that are open now or were closed since midnight. Realized P&L includes
partial sells; unrealized is marked at the token's latest trade price. Midnight's mark is computed
from history, so it needs no process running at midnight: the position's fills before midnight
replayed through :func:`orderflow.accounting.replay` in the order they were booked (as the
position is), marked at the token's last trade price
before midnight (from ``orderflow_trades``, the trade tape). A position opened today has a zero
mark. Fills are net of reversals (a trade that failed on chain never happened). Marks are cached
per position, day and number of reversals (fills before midnight change only by a reversal).

Worked example (docs/executor.md has it too): bought 100 shares at 0.50 yesterday (cost 50),
yesterday's last price 0.70, so midnight's mark is +20 unrealized. Today 40 shares are sold at
0.60 (realized +4) and the price is now 0.55 (unrealized on 60 shares: 60 x 0.55 - 30 = +3).
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

_POSITIONS = """
SELECT p.id, p.status, p.realized_pnl, p.shares, p.cost_basis,
       (SELECT t.price FROM orderflow_trades t WHERE t.token_id = p.token_id
         ORDER BY t.timestamp DESC, t.id DESC LIMIT 1) AS last_price,
       EXISTS (SELECT 1 FROM orderflow_net_fills f
                WHERE f.position_id = p.id AND f.filled_at < $2) AS before_midnight,
       (SELECT count(*) FROM orderflow_fills f
         WHERE f.position_id = p.id AND f.reverses IS NOT NULL) AS reversals
  FROM orderflow_positions p
 WHERE p.strategy = $1 AND (p.status = 'OPEN' OR p.closed_at >= $2)
   AND ($3::text IS NULL OR COALESCE(p.mode, $3) = $3)
"""

# In the order the fills were booked, as the position itself replays them
# (``position_queries.position_fills``): a placement fill is stamped with our clock and a fill
# from the account's trades with the exchange's whole seconds, so ``filled_at`` can put a sell
# before the buy it sold.
_MIDNIGHT_FILLS = """
SELECT position_id, side, shares, usdc, fee, fee_asset, filled_at FROM orderflow_net_fills
 WHERE position_id = ANY($1::bigint[]) AND filled_at < $2 ORDER BY position_id, id
"""

_MIDNIGHT_PRICES = """
SELECT p.id, (SELECT t.price FROM orderflow_trades t
               WHERE t.token_id = p.token_id AND t.timestamp < $2
               ORDER BY t.timestamp DESC, t.id DESC LIMIT 1) AS price
  FROM orderflow_positions p WHERE p.id = ANY($1::bigint[])
"""


def unrealized_pnl(shares: Decimal, cost: Decimal, last_price: Decimal | None) -> Decimal:
    """An open position marked at the token's latest trade price (nothing without one): the
    book's mark (:mod:`orderflow.execution.book`), the status's and today's."""
    return Decimal(0) if last_price is None else shares * last_price - cost


@dataclass(frozen=True, slots=True)
class DayPnl:
    realized: Decimal  # realized since midnight (partial sells and settlements included)
    total: Decimal  # realized since midnight + change of unrealized since midnight's mark


class DayMarks:
    """Midnight marks (realized, unrealized P&L at 00:00 UTC) per position, cached per day."""

    def __init__(self) -> None:
        self._marks: dict[tuple[int, datetime, int], tuple[Decimal, Decimal]] = {}

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
            int(r["id"]): int(r["reversals"])
            for r in rows
            if r["before_midnight"]
            and (int(r["id"]), since, int(r["reversals"])) not in self._marks
        }
        if missing:
            await self._load(conn, missing, since)
        zero = (Decimal(0), Decimal(0))
        realized = total = Decimal(0)
        for r in rows:
            unrealized = (
                unrealized_pnl(r["shares"], r["cost_basis"], r["last_price"])
                if r["status"] == "OPEN"
                else Decimal(0)
            )
            mid_realized, mid_unrealized = (
                self._marks.get((int(r["id"]), since, int(r["reversals"])), zero)
                if r["before_midnight"]
                else zero
            )
            realized += Decimal(r["realized_pnl"]) - mid_realized
            total += Decimal(r["realized_pnl"]) + unrealized - mid_realized - mid_unrealized
        if len(self._marks) > 100_000:  # yesterday's marks are never read again
            self._marks = {k: v for k, v in self._marks.items() if k[1] == since}
        return DayPnl(realized=realized, total=total)

    async def _load(
        self, conn: asyncpg.Connection, versions: dict[int, int], since: datetime
    ) -> None:
        ids = list(versions)
        fills: dict[int, list[Fill]] = {i: [] for i in ids}
        for r in await conn.fetch(_MIDNIGHT_FILLS, ids, since):
            fills[int(r["position_id"])].append(position_queries.fill_of(r))
        prices = {int(r["id"]): r["price"] for r in await conn.fetch(_MIDNIGHT_PRICES, ids, since)}
        for pid in ids:
            position = replay(fills[pid])
            price = prices.get(pid)
            unrealized = Decimal(0)
            if price is not None and position.shares > 0:
                unrealized = position.mark(Decimal(price))
            self._marks[(pid, since, versions[pid])] = (position.realized_pnl, unrealized)
