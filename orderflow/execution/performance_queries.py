"""The execution stage's SQL for performance: one row per UTC day and strategy."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import asyncpg

from orderflow.execution.daypnl import ClosedDay, DayPnl

_DAY = timedelta(days=1)

# --------------------------------------------------------------------------------------------
# Performance (one row per UTC day and strategy)
# --------------------------------------------------------------------------------------------


# When a closed position ``p`` was closed: by its sale (``exit``), at its last fill — the day its
# realized P&L is the daily P&L's (orderflow.execution.daypnl replays the fills by their time);
# a sale is booked after it is made (the next reconciliation, after an outage hours later), and
# dated by its booking a sale of 23:59:59 was won or lost on the next day, which realized
# nothing. Else (a settlement, every fill reversed) when that was booked.
_CLOSED_WHEN = """CASE WHEN p.close_reason = 'exit'
     THEN (SELECT max(f.filled_at) FROM orderflow_net_fills f WHERE f.position_id = p.id)
     ELSE p.closed_at END"""

# Today's figures of a strategy ($1) for the day starting at $2: positions closed that day by the
# sign of their realized P&L, our fills that day (net of reversals), and all realized P&L to
# date. The performance row is made from them (:func:`upsert_performance_day`); ``orderflow
# strategy status`` reads them (:func:`day_figures`). A close is booked at or after it was
# made: those booked since the day began are the ones that may be its.
_DAY_FIGURES = f"""
WITH closed AS (
    SELECT count(*) FILTER (WHERE p.realized_pnl > 0) AS wins,
           count(*) FILTER (WHERE p.realized_pnl < 0) AS losses
      FROM orderflow_positions p
     CROSS JOIN LATERAL (SELECT {_CLOSED_WHEN} AS at) c
     WHERE p.strategy = $1 AND p.status = 'CLOSED' AND p.closed_at >= $2
       AND c.at >= $2 AND c.at < $2 + interval '1 day'),
traded AS (
    SELECT count(*) AS n FROM orderflow_net_fills
     WHERE strategy = $1 AND filled_at >= $2 AND filled_at < $2 + interval '1 day'),
booked AS (
    SELECT COALESCE(sum(realized_pnl), 0) AS r FROM orderflow_positions
     WHERE strategy = $1)
"""


# A day's row from its figures ($1 strategy, $2 the day's start, $3 bankroll, $4 realized, $5
# total, $6 the unrealized P&L of the positions open now or at the day's end: the marks the
# total is made of, orderflow.execution.daypnl); its equity is its bankroll + all realized to
# date (today as booked, a closed day's $7 at its end) + $6. Its bankroll (migration 091) is
# today's $3; a closed day's row written again keeps the one it was written with (the
# bankroll of its day: a change of ``bankroll_usd`` since is not that day's).
_UPSERT_DAY = (
    _DAY_FIGURES
    + """
INSERT INTO orderflow_performance AS perf (day, strategy, trades, wins, losses, win_rate,
    realized_pnl, unrealized_pnl, total_pnl, equity, bankroll, updated_at)
SELECT ($2 AT TIME ZONE 'UTC')::date, $1, traded.n, closed.wins, closed.losses,
       CASE WHEN closed.wins + closed.losses > 0
            THEN closed.wins::float8 / (closed.wins + closed.losses) END,
       $4, $6::numeric, $5, $3::numeric + {realized} + $6::numeric, $3::numeric, now()
  FROM {figures}
ON CONFLICT (day, strategy) DO UPDATE SET
    trades = EXCLUDED.trades, wins = EXCLUDED.wins, losses = EXCLUDED.losses,
    win_rate = EXCLUDED.win_rate, realized_pnl = EXCLUDED.realized_pnl,
    unrealized_pnl = EXCLUDED.unrealized_pnl, total_pnl = EXCLUDED.total_pnl,
    equity = EXCLUDED.equity - EXCLUDED.bankroll + {bankroll},
    bankroll = {bankroll}, updated_at = now()
"""
)
_UPSERT_TODAY = _UPSERT_DAY.format(
    realized="booked.r", figures="closed, traded, booked", bankroll="EXCLUDED.bankroll"
)
_UPSERT_CLOSED_DAY = _UPSERT_DAY.format(
    realized="$7::numeric",
    figures="closed, traded",
    bankroll="COALESCE(perf.bankroll, EXCLUDED.bankroll)",
)


async def upsert_performance_day(
    conn: asyncpg.Connection, strategy: str, day_start: datetime, bankroll: Decimal, day: DayPnl
) -> None:
    """Today's row from its P&L since 00:00 UTC (:class:`orderflow.execution.daypnl.DayPnl`:
    realized, total, and the open positions' unrealized P&L at the same marks)."""
    await conn.execute(
        _UPSERT_TODAY, strategy, day_start, bankroll, day.realized, day.total, day.unrealized
    )


