"""The COPIER evidence kept between runs (migration 077, ``orderflow.reputation.copy_state``): an
incremental run updates the stored cells around the changed trades only, and its evidence and
flags are a full recompute's -- the old statement over every taker buy
(``tests/reputation/copy_reference.py``) -- across runs with new trades between them: leader buys
stored after their copies (the follower's buys earlier), copies stored after their leader's buys
(the leader's before the run, the copier's after), and a retracted block whose buy was in a pair.
Before, every run paired every gated taker buy of the history (docs/benchmarks.md "Copiers")."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import asyncpg
import pytest

from orderflow.chain import partitions
from orderflow.chain.rollback import retract_block
from orderflow.reputation import ReputationSettings, compute_scores, run_reputation
from orderflow.reputation import copy_sql as sql
from orderflow.reputation.copy_state import CELLS, PAIRS
from tests.reputation.copy_reference import reference_rows
from tests.reputation.population import DAY, Spec, World
from tests.reputation.test_copier_prints import _printer_world
from tests.reputation.test_copiers import _skilled_buy, _world
from tests.reputation.test_void_decisions import _full_equals_incremental

Rows = set[tuple[str, str, int, int, int, int]]


async def _copy_rows(conn: asyncpg.Connection, pairs: str, as_of: object, min_markets: int) -> Rows:
    """``rep_copy`` read from ``pairs`` past ``min_markets`` tokens."""
    await conn.execute(sql.COPY_ROWS.format(pairs=pairs), min_markets)
    await conn.execute(sql.BUYS_OF_FOLLOWERS, as_of)
    rows: Rows = {tuple(r) for r in await conn.fetch("SELECT * FROM rep_copy")}
    await conn.execute("DROP TABLE rep_copy")
    return rows


async def _same_as_full(
    pool: asyncpg.Pool, s: ReputationSettings | None = None, min_markets: int | None = None
) -> set[tuple[str, str, int, int, int, int]]:
    """The stored cells are a build's from every buy, the stored pairs their sums past
    ``copy_min_markets`` tokens (no other is kept), the rows read from them the old statement's,
    and every wallet's flags a full recompute's; returns those rows (``min_markets``: the rows
    of every pair past that many tokens from the stored cells' sums, also the old statement's)."""
    s = s or ReputationSettings()
    secs = float(s.copy_window_secs)
    async with pool.acquire() as conn, conn.transaction():
        as_of = await conn.fetchval("SELECT now()")
        await conn.execute(sql.BUYS, as_of, timedelta(seconds=secs), secs)
        await conn.execute(sql.cells("TRUE"), secs, s.copy_look_back)
        await conn.execute("DROP TABLE rep_buys")
        fresh = {tuple(r) for r in await conn.fetch("SELECT * FROM rep_copy_cells")}
        stored = {tuple(r) for r in await conn.fetch(f"SELECT * FROM {CELLS}")}
        assert stored == fresh, (stored - fresh, fresh - stored)
        pairs = {tuple(r) for r in await conn.fetch(f"SELECT * FROM {PAIRS}")}
        sums = sql.PAIRS_OF.format(cells="rep_copy_cells", only="TRUE")
        assert pairs == {tuple(r) for r in await conn.fetch(sums, s.copy_min_markets)}
        ours = await _copy_rows(conn, PAIRS, as_of, s.copy_min_markets)
        assert ours == await reference_rows(conn, as_of, s)
        if min_markets is not None:
            wide = s.model_copy(update={"copy_min_markets": min_markets})
            kept = f"({sql.PAIRS_OF.format(cells=CELLS, only='TRUE')})"
            ours = await _copy_rows(conn, kept, as_of, min_markets)  # $1: min_markets, both
            assert ours == await reference_rows(conn, as_of, wide)
    flags = {r[0]: list(r[1]) for r in await pool.fetch(
        "SELECT wallet_address, flags FROM orderflow_wallet_stats")}  # fmt: skip
    full = {a: list(x.flags) for a, x in (await compute_scores(pool, settings=s)).items()}
    assert {a: flags[a] for a in full} == full
    return ours


def _copier_of(rows: set[tuple[str, str, int, int, int, int]], copier: str) -> tuple[int, ...]:
    return next((r[2:] for r in rows if r[0] == copier), ())


async def test_the_incremental_evidence_is_the_full_one_across_runs(pool: asyncpg.Pool) -> None:
    held: list[Callable[[], None]] = []
    w, leader, copier, first, second, late = _world(seed=91, held=held)
    await w.finish(pool)
    assert not (await run_reputation(pool)).incremental  # the first run: a full one
    # half the leader's buys, stored after their copies: the cells are built (the counterparty
    # cells are, after a plain full run)
    for lead in held[:20]:
        lead()
    await w.chain.ingest(pool)
    summary = await run_reputation(pool)
    assert summary.incremental and summary.copy_cells == "rebuilt"
    rows = await _same_as_full(pool)
    assert _copier_of(rows, copier)[0] >= 15  # trailing buys in the first 20 markets
    # the other half, earlier than the copier's stored buys; the leader's buys alone in the
    # late markets
    for lead in held[20:]:
        lead()
    followed: list[tuple[Spec, float, int, float]] = []
    for s in late:
        t, outcome, q = _skilled_buy(w, s)
        w.take(s, t, leader, outcome, 150.0, price=q)
        followed.append((s, t, outcome, q))
    await w.chain.ingest(pool)
    summary = await run_reputation(pool)
    assert summary.incremental and summary.copy_cells == "updated"
    before = _copier_of(await _same_as_full(pool), copier)
    # the copies of those, after the run: they pair with buys stored before it
    for s, t, outcome, q in followed:
        w.take(s, t + 30.0, copier, outcome, 100.0, price=min(0.99, q + 0.01))
    await w.chain.ingest(pool)
    summary = await run_reputation(pool)
    assert summary.incremental and summary.copy_cells == "updated"
    after = _copier_of(await _same_as_full(pool), copier)
    assert len(followed) >= 3
    assert after[0] == before[0] + len(followed) == after[2], (before, after)
    assert "COPIER" in (await pool.fetchval(
        "SELECT flags FROM orderflow_wallet_stats WHERE wallet_address = $1", copier))  # fmt: skip
    # a reorg takes back the block of a leader's buy its copier trailed, and of one such copy
    async with pool.acquire() as conn:
        for who in (leader, copier):
            number, block_hash = await conn.fetchrow(
                """SELECT block_number, block_hash FROM orderflow_trades
                    WHERE wallet_address = $1 AND is_taker_aggregate AND side = 'BUY'
                    ORDER BY timestamp DESC LIMIT 1""",
                who,
            )
            assert (await retract_block(conn, 137, number, block_hash)).trades > 0
    summary = await run_reputation(pool)
    assert summary.incremental and summary.copy_cells == "updated"
    reorged = _copier_of(await _same_as_full(pool), copier)
    assert reorged[0] < after[0], (after, reorged)
    for a in (first, second):  # the independent pair stays unflagged
        assert "COPIER" not in (await pool.fetchval(
            "SELECT flags FROM orderflow_wallet_stats WHERE wallet_address = $1", a))  # fmt: skip
    await _full_equals_incremental(pool)


async def test_a_window_change_an_as_of_run_and_a_detached_partition_rebuild_the_cells(
    pool: asyncpg.Pool,
) -> None:
    w, leader, copier, _, _, late = _world(seed=93)
    await w.finish(pool)
    await run_reputation(pool)
    assert (await run_reputation(pool)).copy_cells == "rebuilt"
    rows = await _same_as_full(pool)
    assert _copier_of(rows, copier)[0] >= 30
    # another window: the stored inputs' fingerprint moves (a full run), then the cells are
    # rebuilt for it, not updated
    narrow = ReputationSettings(copy_window_secs=20)
    assert not (await run_reputation(pool, settings=narrow)).incremental
    summary = await run_reputation(pool, settings=narrow)
    assert summary.incremental and summary.copy_cells == "rebuilt"
    assert _copier_of(await _same_as_full(pool, narrow), copier)[0] < _copier_of(rows, copier)[0]
    summary = await run_reputation(pool)  # back: a full run, then rebuilt
    summary = await run_reputation(pool)
    assert summary.incremental and summary.copy_cells == "rebuilt"
    # an --as-of run scans and leaves the stored inputs and cells alone: the next live run
    # updates them
    past = await pool.fetchval("SELECT max(timestamp) - interval '20 days' FROM orderflow_trades")
    assert not (await run_reputation(pool, as_of=past)).incremental
    s = late[0]
    t, outcome, q = _skilled_buy(w, s)
    w.take(s, t, leader, outcome, 150.0, price=q)
    w.take(s, t + 30.0, copier, outcome, 100.0, price=min(0.99, q + 0.01))
    await w.chain.ingest(pool)
    assert (await run_reputation(pool)).copy_cells == "updated"
    await _same_as_full(pool)
    # a partition detached: its buys leave the evidence (rebuilt), attached again: a full run
    # that keeps the cells, then updates
    oldest = await pool.fetchval(
        """SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
            WHERE i.inhparent = 'orderflow_trades'::regclass ORDER BY c.relname LIMIT 1"""
    )
    async with pool.acquire() as conn:
        await partitions.detach(conn, oldest)
    summary = await run_reputation(pool)
    assert summary.incremental and summary.copy_cells == "rebuilt"
    await _same_as_full(pool)
    async with pool.acquire() as conn:
        await partitions.attach(conn, oldest)
    summary = await run_reputation(pool)
    assert summary.reattached and summary.copy_cells == "rebuilt"
    await _same_as_full(pool)
    w.take(s, t + 40.0, copier, outcome, 100.0, price=min(0.99, q + 0.02))
    await w.chain.ingest(pool)
    assert (await run_reputation(pool)).copy_cells == "updated"
    await _same_as_full(pool)


@pytest.mark.parametrize("look_back", [4, ReputationSettings().copy_look_back])
async def test_dense_buying_stays_equal_across_runs_and_retractions(
    pool: asyncpg.Pool, look_back: int
) -> None:
    """Many wallets buying the same few tokens minutes apart at random prices (every buy with
    partners, the pairs crossing buckets and runs), some blocks retracted between runs. With a
    look-back of 4 most buys have more partners in the window than they are paired with: the
    bound's pairs cross buckets and regions too."""
    s = ReputationSettings(copy_look_back=look_back)
    w = World(seed=94, markets=6, neg_risk_events=0)
    wallets = [w.new_wallet() for _ in range(12)]
    specs = [s for s in w.specs if 0.2 < s.opening < 0.8][:4]
    bursts = [(s, s.opens + w.rng.uniform(0.1, 0.4) * DAY) for s in specs for _ in range(3)]

    def burst(n: int) -> None:
        for _ in range(n):
            s, t0 = w.rng.choice(bursts)
            who = w.rng.choice(wallets)
            t = t0 + w.rng.uniform(0.0, 900.0)
            w.take(s, t, who, w.rng.choice((0, 1)), 50.0, price=w.rng.choice((0.4, 0.45, 0.5)))

    burst(150)
    await w.finish(pool)
    await run_reputation(pool, settings=s)
    assert (await run_reputation(pool, settings=s)).copy_cells == "rebuilt"
    assert await pool.fetchval(f"SELECT count(*) FROM {CELLS}") > 50
    await _same_as_full(pool, s, min_markets=1)
    if look_back == 4:  # the bound bites: fewer trailing buys than the window alone gives
        async with pool.acquire() as conn, conn.transaction():
            secs = float(s.copy_window_secs)
            await conn.execute(sql.BUYS, await conn.fetchval("SELECT now()"),
                               timedelta(seconds=secs), secs)  # fmt: skip
            await conn.execute(sql.cells("TRUE"), secs, 10**6)
            unbounded = await conn.fetchval("SELECT sum(trail) FROM rep_copy_cells")
        assert await pool.fetchval(f"SELECT sum(trail) FROM {CELLS}") < unbounded
    for step in range(4):
        burst(40)
        await w.chain.ingest(pool)
        if step % 2:
            async with pool.acquire() as conn:
                for number, block_hash in await conn.fetch(
                    """SELECT DISTINCT block_number, block_hash FROM orderflow_trades
                        WHERE is_taker_aggregate AND side = 'BUY'
                        ORDER BY block_number DESC LIMIT 3 OFFSET $1""",
                    10 * step,
                ):
                    await retract_block(conn, 137, number, block_hash)
        summary = await run_reputation(pool, settings=s)
        assert summary.incremental and summary.copy_cells == "updated"
        pairs = await _same_as_full(pool, s, min_markets=1)
        assert len(pairs) > 20 and any(r[3] for r in pairs)  # pairs, some both ways


