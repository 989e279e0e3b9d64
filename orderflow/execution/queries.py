"""The execution stage's SQL: strategies, cursors, orders, fills, positions, performance."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

import asyncpg

from orderflow.accounting import Position
from orderflow.execution.broker import FillReport

# --------------------------------------------------------------------------------------------
# Strategies
# --------------------------------------------------------------------------------------------


async def strategy_rows(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    return list(
        await conn.fetch(
            "SELECT name, settings, paused, killed, generation FROM orderflow_strategies"
            " WHERE deleted_at IS NULL ORDER BY name"
        )
    )


async def strategy_row(conn: asyncpg.Connection, name: str) -> asyncpg.Record | None:
    row: asyncpg.Record | None = await conn.fetchrow(
        "SELECT name, settings, paused, killed, generation, deleted_at, source, updated_at"
        " FROM orderflow_strategies WHERE name = $1",
        name,
    )
    return row


async def upsert_strategy(
    conn: asyncpg.Connection, name: str, settings: dict[str, Any], *, source: str
) -> None:
    await conn.execute(
        """
        INSERT INTO orderflow_strategies (name, settings, source)
        VALUES ($1, $2, $3)
        ON CONFLICT (name) DO UPDATE SET
            settings = EXCLUDED.settings, source = EXCLUDED.source, deleted_at = NULL,
            generation = orderflow_strategies.generation + 1, updated_at = now()
        """,
        name,
        settings,
        source,
    )


async def insert_strategy_if_absent(
    conn: asyncpg.Connection, name: str, settings: dict[str, Any], *, source: str
) -> bool:
    status = await conn.execute(
        "INSERT INTO orderflow_strategies (name, settings, source) VALUES ($1, $2, $3)"
        " ON CONFLICT (name) DO NOTHING",
        name,
        settings,
        source,
    )
    return bool(status.endswith(" 1"))


async def set_strategy_flag(conn: asyncpg.Connection, name: str, flag: str, value: bool) -> bool:
    if flag not in ("paused", "killed"):
        raise ValueError(flag)
    status = await conn.execute(
        f"UPDATE orderflow_strategies SET {flag} = $2, generation = generation + 1,"
        " updated_at = now() WHERE name = $1 AND deleted_at IS NULL",
        name,
        value,
    )
    return bool(status.endswith(" 1"))


async def last_valid_settings(conn: asyncpg.Connection, name: str) -> dict[str, Any] | None:
    value = await conn.fetchval(
        "SELECT settings FROM orderflow_strategy_valid_settings WHERE name = $1", name
    )
    return None if value is None else dict(value)


async def save_valid_settings(
    conn: asyncpg.Connection, name: str, settings: dict[str, Any], generation: int
) -> None:
    await conn.execute(
        """
        INSERT INTO orderflow_strategy_valid_settings (name, settings, generation)
        VALUES ($1, $2, $3)
        ON CONFLICT (name) DO UPDATE SET settings = EXCLUDED.settings,
            generation = EXCLUDED.generation, saved_at = now()
        WHERE orderflow_strategy_valid_settings.generation < EXCLUDED.generation
        """,
        name,
        settings,
        generation,
    )


async def live_exposure_strategies(conn: asyncpg.Connection) -> set[str]:
    """Strategies holding live positions or live orders (they need the live broker)."""
    rows = await conn.fetch(
        """
        SELECT DISTINCT p.strategy FROM orderflow_positions p
          JOIN orderflow_fills f ON f.position_id = p.id AND f.mode = 'live'
         WHERE p.status = 'OPEN'
        UNION
        SELECT strategy FROM orderflow_orders
         WHERE mode = 'live' AND status IN ('INTENT', 'OPEN')
        """
    )
    return {str(r["strategy"]) for r in rows}


# --------------------------------------------------------------------------------------------
# Cursors
# --------------------------------------------------------------------------------------------


async def ensure_cursor(conn: asyncpg.Connection, strategy: str) -> int:
    """A strategy's cursor; a new strategy starts at the newest trade (trades what comes next)."""
    await conn.execute(
        "INSERT INTO orderflow_executor_cursors (strategy, last_trade_id)"
        " SELECT $1, COALESCE(max(id), 0) FROM orderflow_trades"
        " ON CONFLICT (strategy) DO NOTHING",
        strategy,
    )
    return int(
        await conn.fetchval(
            "SELECT last_trade_id FROM orderflow_executor_cursors WHERE strategy = $1", strategy
        )
    )


