"""The demo's SQL: a fresh database per run, and the strategy's replay written to the ledger.

The demo writes its paper strategy into the same tables the executor uses
(``orderflow_strategies``, ``orderflow_signals``, ``orderflow_positions``,
``orderflow_performance``) so that everything the demo printed can be explored afterwards with
SQL or the other commands pointed at the demo database.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from orderflow.backtest.book import Held, SignalRecord
from orderflow.backtest.engine import Run
from orderflow.db import connect
from orderflow.errors import DatabaseError
from orderflow.reputation.posterior_block import posterior_block
from orderflow.strategy.settings import StrategySettings

DEMO_DATABASE = "orderflow_demo"


def with_database(dsn: str, name: str) -> str:
    parts = urlsplit(dsn)
    return urlunsplit(parts._replace(path=f"/{name}"))


def redact(dsn: str) -> str:
    """The DSN with any password replaced, fit for printing."""
    parts = urlsplit(dsn)
    if parts.password:
        host = parts.netloc.rsplit("@", 1)[1]
        parts = parts._replace(netloc=f"{parts.username or ''}:***@{host}")
    return urlunsplit(parts)


async def fresh_database(server_dsn: str, name: str = DEMO_DATABASE) -> str:
    """Drop and re-create ``name`` on the server of ``server_dsn``; return its DSN.

    A fresh database per run keeps reruns clean and leaves the user's own database alone.
    """
    conn = await connect(server_dsn)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{name}"')
    except asyncpg.PostgresError as exc:
        raise DatabaseError(
            f"cannot re-create the demo database {name!r}: {exc} (the demo needs the CREATEDB "
            "privilege; unset DATABASE_URL to use the embedded PostgreSQL instead)"
        ) from exc
    finally:
        await conn.close()
    return with_database(server_dsn, name)


_STRATEGY = """
INSERT INTO orderflow_strategies (name, settings, source) VALUES ($1, $2, 'demo')
ON CONFLICT (name) DO UPDATE SET settings = EXCLUDED.settings, updated_at = now()
"""

_SIGNAL = """
INSERT INTO orderflow_signals
    (strategy, signal_type, status, reason, chain_id, tx_hash, log_index, wallet_address,
     wallet_score, token_id, market_id, outcome_index, side, trigger_price, confidence,
     win_probability, size_usdc, pnl, trade_time, decided_at, resolved_at, inputs, attempt)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $21, $13, $14, $15, $16, $17, $22,
        $18, $19, $20, $23)
ON CONFLICT (strategy, signal_type, chain_id, tx_hash, log_index, side, attempt) DO NOTHING
RETURNING id
"""

_POSITION = """
INSERT INTO orderflow_positions
    (strategy, signal_id, token_id, market_id, outcome_index, status, shares, cost_basis,
     avg_price, fees_paid, realized_pnl, mark_price, unrealized_pnl, opened_at, closed_at,
     close_reason)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)
"""

_PERFORMANCE = """
INSERT INTO orderflow_performance (day, strategy, equity, total_pnl, realized_pnl)
VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (day, strategy) DO UPDATE
   SET equity = EXCLUDED.equity, total_pnl = EXCLUDED.total_pnl,
       realized_pnl = EXCLUDED.realized_pnl, updated_at = now()
"""


async def save_run(
    conn: asyncpg.Connection,
    name: str,
    settings: StrategySettings,
    run: Run,
    chain_id: int,
    last_prices: dict[int, Decimal],
) -> int:
    """Write one follower's replay as strategy ``name``; returns the number of signals stored."""
    held_by_signal: dict[int, Held] = {
        id(h.signal): h for h in [*run.book.closed, *run.book.open.values()]
    }
    async with conn.transaction():
        await conn.execute(_STRATEGY, name, json.loads(settings.model_dump_json()))
        stored = 0
        for signal in run.book.signals:
            signal_id = await conn.fetchval(*_signal_args(name, chain_id, signal))
            if signal_id is None:
                continue
            stored += 1
            held = held_by_signal.get(id(signal))
            if held is not None:
                await conn.execute(*_position_args(name, signal_id, held, last_prices))
        bankroll = run.book.bankroll
        for when, equity in run.equity:
            await conn.execute(
                _PERFORMANCE,
                when.date(),
                name,
                equity,
                equity - bankroll,
                _realized_until(run, when),
            )
    return stored


