"""Daily loss within one batch: an accepted entry's immediate loss (its limit over the latest
price, what it would lose if it filled now) counts against the daily-loss budget of the next
decision, whether that decision is in a later batch or in the same one.

docs/executor.md, "What counts as open: live orders": a live order on its way counts against
the daily loss budget by what it would lose at once; ``entry_signals``: each accepted entry is
in the book the next one of the batch sees. Until 6 Dec 2026 ``_with_position`` added the
entry's shares and cost to the batch's book but not its loss, so two whale buys read in one
batch (a catch-up after a restart, a slow loop) were both taken — two resting orders losing ~8
on a budget of 2 — where, read one by one, the second is refused ``daily_loss_limit``.
"""

from __future__ import annotations

from collections.abc import Callable

import asyncpg

from orderflow.execution.engine import Executor
from tests.execution.conftest import WHALE, add_strategy, add_token, add_trade, add_wallet

# Each follow: ~400 shares with a limit of 0.51 over a price of 0.50 -> an immediate loss of ~4,
# twice the daily loss budget.
SETTINGS = {"max_daily_loss": 2.0}


def _market(n: int) -> tuple[str, int]:
    return "0x" + f"{n + 0x40:02x}" * 32, int("7" * 70) + 2 * n


async def _setup(pool: asyncpg.Pool, ex: Executor) -> None:
    async with pool.acquire() as conn:
        await add_strategy(conn, "alpha", **SETTINGS)
        for n in (1, 2):
            market, token = _market(n)
            await add_token(conn, token, market, 0)
            await add_token(conn, token + 1, market, 1)
        await add_wallet(conn, WHALE, 8.5, edge=0.10, edge_se=0.02)
        await ex.registry.refresh(conn)


async def _buy(conn: asyncpg.Connection, n: int) -> None:
    market, token = _market(n)
    await add_trade(conn, token_id=token, market=market, price="0.50", usdc="600")


async def _signals(pool: asyncpg.Pool) -> list[tuple[str, str]]:
    rows = await pool.fetch("SELECT status, reason FROM orderflow_signals ORDER BY id")
    return [(r["status"], r["reason"]) for r in rows]


async def test_one_by_one_the_second_entry_is_refused_daily_loss(
    pool: asyncpg.Pool, make_executor: Callable[..., Executor]
) -> None:
    """Control (passes): the first order rests, its immediate loss (~4) is over the budget (2),
    the next whale buy read in its own batch is refused."""
    ex = make_executor()
    await _setup(pool, ex)
    async with pool.acquire() as conn:
        await _buy(conn, 1)
    await ex.catch_up()
    async with pool.acquire() as conn:
        await _buy(conn, 2)
    await ex.catch_up()
    assert await _signals(pool) == [("PENDING", "accepted"), ("SKIPPED", "daily_loss_limit")]
    assert await pool.fetchval("SELECT count(*) FROM orderflow_orders") == 1


async def test_in_one_batch_the_second_entry_is_refused_daily_loss_too(
    pool: asyncpg.Pool, make_executor: Callable[..., Executor]
) -> None:
    """The same two whale buys read in one batch: the second is refused as well (both were
    accepted before, two orders resting with ~8 of immediate loss on a budget of 2)."""
    ex = make_executor()
    await _setup(pool, ex)
    async with pool.acquire() as conn:
        await _buy(conn, 1)
        await _buy(conn, 2)
    await ex.catch_up()
    orders = await pool.fetchval("SELECT count(*) FROM orderflow_orders")
    assert await _signals(pool) == [("PENDING", "accepted"), ("SKIPPED", "daily_loss_limit")], (
        f"{orders} orders placed from one batch"
    )
    assert orders == 1
