"""No entry into a token whose market is not known.

A fill of a token the registry does not know (no ``orderflow_tokens`` row, no ``market_id``:
its condition not synced yet, a mapping the listener could not compute) names no market, so
nothing the decision checks per market can be checked: whether it resolved
(``market_resolved``), its other outcome (``position_exists``: one position per market), the
market's exposure cap, and its complement (a leader buying it has left: ``leader_exited``, the
exit with the leader). Such fills were followed: two whales buying the two outcomes of one
market made two entries, YES and NO of the same market — a locked loss of the spread and fees.
They are SKIPPED ``market_unknown``.
"""

from __future__ import annotations

from collections.abc import Callable

import asyncpg

from orderflow.execution.engine import Executor
from tests.execution.conftest import (
    TOKEN_NO,
    TOKEN_YES,
    WHALE,
    add_strategy,
    add_trade,
    add_wallet,
)

WHALE_B = "0x" + "b1" * 20


async def test_both_outcomes_of_an_unknown_market_are_not_bought(
    pool: asyncpg.Pool, make_executor: Callable[..., Executor]
) -> None:
    ex = make_executor()
    async with pool.acquire() as conn:
        await add_strategy(conn, "alpha")
        await add_wallet(conn, WHALE, 8.5, edge=0.10, edge_se=0.02)
        await add_wallet(conn, WHALE_B, 8.5, edge=0.10, edge_se=0.02)
        await ex.registry.refresh(conn)
        await add_trade(conn, token_id=TOKEN_YES, price="0.50", usdc="600", market=None,
                        outcome_index=None)  # fmt: skip
        await add_trade(conn, wallet=WHALE_B, token_id=TOKEN_NO, price="0.48", usdc="600",
                        market=None, outcome_index=None)  # fmt: skip
    await ex.catch_up()
    rows = await pool.fetch(
        "SELECT s.token_id, s.status, s.reason, o.shares, o.price FROM orderflow_signals s"
        " LEFT JOIN orderflow_orders o ON o.signal_id = s.id ORDER BY s.id"
    )
    seen = [
        (int(r["token_id"]) == TOKEN_YES, r["status"], r["reason"], r["shares"], r["price"])
        for r in rows
    ]
    assert [s[:3] for s in seen] == [
        (True, "SKIPPED", "market_unknown"),
        (False, "SKIPPED", "market_unknown"),
    ], f"bought YES and NO of one market (YES?, status, reason, shares, price): {seen}"