async def set_cursor(conn: asyncpg.Connection, strategy: str, last_trade_id: int) -> None:
    await conn.execute(
        "UPDATE orderflow_executor_cursors SET last_trade_id = GREATEST(last_trade_id, $2),"
        " updated_at = now() WHERE strategy = $1",
        strategy,
        last_trade_id,
    )


# --------------------------------------------------------------------------------------------
# The strategy's book (what risk limits see)
# --------------------------------------------------------------------------------------------

LAST_PRICE = """(SELECT t.price FROM orderflow_trades t WHERE t.token_id = p.token_id
                   ORDER BY t.timestamp DESC, t.id DESC LIMIT 1)"""


async def book_rows(conn: asyncpg.Connection, strategy: str) -> list[asyncpg.Record]:
    """Open positions with their latest price, the wallet they followed in, and the mode of
    their fills (an exit goes where the position is, whatever the strategy's mode now)."""
    return list(
        await conn.fetch(
            f"""
            SELECT p.id, p.token_id, p.market_id, p.shares, p.cost_basis,
                   {LAST_PRICE} AS last_price, s.wallet_address AS leader,
                   s.signal_type AS leader_type,
                   (SELECT f.mode FROM orderflow_fills f WHERE f.position_id = p.id
                     ORDER BY f.id LIMIT 1) AS mode
              FROM orderflow_positions p
              LEFT JOIN orderflow_signals s ON s.id = p.signal_id
             WHERE p.strategy = $1 AND p.status = 'OPEN'
            """,
            strategy,
        )
    )


# --------------------------------------------------------------------------------------------
# Signals (status changes after the decision)
# --------------------------------------------------------------------------------------------


async def set_signal_status(
    conn: asyncpg.Connection, signal_id: int, status: str, reason: str | None
) -> None:
    await conn.execute(
        "UPDATE orderflow_signals SET status = $2, reason = COALESCE($3, reason),"
        " decided_at = COALESCE(decided_at, clock_timestamp()) WHERE id = $1",
        signal_id,
        status,
        reason,
    )


# --------------------------------------------------------------------------------------------
# Fills and positions
# --------------------------------------------------------------------------------------------


async def open_position_for(
    conn: asyncpg.Connection,
    *,
    strategy: str,
    signal_id: int | None,
    token_id: int,
    market_id: str | None,
    outcome_index: int | None,
) -> int:
    """The strategy's OPEN position in the token, created if there is none."""
    existing = await conn.fetchval(
        "SELECT id FROM orderflow_positions WHERE strategy = $1 AND token_id = $2"
        " AND status = 'OPEN'",
        strategy,
        Decimal(token_id),
    )
    if existing is not None:
        return int(existing)
    return int(
        await conn.fetchval(
            """
            INSERT INTO orderflow_positions (strategy, signal_id, token_id, market_id,
                outcome_index)
            SELECT $1, $2, $3, COALESCE($4, tok.condition_id), COALESCE($5, tok.outcome_index)
              FROM (SELECT 1) one
              LEFT JOIN orderflow_tokens tok ON tok.token_id = $3
            RETURNING id
            """,
            strategy,
            signal_id,
            Decimal(token_id),
            market_id,
            outcome_index,
        )
    )


