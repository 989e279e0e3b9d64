"""Only the wallets whose position sums changed have their share volume compared
(``orderflow.reputation.wash_tot``): the keys the run claimed, and the keys marked since -- a
change committed after the claim, which the thin positions read later hold. (Every bit-for-bit
test of ``test_wash_state.py`` claims the keys as a run does, so it runs on the restricted
comparison.)"""

from __future__ import annotations

import math

import asyncpg
import pytest

from orderflow.reputation import wash_assemble, wash_state, wash_tot
from orderflow.reputation.wash_sql import WASH, wash_settings
from tests.reputation.test_wash_identity import SETTINGS
from tests.reputation.test_wash_state_hosts import _elsewhere
from tests.reputation.wash_state_step import (
    CLAIM,
    CLAIMED,
    STORED,
    THIN,
    differing_rows,
    wash_rows,
    wash_step,
    wash_world,
)


@pytest.mark.parametrize("left_out", [False, True])
async def test_a_volume_moved_after_the_claim_is_compared(
    pool: asyncpg.Pool, monkeypatch: pytest.MonkeyPatch, left_out: bool
) -> None:
    """Off-market wallets trade large at the market in new markets, committed after the run
    claimed the changed keys (nothing then) and before it reads the thin positions: their share
    volume moved, their verdicts flip back, and the rows are WASH's; without the keys marked
    since, their stored volume is taken for the new one and the verdicts stay."""
    monkeypatch.setattr(wash_state, "REBUILD_SHARE", math.inf)
    settings = SETTINGS["default"]
    w = wash_world(6)
    await w.finish(pool)
    await wash_step(pool, settings, build=True)
    off = [r["w"] for r in await pool.fetch(
        "SELECT w FROM orderflow_wash_wallets WHERE off1 ORDER BY w LIMIT 3"
    )]  # fmt: skip
    assert off
    if left_out:
        part = "UNION SELECT wallet_address FROM orderflow_position_sums_changes"
        assert part in wash_tot._K
        monkeypatch.setattr(wash_tot, "_K", wash_tot._K.replace(part, ""))
    async with pool.acquire() as conn, conn.transaction():
        as_of = await conn.fetchval("SELECT now()")
        await conn.execute(CLAIM)
        assert await conn.fetchval("SELECT count(*) FROM test_claimed") == 0
        await _elsewhere(w, pool, off, 100000.0)  # another connection, committed
        await conn.execute(THIN)
        assert await wash_state.update(conn, as_of, settings, CLAIMED)
        moved = {r["w"] for r in await conn.fetch("SELECT w FROM rep_wash_t")}
        flipped = {r["w"] for r in await conn.fetch("SELECT w FROM rep_wash_f")}
        wallets = await conn.fetchval("SELECT count(*) FROM rep_positions")
        compared = await conn.fetchval("SELECT count(*) FROM rep_wash_tot")
        await wash_assemble.assemble(conn, as_of, settings, stored=STORED)
        stored = await wash_rows(conn)
        await conn.execute(WASH, as_of, *wash_settings(settings))
        full = await wash_rows(conn)
    assert compared < wallets, "only some wallets' volumes were read"
    assert (set(off) <= moved) == (not left_out)
    assert (set(off) <= flipped) == (not left_out)
    assert (differing_rows(stored, full) > 0) == left_out
