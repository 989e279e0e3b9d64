"""A full run whose second connection fails (an error) or is killed (its backend terminated)
while making its table (:mod:`orderflow.reputation.beside`): the run fails as a whole, its
transaction rolled back: the stored scores, inputs, issues and history stay as they were, no
connection is left in a transaction, and the next run reads the change."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta

import asyncpg
import pytest

from orderflow.errors import DatabaseError
from orderflow.reputation import beside, evidence_sql, run_reputation
from orderflow.reputation.run_models import RunSummary
from tests.reputation.builders import Ledger, wallet
from tests.reputation.test_second_connection import SIDE_STAGES, _stored


async def _fails(conn: asyncpg.Connection, *_: object) -> None:
    await conn.execute("SELECT 1 / 0")


async def _killed(conn: asyncpg.Connection, *_: object) -> None:
    await conn.execute("SELECT pg_terminate_backend(pg_backend_pid())")


async def _changed_after_a_run(pool: asyncpg.Pool, wallets: int) -> dict[str, list[str]]:
    """``wallets`` wallets' buys scored by a full run, then wallet 2's sale stored: the stored
    rows as they stand (the new fill's counters in, migration 098: the run's alone)."""
    led = Ledger()
    for who in range(1, wallets + 1):
        led.trade(who, "BUY", "100", "0.40", market_no=who, taker_aggregate=True)
    await led.flush(pool)
    await run_reputation(pool, full=True)
    led.trade(2, "SELL", "50", "0.60", market_no=2, at=timedelta(hours=1), taker_aggregate=True)
    await led.flush(pool)
    return await _stored(pool)


async def _left_as_before(pool: asyncpg.Pool, before: dict[str, list[str]]) -> None:
    """After a failed run: nothing written, no history, no connection left in a transaction."""
    assert await _stored(pool) == before
    idle_in_tx = await pool.fetchval(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
        " AND state LIKE 'idle in transaction%'"
    )
    assert idle_in_tx == 0


async def _next_run_reads_the_change(pool: asyncpg.Pool) -> RunSummary:
    """The next run reads wallet 2's sale (the failed one left nothing half-done)."""
    summary = await run_reputation(pool, full=True)
    realized = await pool.fetchval(
        "SELECT realized_pnl FROM orderflow_wallet_stats WHERE wallet_address = $1", wallet(2)
    )
    assert realized == 10  # sold 50 bought at 0.40 for 0.60
    return summary


@pytest.mark.parametrize("table", [beside.COUNTERPARTIES, beside.COPIERS, "rep_wallets_side"])
@pytest.mark.parametrize("side", [_fails, _killed], ids=["fails", "killed"])
async def test_a_side_that_fails_leaves_the_stored_scores(
    pool: asyncpg.Pool,
    monkeypatch: pytest.MonkeyPatch,
    table: str,
    side: Callable[..., Awaitable[None]],
) -> None:
    before = await _changed_after_a_run(pool, wallets=3)

    with monkeypatch.context() as m:
        m.setitem(beside._MAKERS, table, side)
        with pytest.raises(DatabaseError, match="reputation run failed"):
            await run_reputation(pool, full=True)
    await _left_as_before(pool, before)
    summary = await _next_run_reads_the_change(pool)
    assert set(summary.stages) >= SIDE_STAGES


# The wallets statement of one connection, failing (an error) or killed (its backend
# terminated) once the side has built its positions and taken the closing lines: $1, $2 read.
_WALLETS_FAILS = "SELECT 1 / 0 WHERE $1::int IS NOT NULL AND $2::timestamptz IS NULL"
_WALLETS_KILLED = (
    "SELECT pg_terminate_backend(pg_backend_pid()) WHERE $1::int IS NOT NULL"
    " OR $2::timestamptz IS NULL"
)


@pytest.mark.parametrize("statement", [_WALLETS_FAILS, _WALLETS_KILLED], ids=["fails", "killed"])
async def test_a_side_that_fails_in_its_wallets_leaves_the_stored_scores(
    pool: asyncpg.Pool, monkeypatch: pytest.MonkeyPatch, statement: str
) -> None:
    """The side's half of the wallets (orderflow.reputation.wallet_split) fails while the run's
    connection scores its own half: the run fails, nothing stored changes."""
    before = await _changed_after_a_run(pool, wallets=6)

    with monkeypatch.context() as m:
        m.setattr(evidence_sql, "WALLETS", statement)  # the side's; the run's own is MINE
        with pytest.raises(DatabaseError, match="reputation run failed"):
            await run_reputation(pool, full=True)
    await _left_as_before(pool, before)
    summary = await _next_run_reads_the_change(pool)
    assert "beside_rep_wallets_side" in summary.stages