async def insert_fill(
    conn: asyncpg.Connection,
    *,
    order_id: int,
    position_id: int,
    strategy: str,
    mode: str,
    token_id: int,
    side: str,
    fill: FillReport,
) -> bool:
    inserted = await conn.fetchval(
        """
        INSERT INTO orderflow_fills (order_id, position_id, strategy, mode, fill_key, token_id,
            side, price, shares, usdc, fee, fee_asset, filled_at)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
        ON CONFLICT (order_id, fill_key) DO NOTHING
        RETURNING id
        """,
        order_id,
        position_id,
        strategy,
        mode,
        fill.fill_key,
        Decimal(token_id),
        side,
        fill.price,
        fill.shares,
        fill.usdc,
        fill.fee,
        fill.fee_asset,
        fill.at,
    )
    if inserted is not None:
        await conn.execute(
            "UPDATE orderflow_orders SET filled_usdc = filled_usdc + $2, fee = fee + $3"
            " WHERE id = $1",
            order_id,
            fill.usdc,
            fill.fee,
        )
    return inserted is not None


async def position_fills(conn: asyncpg.Connection, position_id: int) -> list[asyncpg.Record]:
    """A position's fills, net of reversals (a trade that failed on chain), in the order they
    were booked. Not by ``filled_at``: a placement
    fill is stamped with our clock and a later fill with the exchange's (whole seconds), so an
    exit could sort before the buy it sells; an exit is only ever placed after its buy is
    booked."""
    return list(
        await conn.fetch(
            "SELECT side, shares, usdc, fee, fee_asset, filled_at FROM orderflow_net_fills"
            " WHERE position_id = $1 ORDER BY id",
            position_id,
        )
    )


async def store_position(
    conn: asyncpg.Connection,
    position_id: int,
    position: Position,
    *,
    close_reason: str | None = None,
    mark_price: Decimal | None = None,
) -> None:
    unrealized = position.mark(mark_price) if mark_price is not None else Decimal(0)
    await conn.execute(
        """
        UPDATE orderflow_positions SET
            shares = $2, cost_basis = $3, avg_price = $4, fees_paid = $5, realized_pnl = $6,
            mark_price = COALESCE($7, mark_price), unrealized_pnl = $8,
            status = CASE WHEN $9::text IS NULL THEN status ELSE 'CLOSED' END,
            closed_at = CASE WHEN $9::text IS NULL THEN closed_at ELSE clock_timestamp() END,
            close_reason = COALESCE($9, close_reason)
        WHERE id = $1
        """,
        position_id,
        position.shares,
        position.cost_basis,
        position.avg_price,
        position.fees_paid,
        position.realized_pnl,
        mark_price,
        unrealized,
        close_reason,
    )