async def upsert_closed_day(
    conn: asyncpg.Connection, strategy: str, day_start: datetime, bankroll: Decimal, day: ClosedDay
) -> None:
    """A past day's row, as its end left it (:func:`orderflow.execution.daypnl.closed_day`):
    its fills and closed positions counted as today's are, its unrealized P&L and equity those
    of its end. Written after its end (``updated_at``): closed."""
    pnl = day.pnl
    await conn.execute(
        _UPSERT_CLOSED_DAY,
        strategy,
        day_start,
        bankroll,
        pnl.realized,
        pnl.total,
        pnl.unrealized,
        day.realized_to_date,
    )


async def changed_since(conn: asyncpg.Connection, strategy: str) -> datetime | None:
    """Takes the strategy's queued fill changes (migration 078: a fill booked, a reversal, in
    the fill's own transaction) and returns the start of the earliest day they changed (None:
    none). Run in the transaction that closes those days again: rolled back with it, the queue
    is kept; a change not committed yet is not taken, and waits for the next pass."""
    day: date | None = await conn.fetchval(
        "WITH taken AS (DELETE FROM orderflow_fill_changes WHERE strategy = $1 RETURNING day)"
        " SELECT min(day) FROM taken",
        strategy,
    )
    return None if day is None else datetime(day.year, day.month, day.day, tzinfo=UTC)


async def days_to_close(
    conn: asyncpg.Connection,
    strategy: str,
    today_start: datetime,
    most: int,
    changed: datetime | None = None,
) -> list[datetime]:
    """The starts of the days before today whose rows were not closed (last written before the
    day ended: the executor down across its midnight, or its last pass before it), of the
    days since with no row at all (the executor down all day) and, ``changed`` the start of a
    day whose fills changed (:func:`changed_since`), of every row from that day on, closed or
    not (a fill of a day is in the start mark of each day after it); oldest first, at most
    ``most`` of the newest. None before the strategy's first row."""
    last = await conn.fetchrow(
        "SELECT (day::timestamp AT TIME ZONE 'UTC') AS start, updated_at FROM orderflow_performance"
        " WHERE strategy = $1 AND day < ($2 AT TIME ZONE 'UTC')::date ORDER BY day DESC LIMIT 1",
        strategy,
        today_start,
    )
    if last is None:
        return []
    start: datetime = last["start"]
    first = start if last["updated_at"] < start + _DAY else start + _DAY
    days = []
    while first < today_start:
        days.append(first)
        first += _DAY
    if changed is not None and changed < today_start:
        again = await conn.fetch(
            "SELECT (day::timestamp AT TIME ZONE 'UTC') AS start FROM orderflow_performance"
            " WHERE strategy = $1 AND day >= ($2 AT TIME ZONE 'UTC')::date"
            " AND day < ($3 AT TIME ZONE 'UTC')::date",
            strategy,
            changed,
            today_start,
        )
        days = sorted({*days, *(r["start"] for r in again)})
    return days[-most:]


async def day_figures(
    conn: asyncpg.Connection, strategy: str, day_start: datetime
) -> asyncpg.Record:
    """What today's performance row is made from (``trades``, ``wins``, ``losses``, all
    ``realized`` P&L to date), read without writing it."""
    row: asyncpg.Record = await conn.fetchrow(
        _DAY_FIGURES + "SELECT traded.n AS trades, closed.wins, closed.losses, booked.r AS realized"
        " FROM closed, traded, booked",
        strategy,
        day_start,
    )
    return row


async def latest_ratios(conn: asyncpg.Connection, strategy: str) -> asyncpg.Record | None:
    """The latest performance row's Sharpe ratio and maximum drawdown (None: no row yet)."""
    row: asyncpg.Record | None = await conn.fetchrow(
        "SELECT sharpe_ratio, max_drawdown FROM orderflow_performance WHERE strategy = $1"
        " ORDER BY day DESC LIMIT 1",
        strategy,
    )
    return row


async def performance_series(
    conn: asyncpg.Connection, strategy: str, until: datetime | None = None
) -> list[asyncpg.Record]:
    """The strategy's rows in order of day (``until``: up to that day's, included): each
    one's ``day``, ``total_pnl`` and ``bankroll`` (None: written before migration 091)."""
    return list(
        await conn.fetch(
            "SELECT day, total_pnl, bankroll FROM orderflow_performance WHERE strategy = $1"
            " AND ($2::timestamptz IS NULL OR day <= ($2 AT TIME ZONE 'UTC')::date)"
            " ORDER BY day",
            strategy,
            until,
        )
    )


async def set_performance_ratios(
    conn: asyncpg.Connection,
    strategy: str,
    day_start: datetime,
    sharpe: float | None,
    max_drawdown: float | None,
) -> None:
    await conn.execute(
        "UPDATE orderflow_performance SET sharpe_ratio = $3, max_drawdown = $4"
        " WHERE strategy = $1 AND day = ($2 AT TIME ZONE 'UTC')::date",
        strategy,
        day_start,
        sharpe,
        max_drawdown,
    )
