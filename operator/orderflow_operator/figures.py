"""What a TradingStrategy's status reports, read from the database in one round trip: the
strategy row's switches and generation, its open positions and live orders, today's P&L, its
last signal, the executor's heartbeat and what the exchange refuses of it (``Figures``,
``read_figures``). The rows the operator writes are ``store``'s."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

import asyncpg

from orderflow.execution.status import day_pnl_of


@dataclass(frozen=True, slots=True)
class Refusals:
    """What the exchange refuses of the strategy, as the executor records it (migrations 054,
    062): its API key for the strategy's mode (``orderflow_exchange_keys``: no order of the mode
    is sent), and the cancels of live orders still at the exchange (``cancel_refusals``)."""

    mode: str = "paper"  # the strategy's, whose API key is meant
    key_refused_since: datetime | None = None  # None: the key is not refused
    key_refusals: int = 0  # requests refused since
    key_last_refused_at: datetime | None = None
    key_last_error: str | None = None
    cancel_refused_orders: int = 0  # live orders whose cancels were refused
    cancel_refusals: int = 0  # refusals of their cancels in all
    cancel_refused_since: datetime | None = None  # the first of them
    cancel_last_refused_at: datetime | None = None
    cancel_last_why: str | None = None


@dataclass(frozen=True, slots=True)
class Figures:
    """What the status reports, read in one round trip (all times from the database clock)."""

    exists: bool
    owned: bool
    paused: bool
    killed: bool
    pause_held: bool  # the switch is on by a stop set outside the resource (migration 051)
    kill_held: bool
    generation: int | None
    open_positions: int
    live_orders: int  # resting on the exchange (paper orders rest too) or sent and in doubt
    today_pnl: Decimal
    last_signal_at: datetime | None
    heartbeat_at: datetime | None
    heartbeat_age_secs: float | None
    executor_runs_only: tuple[str, ...]  # the leader's EXECUTOR_STRATEGIES; empty: every one
    now: datetime
    refusals: Refusals = Refusals()
    owner: str | None = None  # ``source`` of the live row (None: no row, or a deleted one)
    retired_at: datetime | None = None  # ``deleted_at`` of a retired row (None: live or none)
    retired_from: str | None = None  # ``source`` of a retired row: who owned it last


_FIGURES = """
WITH s AS (
    SELECT paused, killed, pause_held, kill_held, generation, source, deleted_at, settings
      FROM orderflow_strategies WHERE name = $1
), k AS (
    SELECT k.* FROM orderflow_exchange_keys k, s
     WHERE k.mode = coalesce(s.settings->>'mode', 'paper')
), c AS (
    SELECT count(*) AS orders, coalesce(sum(cancel_refusals), 0) AS refusals,
           coalesce(min(cancel_refused_since), min(cancel_refused_at)) AS since,
           max(cancel_refused_at) AS last_at,
           (array_agg(cancel_refused_why ORDER BY cancel_refused_at DESC))[1] AS last_why
      FROM orderflow_orders
     WHERE strategy = $1 AND status IN ('INTENT', 'OPEN') AND cancel_refusals > 0
), hb AS (
    SELECT last_seen AS at, runs_only FROM orderflow_executor_heartbeats
     WHERE is_leader ORDER BY last_seen DESC LIMIT 1
)
SELECT
    (SELECT count(*) FROM s) > 0 AS exists,
    coalesce((SELECT source = $2 AND deleted_at IS NULL FROM s), FALSE) AS owned,
    (SELECT source FROM s WHERE deleted_at IS NULL) AS owner,
    (SELECT deleted_at FROM s) AS retired_at,
    (SELECT source FROM s WHERE deleted_at IS NOT NULL) AS retired_from,
    coalesce((SELECT paused FROM s), FALSE) AS paused,
    coalesce((SELECT killed FROM s), FALSE) AS killed,
    coalesce((SELECT pause_held FROM s), FALSE) AS pause_held,
    coalesce((SELECT kill_held FROM s), FALSE) AS kill_held,
    (SELECT generation FROM s) AS generation,
    (SELECT count(*) FROM orderflow_positions WHERE strategy = $1 AND status = 'OPEN')
        AS open_positions,
    (SELECT count(*) FROM orderflow_orders
      WHERE strategy = $1 AND status IN ('INTENT', 'OPEN')) AS live_orders,
    (SELECT max(created_at) FROM orderflow_signals WHERE strategy = $1) AS last_signal_at,
    (SELECT at FROM hb) AS heartbeat_at,
    extract(epoch FROM now() - (SELECT at FROM hb))::float8 AS heartbeat_age_secs,
    coalesce((SELECT runs_only FROM hb), '{}') AS executor_runs_only,
    now() AS now,
    coalesce((SELECT settings->>'mode' FROM s), 'paper') AS mode,
    (SELECT refused_since FROM k) AS key_refused_since,
    coalesce((SELECT refusals FROM k), 0) AS key_refusals,
    (SELECT last_refused_at FROM k) AS key_last_refused_at,
    (SELECT last_error FROM k) AS key_last_error,
    c.orders AS cancel_refused_orders,
    c.refusals AS cancel_refusals,
    c.since AS cancel_refused_since,
    c.last_at AS cancel_last_refused_at,
    c.last_why AS cancel_last_why
FROM c
"""


async def read_figures(conn: asyncpg.Connection, *, name: str, source: str) -> Figures:
    """The row's switches as the executor sees them, and the live trading figures.

    The heartbeat is the trading leader's (``is_leader``, the newest such row): standbys do not
    trade, so their heartbeats must not hide a dead leader. With it comes the strategies that
    leader runs (its ``EXECUTOR_STRATEGIES``, empty for all).

    Today's P&L is the strategy's P&L since 00:00 UTC in its mode, as ``orderflow strategy
    status`` shows it and the executor's daily loss limit counts it (one definition:
    :func:`orderflow.execution.status.day_pnl_of`; 0 without a row). It was the performance
    row's ``total_pnl`` (both modes), else the realized P&L of positions closed today plus the
    lifetime P&L of the open ones: a live strategy showed paper's gains as its own.

    The exchange's refusals (:class:`Refusals`): its refusal of the executor's API key for the
    strategy's mode, and live orders whose cancels it refused.
    """
    row = await conn.fetchrow(_FIGURES, name, source)
    assert row is not None
    today = await day_pnl_of(conn, name, row["now"])
    return Figures(
        exists=row["exists"],
        owned=row["owned"],
        paused=row["paused"],
        killed=row["killed"],
        pause_held=row["pause_held"],
        kill_held=row["kill_held"],
        generation=row["generation"],
        open_positions=row["open_positions"],
        live_orders=row["live_orders"],
        today_pnl=Decimal(0) if today is None else today,
        last_signal_at=row["last_signal_at"],
        heartbeat_at=row["heartbeat_at"],
        heartbeat_age_secs=row["heartbeat_age_secs"],
        executor_runs_only=tuple(row["executor_runs_only"]),
        now=row["now"],
        refusals=Refusals(
            mode=row["mode"],
            key_refused_since=row["key_refused_since"],
            key_refusals=row["key_refusals"],
            key_last_refused_at=row["key_last_refused_at"],
            key_last_error=row["key_last_error"],
            cancel_refused_orders=row["cancel_refused_orders"],
            cancel_refusals=row["cancel_refusals"],
            cancel_refused_since=row["cancel_refused_since"],
            cancel_last_refused_at=row["cancel_last_refused_at"],
            cancel_last_why=row["cancel_last_why"],
        ),
        owner=row["owner"],
        retired_at=row["retired_at"],
        retired_from=row["retired_from"],
    )