async def resolvable_positions(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    """Open positions whose market has a resolution, with the payout per share of their token."""
    return list(
        await conn.fetch(
            """
            SELECT p.id, p.strategy, p.signal_id,
                   o.payouts[COALESCE(p.outcome_index, tok.outcome_index) + 1] AS payout
              FROM orderflow_positions p
              LEFT JOIN orderflow_tokens tok ON tok.token_id = p.token_id
              JOIN orderflow_market_outcomes o
                ON o.market_id = COALESCE(p.market_id, tok.condition_id)
             WHERE p.status = 'OPEN'
               AND COALESCE(p.outcome_index, tok.outcome_index) IS NOT NULL
             ORDER BY p.id
            """
        )
    )


async def mark_open_positions(conn: asyncpg.Connection) -> None:
    await conn.execute(
        f"""
        UPDATE orderflow_positions p SET mark_price = m.price,
               unrealized_pnl = p.shares * m.price - p.cost_basis
          FROM (SELECT p.id, {LAST_PRICE} AS price FROM orderflow_positions p
                 WHERE p.status = 'OPEN') m
         WHERE p.id = m.id AND m.price IS NOT NULL
        """
    )


async def position_signal(conn: asyncpg.Connection, position_id: int) -> int | None:
    value = await conn.fetchval(
        "SELECT signal_id FROM orderflow_positions WHERE id = $1", position_id
    )
    return None if value is None else int(value)


async def set_signal_pnl(conn: asyncpg.Connection, signal_id: int, pnl: Decimal) -> None:
    await conn.execute(
        "UPDATE orderflow_signals SET pnl = $2, resolved_at = clock_timestamp() WHERE id = $1",
        signal_id,
        pnl,
    )


# --------------------------------------------------------------------------------------------
# Liveness
# --------------------------------------------------------------------------------------------


async def heartbeat(
    conn: asyncpg.Connection,
    instance_id: str,
    *,
    is_leader: bool,
    strategies: list[str],
    version: str,
) -> None:
    await conn.execute(
        """
        INSERT INTO orderflow_executor_heartbeats (instance_id, is_leader, strategies, version)
        VALUES ($1, $2, $3, $4)
        ON CONFLICT (instance_id) DO UPDATE SET is_leader = EXCLUDED.is_leader,
            strategies = EXCLUDED.strategies, version = EXCLUDED.version, last_seen = now()
        """,
        instance_id,
        is_leader,
        strategies,
        version,
    )


# --------------------------------------------------------------------------------------------
# Performance (one row per UTC day and strategy)
# --------------------------------------------------------------------------------------------


async def upsert_performance_day(
    conn: asyncpg.Connection,
    strategy: str,
    day_start: datetime,
    bankroll: Decimal,
    *,
    realized: Decimal,
    total: Decimal,
) -> None:
    """Today's row: ``realized`` and ``total`` are the P&L realized since 00:00 UTC and the
    P&L since 00:00 UTC (orderflow.execution.daypnl)."""
    await conn.execute(
        """
        WITH closed AS (
            SELECT count(*) FILTER (WHERE realized_pnl > 0) AS wins,
                   count(*) FILTER (WHERE realized_pnl < 0) AS losses
              FROM orderflow_positions
             WHERE strategy = $1 AND status = 'CLOSED'
               AND closed_at >= $2 AND closed_at < $2 + interval '1 day'),
        traded AS (
            SELECT count(*) AS n FROM orderflow_net_fills
             WHERE strategy = $1 AND filled_at >= $2 AND filled_at < $2 + interval '1 day'),
        unreal AS (
            SELECT COALESCE(sum(unrealized_pnl), 0) AS u FROM orderflow_positions
             WHERE strategy = $1 AND status = 'OPEN'),
        booked AS (
            SELECT COALESCE(sum(realized_pnl), 0) AS r FROM orderflow_positions
             WHERE strategy = $1)
        INSERT INTO orderflow_performance AS perf (day, strategy, trades, wins, losses, win_rate,
            realized_pnl, unrealized_pnl, total_pnl, equity, updated_at)
        SELECT ($2 AT TIME ZONE 'UTC')::date, $1, traded.n, closed.wins, closed.losses,
               CASE WHEN closed.wins + closed.losses > 0
                    THEN closed.wins::float8 / (closed.wins + closed.losses) END,
               $4, unreal.u, $5, $3 + booked.r + unreal.u, now()
          FROM closed, traded, unreal, booked
        ON CONFLICT (day, strategy) DO UPDATE SET
            trades = EXCLUDED.trades, wins = EXCLUDED.wins, losses = EXCLUDED.losses,
            win_rate = EXCLUDED.win_rate, realized_pnl = EXCLUDED.realized_pnl,
            unrealized_pnl = EXCLUDED.unrealized_pnl, total_pnl = EXCLUDED.total_pnl,
            equity = EXCLUDED.equity, updated_at = now()
        """,
        strategy,
        day_start,
        bankroll,
        realized,
        total,
    )


async def performance_series(conn: asyncpg.Connection, strategy: str) -> list[asyncpg.Record]:
    return list(
        await conn.fetch(
            "SELECT day, total_pnl, equity FROM orderflow_performance WHERE strategy = $1"
            " ORDER BY day",
            strategy,
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