async def test_prints_at_one_are_no_buys_of_the_reference(pool: asyncpg.Pool) -> None:
    """The reference's taker buys are levels, as the shipped statement's (line_sql.PRICED since
    session 41): a wallet printing at 1.00 seconds after a skilled taker's buys in 40 tokens
    trails nobody in either. Until 7 Dec 2026 the reference read ``size > 0``: its prints were
    buys there, so the reference found the printer a trailer of the leader in every token the
    shipped statement rightly left out (the rows differed: the oracle disagreed with the rule)."""
    w, leader, printer, _ = _printer_world(seed=81)
    await w.finish(pool)
    await run_reputation(pool)
    assert (await run_reputation(pool)).copy_cells == "rebuilt"
    rows = await _same_as_full(pool, min_markets=1)
    assert _copier_of(rows, printer) == ()
    assert not any(leader in r[:2] and printer in r[:2] for r in rows)


async def test_only_the_pairs_past_the_token_minimum_are_kept(pool: asyncpg.Pool) -> None:
    """A pair is read only past ``copy_min_markets`` tokens (the run's rows, ``orderflow
    wallet``'s leaders and copiers), and an update recomputes a touched pair's sums from its
    cells: a pair short of the minimum kept is kept for nothing. Nearly every pair is such a
    chance meeting in one token (docs/benchmarks.md "The COPIER evidence at mainnet density":
    not one pair of 676,656 trailed in two tokens); the copier's pair and the two skilled
    wallets' are past it here."""
    w, leader, copier, _, _, _ = _world(seed=93)
    await w.finish(pool)
    await run_reputation(pool)
    assert (await run_reputation(pool)).copy_cells == "rebuilt"
    minimum = ReputationSettings().copy_min_markets
    short = await pool.fetchval(f"SELECT count(*) FROM {PAIRS} WHERE markets < $1", minimum)
    assert short == 0
    assert await pool.fetchval(f"SELECT count(*) FROM {CELLS}") > 0
    kept = await pool.fetch(f"SELECT f, l FROM {PAIRS}")
    assert (copier, leader) in {(r["f"], r["l"]) for r in kept}
    await _same_as_full(pool)
