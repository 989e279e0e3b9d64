"""The stored counterparty evidence (``orderflow.reputation.wash_state``, ``wash_assemble``)
gives ``WASH``'s rows, bit for bit, after any change of the trades.

Populations with the wash tests' behaviours and crowded random trading -> the cells built -> a
change (new fills in old buckets and in new ones, busy wallets turning off-market (their pass-1
verdicts flip), hosts and their counterparties trading elsewhere, refunds of off-market taker
fees, a ring forming, a reorg rollback, fee refunds and a token's market id removed, a ring's
fills deleted) -> the cells updated -> ``rep_wash`` assembled (the rows that can have changed,
the others as the last step stored them) against ``WASH`` over the same trades, in the same
transaction, every value compared to the last bit. Each step of the closure is needed: left out,
some change gives other rows (or trips the update's check of the verdicts).
"""

from __future__ import annotations

import math

import asyncpg
import pytest

from orderflow.reputation import run_reputation, wash_assemble, wash_partials_sql, wash_state
from tests.reputation.test_incremental_wash import stored_wash_differs
from tests.reputation.test_wash_identity import SETTINGS
from tests.reputation.wash_state_changes import (
    CHANGES,
    new_fills,
    refund_and_backfill,
    ring_forms,
    rollback,
    turns_off_market,
)
from tests.reputation.wash_state_step import differing_rows, wash_step, wash_world


@pytest.fixture(autouse=True)
def _always_update(monkeypatch: pytest.MonkeyPatch) -> None:
    """The update itself, whatever the change's size (a change here is a large part of a small
    history; the switch to a rebuild: test_wash_switch.py)."""
    monkeypatch.setattr(wash_state, "REBUILD_SHARE", math.inf)


@pytest.mark.parametrize("name", list(SETTINGS))
async def test_updated_cells_give_wash_bit_for_bit(pool: asyncpg.Pool, name: str) -> None:
    settings = SETTINGS[name]
    w = wash_world(6)
    await w.finish(pool)
    stored, full, _ = await wash_step(pool, settings, build=True)
    assert len(full) > 30 and stored == full
    flips = 0
    for change in CHANGES:
        await change(w, pool)
        before = full
        stored, full, flipped = await wash_step(pool, settings)
        assert differing_rows(before, full) > 0, f"{change.__name__} moved no row"
        assert flipped >= 0 and differing_rows(stored, full) == 0, change.__name__
        if change is turns_off_market:
            assert flipped > 0, "the verdicts of wallets with older buckets flipped"
        flips += flipped
    assert flips > 0, "some change flipped a pass-1 verdict"


# Steps of the closure left out (a statement's text, part of it replaced): each makes some
# change of CHANGES give other rows than WASH's (or trips update's check of the verdicts).
_LEFT_OUT = {
    "neighbouring buckets": (
        "wash_partials_sql.NEXT_TO",  # the region's buckets (its statements are built at import)
        "(VALUES (-1::int8), (0), (1))",
        "(VALUES (0::int8))",
    ),
    "flipped wallets' buckets": ("wash_state._PASS2_BUCKETS", "f ON f.w", "f ON FALSE AND f.w"),
    "groups with a changed member": ("wash_assemble._G", "g ON g.w = m.cp", "g ON FALSE"),
    "changed taker amounts": ("wash_assemble._C", "UNION SELECT w FROM rep_wash_tkw", ""),
    "off-market counterparties": ("wash_assemble._C", "x ON x.w = p.w", "x ON FALSE"),
    "rings of C's wallets": ("wash_assemble._K", "c ON c.w = m.cp", "c ON FALSE"),
    "members of C's groups": ("wash_assemble._U", "k ON k.w = m.w", "k ON FALSE"),
}


@pytest.mark.parametrize("left_out", list(_LEFT_OUT))
async def test_the_closure_needs_each_step(
    pool: asyncpg.Pool, monkeypatch: pytest.MonkeyPatch, left_out: str
) -> None:
    target, old, new = _LEFT_OUT[left_out]
    module, name = target.split(".")
    where = {
        "wash_state": wash_state,
        "wash_assemble": wash_assemble,
        "wash_partials_sql": wash_partials_sql,
    }[module]
    text = getattr(where, name)
    assert old in text
    settings = SETTINGS["default"]
    w = wash_world(6)
    await w.finish(pool)
    await wash_step(pool, settings, build=True)
    monkeypatch.setattr(where, name, text.replace(old, new))
    for change in CHANGES:
        await change(w, pool)
        stored, full, flipped = await wash_step(pool, settings)
        if flipped < 0 or differing_rows(stored, full):  # seen inconsistent, or wrong rows
            return
    raise AssertionError(f"the closure without {left_out} gave WASH's rows")


async def _state(pool: asyncpg.Pool) -> tuple[bool, bool]:
    """Whether the cells are valid, and whether they count every trade stored."""
    row = await pool.fetchrow("SELECT valid, last_id FROM orderflow_wash_state")
    top = await pool.fetchval("SELECT max(id) FROM orderflow_trades")
    assert row is not None
    return row["valid"], row["last_id"] == top


async def test_runs_keep_the_cells(pool: asyncpg.Pool) -> None:
    """A live full run leaves the cells to the first incremental run, which computes WASH and
    builds them; the next ones update them; stale cells (another SQL, a truncate) make the
    incremental run compute WASH and rebuild them; the stored evidence is a full run's every
    time."""
    w = wash_world(6)
    await w.finish(pool)
    assert not (await run_reputation(pool)).incremental
    assert (await _state(pool))[0] is False  # a full recompute does not pay for the cells
    assert (await run_reputation(pool)).incremental  # WASH, then the cells built
    assert await _state(pool) == (True, True)
    # a row a build would clear (it truncates): an update keeps it
    marker = "INSERT INTO orderflow_wash_tokens VALUES ('marker', 0)"
    kept = "SELECT count(*) FROM orderflow_wash_tokens WHERE mk = 'marker'"
    await pool.execute(marker)
    for change in (turns_off_market, rollback, refund_and_backfill):
        await change(w, pool)
        assert (await run_reputation(pool)).incremental
        assert await _state(pool) == (True, True)
        assert await pool.fetchval(kept) == 1, "updated, not rebuilt"
    incremental = await pool.fetch("SELECT * FROM orderflow_reputation_wash")

    await new_fills(w, pool)
    await pool.execute("UPDATE orderflow_wash_state SET fingerprint = 'another SQL'")
    assert (await run_reputation(pool)).incremental  # WASH, then the cells rebuilt
    assert await _state(pool) == (True, True)
    assert await pool.fetchval(kept) == 0, "rebuilt"
    assert await stored_wash_differs(pool, incremental) > 0
    incremental = await pool.fetch("SELECT * FROM orderflow_reputation_wash")
    assert not (await run_reputation(pool, full=True)).incremental
    assert await stored_wash_differs(pool, incremental) == 0

    await ring_forms(w, pool)
    assert (await run_reputation(pool)).incremental
    incremental = await pool.fetch("SELECT * FROM orderflow_reputation_wash")
    assert not (await run_reputation(pool, full=True)).incremental
    assert await stored_wash_differs(pool, incremental) == 0
