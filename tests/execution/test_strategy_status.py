"""``orderflow strategy status NAME``: what a strategy holds, rests and made, read from the tables
the executor writes — built here through the executor's own path (paper orders resting, filled
by revealed depth, expiring) and checked against the executor's own figures."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import pytest

from orderflow.cli import build_parser, main
from orderflow.execution import position_queries
from orderflow.execution.book import load_book
from orderflow.execution.engine import Executor
from orderflow.execution.paper import PaperBroker
from orderflow.execution.performance import update_performance
from tests.execution.conftest import (
    MARKET,
    MARKET_B,
    TOKEN_NO,
    TOKEN_YES,
    WHALE,
    add_strategy,
    add_token,
    add_trade,
    add_wallet,
    reveal,
    trade_at,
)
from tests.execution.livekit import Clock

TOKEN_B = 4242424242424242424242424242424242424242424242424242424242424242424242424242
MARKET_C = "0x" + "c3" * 32
TOKEN_C = 5353535353535353535353535353535353535353535353535353535353535353535353535353


async def _status(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    capsys.readouterr()
    parsed = build_parser("strategy").parse_args(["strategy", "status", *args])
    code = await parsed.handler(parsed)
    return code, capsys.readouterr().out


async def _build(pool: asyncpg.Pool, ex: Executor, paper_clock: Clock) -> None:
    """An expired paper order (market C), a filled position (market A, YES), a resting order
    (market B), two entries skipped ``position_exists`` and one ``stale``; YES last at 0.60."""
    async with pool.acquire() as conn:
        await add_strategy(conn, "alpha")
        await add_token(conn, TOKEN_YES, MARKET, 0)
        await add_token(conn, TOKEN_NO, MARKET, 1)
        await add_token(conn, TOKEN_B, MARKET_B, 1)
        await add_token(conn, TOKEN_C, MARKET_C, 0)
        await add_wallet(conn, WHALE, 8.5, edge=0.10, edge_se=0.02)
        await ex.registry.refresh(conn)
    # C: accepted by a paper exchange whose clock is 10 minutes behind, so it expired 5 minutes
    # ago with nothing shown; the executor's reconciliation closes it CANCELED expired.
    paper_clock.offset = timedelta(minutes=-10)
    async with pool.acquire() as conn:
        await add_trade(conn, token_id=TOKEN_C, market=MARKET_C, price="0.40", usdc="600")
    assert await ex.catch_up() == 1
    paper_clock.offset = timedelta(0)
    await ex.desk.reconcile()
    # A: rests at 0.51, the book shows all of it there, it fills.
    async with pool.acquire() as conn:
        await add_trade(conn, price="0.50", usdc="600")
    assert await ex.catch_up() == 1
    async with pool.acquire() as conn:
        left = await conn.fetchval(
            "SELECT shares - filled FROM orderflow_paper_orders WHERE token_id = $1",
            Decimal(TOKEN_YES),
        )
        await reveal(conn, price="0.51", shares=str(left))
    await ex.desk.reconcile()
    # B: rests, nobody meets it.
    async with pool.acquire() as conn:
        await add_trade(
            conn, token_id=TOKEN_B, market=MARKET_B, outcome_index=1, price="0.30", usdc="600"
        )
    assert await ex.catch_up() == 1
    async with pool.acquire() as conn:
        await add_trade(conn, price="0.50", usdc="600")
        await add_trade(conn, price="0.50", usdc="600")
        await add_trade(conn, price="0.50", usdc="600", at=datetime.now(UTC) - timedelta(hours=1))
    assert await ex.catch_up() == 3
    async with pool.acquire() as conn:  # nobody's signal; where the token trades now
        await trade_at(conn, "0.60", datetime.now(UTC))
    assert await ex.catch_up() == 0
    statuses = await pool.fetch("SELECT status, status_reason FROM orderflow_orders ORDER BY id")
    assert [(r["status"], r["status_reason"]) for r in statuses] == [
        ("CANCELED", "expired"),
        ("FILLED", None),
        ("OPEN", None),
    ]


async def test_status_shows_positions_orders_outcomes_and_signals(
    pool: asyncpg.Pool,
    env: str,
    make_executor: Callable[..., Executor],
    capsys: pytest.CaptureFixture[str],
) -> None:
    paper_clock = Clock()
    ex = make_executor({"paper": PaperBroker(pool, clock=paper_clock)})
    await _build(pool, ex, paper_clock)
    orders = await pool.fetch("SELECT * FROM orderflow_orders ORDER BY id")
    expired, filled, resting = orders
    pos = await pool.fetchrow("SELECT * FROM orderflow_positions WHERE status = 'OPEN'")

    code, out = await _status(["alpha", "--json"], capsys)
    assert code == 0
    doc: dict[str, Any] = json.loads(out)
    assert (doc["name"], doc["mode"], doc["state"]) == ("alpha", "paper", "active")
    assert Decimal(doc["bankroll"]) == Decimal(10_000)
    unrealized = pos["shares"] * Decimal("0.60") - pos["cost_basis"]
    assert Decimal(doc["unrealized_pnl"]) == unrealized
    assert Decimal(doc["realized_pnl"]) == 0
    assert Decimal(doc["equity"]) == Decimal(10_000) + unrealized
    assert doc["today"] == {"trades": 1, "wins": 0, "losses": 0}

    [held] = doc["positions"]
    assert held["token_id"] == str(TOKEN_YES) and held["market_id"] == MARKET
    assert held["outcome_index"] == 0 and held["signal_type"] == "FOLLOW_WHALE"
    assert held["leader"] == WHALE and held["mode"] == "paper"
    assert Decimal(held["shares"]) == pos["shares"] == filled["shares"]
    assert Decimal(held["cost_basis"]) == pos["cost_basis"]
    assert Decimal(held["last_price"]) == Decimal("0.60")
    assert Decimal(held["unrealized_pnl"]) == unrealized

    [rest] = doc["live_orders"]
    assert (rest["side"], rest["status"], rest["token_id"]) == ("BUY", "OPEN", str(TOKEN_B))
    assert Decimal(rest["price"]) == resting["price"] == Decimal("0.31")
    assert Decimal(rest["shares"]) == resting["shares"] and Decimal(rest["filled"]) == 0
    paper_expiry = await pool.fetchval(
        "SELECT expires_at FROM orderflow_paper_orders WHERE order_key = $1",
        resting["client_order_id"],
    )
    assert datetime.fromisoformat(rest["expires_at"]) == paper_expiry
    assert 0 <= rest["age_secs"] < 300

    outcomes = doc["orders"]
    assert outcomes["sent"] == 3 and outcomes["open"] == 1
    assert outcomes["filled"] == 1 and outcomes["partly_filled"] == 0
    assert outcomes["expired_unfilled"] == 1
    assert outcomes["canceled"] == {} and outcomes["rejected"] == 0
    ordered = expired["shares"] + filled["shares"] + resting["shares"]
    assert Decimal(outcomes["shares_ordered"]) == ordered
    assert Decimal(outcomes["shares_filled"]) == filled["shares"]
    assert outcomes["fill_ratio"] == pytest.approx(float(filled["shares"] / ordered))

    signals = doc["signals"]
    assert signals["counts"] == {
        "FOLLOW_WHALE": {"EXECUTED": 1, "PENDING": 1, "SKIPPED": 3, "EXPIRED": 1}
    }
    assert signals["skip_reasons"] == {"position_exists": 2, "expired": 1, "stale": 1}

    code, text = await _status(["alpha"], capsys)
    assert code == 0
    lines = text.splitlines()
    assert lines[0].split() == ["strategy", "alpha", "paper", "active"]
    assert any(line.split()[:3] == ["unrealized", "P&L", f"{unrealized:,.2f}"] for line in lines)
    assert any(line.split()[:3] == ["expired", "unfilled", "1"] for line in lines)
    assert any(line.split()[:2] == ["position_exists", "2"] for line in lines)
    assert any("0x2e6a…5fce" in line and "0.6" in line for line in lines)  # the position
    assert any("BUY" in line and "0.31" in line for line in lines)  # the resting order
    ratio = f"{float(filled['shares'] / ordered) * 100:.1f}%"
    assert any(line.split()[:3] == ["fill", "ratio", ratio] for line in lines)


def _volatile(doc: dict[str, Any]) -> dict[str, Any]:
    """``doc`` without what moves between two runs (the clock)."""
    for key in ("as_of", "since"):
        doc.pop(key)
    for order in doc["live_orders"]:
        order.pop("age_secs")
    return doc


async def test_status_needs_only_select(
    pool: asyncpg.Pool,
    env: str,
    make_executor: Callable[..., Executor],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A read-only command runs under a role that may only SELECT: with the migrations applied,
    nothing it does (migrating included) writes, and it reads what the owner reads."""
    paper_clock = Clock()
    ex = make_executor({"paper": PaperBroker(pool, clock=paper_clock)})
    await _build(pool, ex, paper_clock)
    code, out = await _status(["alpha", "--json"], capsys)
    assert code == 0
    owners = _volatile(json.loads(out))
    role = f"reader_{uuid.uuid4().hex[:12]}"
    await pool.execute(f"CREATE ROLE {role} LOGIN PASSWORD 'reader'")
    try:
        await pool.execute(f"GRANT SELECT ON ALL TABLES IN SCHEMA public TO {role}")
        parts = urlsplit(env)
        host = f"{parts.hostname or ''}{f':{parts.port}' if parts.port else ''}"
        monkeypatch.setenv("DATABASE_URL", parts._replace(netloc=f"{role}:reader@{host}").geturl())
        code, out = await _status(["alpha", "--json"], capsys)
        assert code == 0
        assert _volatile(json.loads(out)) == owners
    finally:
        await pool.execute(f"DROP OWNED BY {role}")
        await pool.execute(f"DROP ROLE {role}")