def _realized_until(run: Run, when: datetime) -> Decimal:
    return sum((v for day, v in run.book.realized_by_day.items() if day <= when.date()), Decimal(0))


def _signal_args(name: str, chain_id: int, s: SignalRecord) -> tuple[object, ...]:
    inputs = {
        "trigger_price": str(s.trigger_price),
        "source": "demo walk-forward replay",
        "fill": {  # what walking the revealed book gave (docs/backtest.md)
            "limit_price": None if s.limit_price is None else str(s.limit_price),
            "avg_price": None if s.price is None else str(s.price),
            "shares": str(s.shares),
            "fee": str(s.fee),
            "levels": s.levels,
            # how and when the order closed (filled, expired, leader_exited, market_resolved)
            "order_close": s.order_close,
            "order_closed": None if s.order_closed is None else s.order_closed.isoformat(),
        },
    }
    return (
        _SIGNAL,
        name,
        s.signal_type,
        s.status,
        s.reason,
        chain_id,
        s.tx_hash,
        s.log_index,
        s.wallet,
        s.wallet_score,
        s.token_id,
        s.market_id,
        s.outcome_index,
        s.trigger_price,
        s.confidence,
        s.win_probability,
        s.size_usdc,
        s.pnl,
        s.time,
        s.closed_at,
        inputs,
        s.side,
        s.trigger_time or s.time,  # trade_time: the leader's fill; decided_at: ours
        s.attempt,  # an exit tried again on the same sale (the executor's late exits)
    )


def _position_args(
    name: str, signal_id: int, h: Held, last_prices: dict[int, Decimal]
) -> tuple[object, ...]:
    p = h.position
    closed = h.signal.closed_at is not None
    mark = None if closed else last_prices.get(h.token_id)
    return (
        _POSITION,
        name,
        signal_id,
        h.token_id,
        h.market_id,
        h.outcome_index,
        "CLOSED" if closed else "OPEN",
        p.shares,
        p.cost_basis,
        p.avg_price,
        p.fees_paid,
        p.realized_pnl,
        mark,
        p.mark(mark) if mark is not None else Decimal(0),
        p.opened_at,
        h.signal.closed_at,
        h.signal.close_reason,
    )


# The rows as read: their posterior figures against the current population (migration 022), and
# the factors JSON's posterior block (the measured edge before shrinkage: posterior_block).
_FLAGGED = """
SELECT s.wallet_address, to_jsonb(s) AS j, orderflow_factors(w) AS factors
  FROM orderflow_wallet_stats w
 CROSS JOIN LATERAL orderflow_wallet_read(w) AS s
 WHERE cardinality(w.flags) > 0
 ORDER BY s.reputation_score DESC NULLS LAST, s.wallet_address
"""


@dataclass(frozen=True, slots=True)
class FlaggedWallet:
    """A wallet the reputation run flagged (MARKET_MAKER, WASH, PENNY_PICKER), as it stored it."""

    address: str
    flags: tuple[str, ...]
    score: float | None
    tier: str | None
    edge: float | None
    edge_se: float | None
    p_edge_above_cost: float | None
    p_edge_below_zero: float | None
    events_resolved: int
    clv_edge: float | None
    maker_volume_share: float | None
    measured: float | None = None  # the record's own edge before shrinkage (the factors JSON's)
    measured_se: float | None = None


def _num(value: Any) -> float | None:
    return None if value is None else float(value)


async def flagged_wallets(conn: asyncpg.Connection) -> list[FlaggedWallet]:
    """Every flagged wallet of the last reputation run, highest score first."""
    out = []
    for row in await conn.fetch(_FLAGGED):
        j = row["j"]
        if isinstance(j, str):
            j = json.loads(j)
        post = posterior_block(row["factors"])
        out.append(
            FlaggedWallet(
                address=row["wallet_address"],
                flags=tuple(j.get("flags") or ()),
                score=_num(j.get("reputation_score")),
                tier=j.get("trader_tier"),
                edge=_num(j.get("edge")),
                edge_se=_num(j.get("edge_se")),
                measured=post.measured,
                measured_se=post.measured_se,
                p_edge_above_cost=_num(j.get("p_edge_above_cost")),
                p_edge_below_zero=_num(j.get("p_edge_below_zero")),
                events_resolved=int(j.get("events_resolved") or 0),
                clv_edge=_num(j.get("clv_edge")),
                maker_volume_share=_num(j.get("maker_volume_share")),
            )
        )
    return out
