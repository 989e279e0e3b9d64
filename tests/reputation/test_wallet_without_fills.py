"""A wallet whose every fill the chain took back (a reorg's rollback, a retracted block) holds
no score: the run, incremental or full, makes its row what a database that never held those
fills has (no score, tier, flags or figures), instead of keeping the score of the orphaned
fills. Found by ``test_incremental_property`` (seed 2: a rollback took a scored wallet's only
fill; the incremental row kept NOVICE, MARKET_MAKER and markets_traded 1, the reference none)."""

from __future__ import annotations

import asyncpg
import pytest

from orderflow.chain.rollback import rollback_from
from orderflow.reputation import compute_scores, run_reputation
from tests.reputation.population import World, noise_taker
from tests.reputation.test_incremental_run import close, persisted

_ROW = """SELECT total_trades, markets_traded, resolved_positions, reputation_score, trader_tier,
                 flags, computed_at, factor_figures, factor_volume_usdc
            FROM orderflow_wallet_stats WHERE wallet_address = $1"""
_HISTORY = """SELECT reputation_score, trader_tier, resolved_positions, flags, factor_figures
                FROM orderflow_reputation_history WHERE wallet_address = $1 ORDER BY id"""


@pytest.mark.parametrize("full", [False, True], ids=["incremental", "full"])
async def test_a_wallet_whose_fills_were_all_rolled_back_has_no_score(
    pool: asyncpg.Pool, full: bool
) -> None:
    w = World(seed=7, markets=4, neg_risk_events=0)
    for _ in range(5):
        noise_taker(w, w.new_wallet(), 3)
    await w.finish(pool)
    last = max(s.resolves for s in w.specs) + 3600
    late = w.new_wallet()  # one fill after everything else, in a market still open
    extra = w.chain.market(last - 10)
    w.chain.trade(extra, last, late, "BUY", 0, 50.0, 0.4, w.maker_wallets[0], mint=True)
    await w.chain.ingest(pool)
    await run_reputation(pool, full=True)
    scored = await pool.fetchrow(_ROW, late)
    assert scored["trader_tier"] is not None and scored["markets_traded"] == 1

    block = await pool.fetchval(
        "SELECT min(block_number) FROM orderflow_trades WHERE wallet_address = $1", late
    )
    async with pool.acquire() as conn:
        assert (await rollback_from(conn, 137, block)).trades > 0
    run = await run_reputation(pool, full=full)
    assert run.incremental is not full
    row = dict(await pool.fetchrow(_ROW, late))
    assert row == {
        "total_trades": 0,
        "markets_traded": 0,
        "resolved_positions": 0,
        "reputation_score": None,
        "trader_tier": None,
        "flags": [],
        "computed_at": None,
        "factor_figures": None,
        "factor_volume_usdc": None,
    }
    assert late not in await compute_scores(pool)
    # the score history says so too: its newest row is the reset (no score, no tier), not the
    # tier of the orphaned fills
    history = await pool.fetch(_HISTORY, late)
    assert [h["trader_tier"] for h in history][-2:] == [scored["trader_tier"], None]
    assert dict(history[-1]) == {
        "reputation_score": None,
        "trader_tier": None,
        "resolved_positions": 0,
        "flags": [],
        "factor_figures": None,
    }
    assert run.history_rows >= 1
    if not full:  # and a full run on the same data agrees with every row
        incremental = await persisted(pool)
        assert not (await run_reputation(pool, full=True)).incremental
        close(await persisted(pool), incremental)