async def test_status_figures_are_the_executors_own(
    pool: asyncpg.Pool,
    env: str,
    make_executor: Callable[..., Executor],
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Today's P&L is the daily loss limit's number (``load_book``: positions since midnight and
    the resting order's immediate loss); equity and the day's counts are the performance row's."""
    paper_clock = Clock()
    ex = make_executor({"paper": PaperBroker(pool, clock=paper_clock)})
    await _build(pool, ex, paper_clock)
    code, out = await _status(["alpha", "--json"], capsys)
    assert code == 0
    doc = json.loads(out)
    state = ex.registry.states["alpha"]
    async with pool.acquire() as conn:
        book = await load_book(conn, state, datetime.now(UTC))
        assert Decimal(doc["day_pnl"]) == book.day_pnl
        assert book.day_pnl < Decimal(doc["unrealized_pnl"])  # the resting order's loss in it
        await position_queries.mark_open_positions(conn)
        await update_performance(conn, "alpha", state.bankroll, datetime.now(UTC))
        row = await conn.fetchrow("SELECT * FROM orderflow_performance WHERE strategy = 'alpha'")
    assert Decimal(doc["equity"]) == row["equity"]
    assert doc["today"] == {"trades": row["trades"], "wins": row["wins"], "losses": row["losses"]}
    code, out = await _status(["alpha", "--json"], capsys)
    assert json.loads(out)["max_drawdown"] == row["max_drawdown"]


async def test_status_of_an_empty_strategy(
    pool: asyncpg.Pool, env: str, capsys: pytest.CaptureFixture[str]
) -> None:
    async with pool.acquire() as conn:
        await add_strategy(conn, "fresh", bankroll_usd=2500, max_position_usd=100)
        await conn.execute("UPDATE orderflow_strategies SET paused = true WHERE name = 'fresh'")
    code, out = await _status(["fresh", "--json", "--since", "2h"], capsys)
    assert code == 0
    doc = json.loads(out)
    assert (doc["state"], Decimal(doc["bankroll"]), Decimal(doc["equity"])) == (
        "paused",
        Decimal(2500),
        Decimal(2500),
    )
    assert Decimal(doc["day_pnl"]) == 0 and doc["max_drawdown"] is None
    assert doc["positions"] == [] and doc["live_orders"] == []
    assert doc["orders"]["sent"] == 0 and doc["orders"]["fill_ratio"] is None
    assert doc["signals"] == {"counts": {}, "skip_reasons": {}}
    since = datetime.fromisoformat(doc["since"])
    assert timedelta(hours=2) - (datetime.now(UTC) - since) < timedelta(minutes=1)
    code, text = await _status(["fresh"], capsys)
    assert code == 0
    assert "equity" in text and "2,500.00" in text
    assert "no open positions" in text and "no live orders" in text


def test_status_of_a_missing_strategy_is_an_error(
    env: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["strategy", "status", "nobody"]) == 2
    assert "no strategy named 'nobody'" in capsys.readouterr().err
    assert main(["strategy", "status", "nobody", "--since", "soon"]) == 2
    assert "--since expects a duration" in capsys.readouterr().err
    assert main(["strategy", "status", "nobody", "--since", "99999999999d"]) == 2


@pytest.mark.parametrize("partly", [False, True])
async def test_status_counts_cancels_by_reason_and_partial_fills(
    pool: asyncpg.Pool,
    env: str,
    make_executor: Callable[..., Executor],
    capsys: pytest.CaptureFixture[str],
    partly: bool,
) -> None:
    """The kill cancels the resting order: cancelled ``strategy_killed`` when nothing of it
    filled, partly filled when the book gave 5 shares first."""
    paper_clock = Clock()
    ex = make_executor({"paper": PaperBroker(pool, clock=paper_clock)})
    await _build(pool, ex, paper_clock)
    async with pool.acquire() as conn:
        if partly:
            await reveal(conn, token_id=TOKEN_B, price="0.31", shares="5")
            await ex.desk.reconcile()
        await conn.execute("UPDATE orderflow_strategies SET killed = true")
    await ex.maintenance()
    await ex.kills.wait()
    code, out = await _status(["alpha", "--json"], capsys)
    assert code == 0
    doc = json.loads(out)
    assert doc["state"] == "killed" and doc["live_orders"] == []
    orders = await pool.fetch("SELECT shares, filled_shares FROM orderflow_orders ORDER BY id")
    outcomes = doc["orders"]
    assert outcomes["open"] == 0 and outcomes["filled"] == 1 and outcomes["expired_unfilled"] == 1
    assert outcomes["partly_filled"] == (1 if partly else 0)
    assert outcomes["canceled"] == ({} if partly else {"strategy_killed": 1})
    assert Decimal(outcomes["shares_filled"]) == sum(r["filled_shares"] for r in orders)
    assert Decimal(outcomes["shares_filled"]) == orders[1]["shares"] + (5 if partly else 0)
    code, text = await _status(["alpha"], capsys)
    assert any(
        line.split() == ["strategy", "alpha", "paper", "killed"] for line in text.split("\n")
    )
    if not partly:
        assert any(line.split() == ["strategy_killed", "1"] for line in text.splitlines())
