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
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
import pytest

from orderflow.chain.rollback import rollback_from
from orderflow.reputation import (
    ReputationSettings,
    run_reputation,
    wash_assemble,
    wash_partials_sql,
    wash_state,
)
from orderflow.reputation.wash_sql import WASH, wash_settings
from tests.reputation.population import World, round_trip_ring, wash_ring
from tests.reputation.test_incremental_wash import stored_wash_differs
from tests.reputation.test_wash_counterparty import make_markets
from tests.reputation.test_wash_identity import SETTINGS, random_population, wash_population

Rows = dict[tuple[str, Any], tuple[Any, ...]]

_STORED = "test_wash_stored"  # rep_wash as the last step left it (orderflow_reputation_wash)
_THIN = """CREATE TEMP TABLE rep_positions ON COMMIT DROP AS
SELECT wallet_address, sum(bought_gross_u + sold_gross_u)::numeric AS shares_u
  FROM orderflow_position_sums WHERE fills > 0 GROUP BY wallet_address"""


@pytest.fixture(autouse=True)
def _always_update(monkeypatch: pytest.MonkeyPatch) -> None:
    """The update itself, whatever the change's size (a change here is a large part of a small
    history; the switch to a rebuild: test_wash_switch.py)."""
    monkeypatch.setattr(wash_state, "REBUILD_SHARE", math.inf)


# The position sums changed since the last step, claimed as an incremental run claims them: only
# those wallets' share volumes are compared (orderflow.reputation.wash_tot).
_CLAIM = """CREATE TEMP TABLE test_claimed ON COMMIT DROP AS
WITH d AS (DELETE FROM orderflow_position_sums_changes RETURNING wallet_address)
SELECT DISTINCT wallet_address FROM d"""
_CLAIMED = "SELECT wallet_address FROM test_claimed"


def _bits(v: Any) -> Any:
    return v.hex() if isinstance(v, float) else v


async def _wash_rows(conn: asyncpg.Connection) -> Rows:
    rows = await conn.fetch("SELECT * FROM rep_wash")
    out = {(r["wallet_address"], r["token_id"]): tuple(_bits(v) for v in r.values()) for r in rows}
    assert len(out) == len(rows)
    await conn.execute("DROP TABLE rep_wash")
    return out


async def _step(
    pool: asyncpg.Pool, settings: ReputationSettings, build: bool = False
) -> tuple[Rows, Rows, int]:
    """Build or update the cells; ``rep_wash`` assembled from them, ``WASH``'s, and the number of
    wallets whose verdict flipped (an update; -1: the update found its cells inconsistent)."""
    async with pool.acquire() as conn, conn.transaction():
        as_of = await conn.fetchval("SELECT now()")
        await conn.execute(_CLAIM)
        await conn.execute(_THIN)
        if build:
            await wash_state.begin(conn)
            await wash_state.build(conn, as_of, settings)
            await wash_assemble.assemble(conn, as_of, settings)
            flipped = 0
        else:
            consistent = await wash_state.update(conn, as_of, settings, _CLAIMED)
            flipped = await conn.fetchval("SELECT count(*) FROM rep_wash_f")
            if not consistent:
                return {}, {}, -1
            # the rows of the wallets that can have changed, the others as the last step left
            await wash_assemble.assemble(conn, as_of, settings, stored=_STORED)
        stored = await _wash_rows(conn)
        await conn.execute(WASH, as_of, *wash_settings(settings))
        await conn.execute(f"DROP TABLE IF EXISTS {_STORED}")
        await conn.execute(f"CREATE TABLE {_STORED} AS SELECT * FROM rep_wash")
        full = await _wash_rows(conn)
    return stored, full, flipped


def _diff(a: Rows, b: Rows) -> int:
    return sum(1 for k in a.keys() | b.keys() if a.get(k) != b.get(k))


Change = Callable[[World, asyncpg.Pool], Awaitable[None]]


async def _new_fills(w: World, pool: asyncpg.Pool) -> None:
    """Fills in old buckets (inside crowded trading) and in new ones, off the market and not."""
    for s in w.pick(4, binary_only=True):
        for frac in (0.3, 0.5, 0.7):  # where the random population trades
            t = s.opens + (s.resolves - s.opens) * frac + w.rng.uniform(0, 9000)
            w.take(s, t, w.new_wallet(), s.winner, 80.0, price=round(w.rng.uniform(0.05, 0.95), 2))
        w.take(s, s.resolves - 5000, w.new_wallet(), s.winner, 60.0)
    await w.chain.ingest(pool)


async def _turns_off_market(w: World, pool: asyncpg.Pool) -> None:
    """The busiest wallets not off the market yet buy far off it, in crowded buckets, large:
    their pass-1 verdicts flip, and their old buckets leave pass 2's market."""
    who = await pool.fetch(
        """SELECT c.w FROM orderflow_wash_cells c JOIN orderflow_wash_wallets o ON o.w = c.w
            WHERE NOT o.off1 GROUP BY c.w ORDER BY count(*) DESC, c.w LIMIT 3"""
    )
    for r in who:
        for s in w.pick(3, binary_only=True):
            t = s.opens + (s.resolves - s.opens) * 0.5 + w.rng.uniform(0, 9000)
            far = 0.95 if s.price(t, s.winner) < 0.5 else 0.05
            shares = round(20000.0 / far, 2)  # with a fee (refunded later)
            w.chain.trade(s.market, t, r["w"], "BUY", s.winner, shares, far, w.new_wallet(),
                          mint=True, fee=25.0)  # fmt: skip
    await w.chain.ingest(pool)


async def _ring_forms(w: World, pool: asyncpg.Pool) -> None:
    """A new ring trading at its own price among the crowd: verdicts flip, hosts appear."""
    ring = [w.new_wallet() for _ in range(3)]
    wash_ring(w, ring[0], ring[1:], 10)
    round_trip_ring(w, ring, 6)
    await w.chain.ingest(pool)


async def _rollback(w: World, pool: asyncpg.Pool) -> None:
    """The newest blocks roll back (a reorg): a wash ring's last fills go."""
    await _ring_forms(w, pool)
    top = await pool.fetchval("SELECT max(block_number) FROM orderflow_trades")
    lo = await pool.fetchval(
        "SELECT percentile_disc(0.6) WITHIN GROUP (ORDER BY block_number) FROM orderflow_trades"
    )
    async with pool.acquire() as conn:
        assert (await rollback_from(conn, 137, lo)).trades > 0
    assert top > lo


async def _refund_and_backfill(w: World, pool: asyncpg.Pool) -> None:
    """Fee refunds on taker rows, then one token's market ids unknown and one market's trades
    moved to another market's id (updates of columns WASH reads)."""
    await pool.execute(
        """UPDATE orderflow_trades SET fee = fee / 2
            WHERE is_taker_aggregate AND fee > 0 AND id % 3 = 0"""
    )
    token = await pool.fetchval(
        "SELECT token_id FROM orderflow_trades WHERE market_id IS NOT NULL"
        " GROUP BY token_id ORDER BY count(*) DESC LIMIT 1"
    )
    await pool.execute(
        "UPDATE orderflow_trades SET market_id = NULL, outcome_index = NULL WHERE token_id = $1",
        token,
    )


async def _trade_elsewhere(w: World, pool: asyncpg.Pool, who: list[str], usd: float) -> None:
    """``who`` buy at the market price, ``usd`` each time, from new wallets."""
    for address in who:
        for s in w.pick(3, binary_only=True):
            t = s.opens + (s.resolves - s.opens) * 0.5 + w.rng.uniform(0, 9000)
            w.take(s, t, address, s.winner, usd, maker=w.new_wallet())
    await w.chain.ingest(pool)


async def _hosts_trade_elsewhere(w: World, pool: asyncpg.Pool, usd: float = 3000.0) -> None:
    """The hosts of the most wash counterparties trade elsewhere: their groups' figures and
    share volumes move (their members' hosts with them)."""
    hosts = await pool.fetch(
        f"""SELECT host FROM {_STORED} WHERE host IS NOT NULL
             GROUP BY host ORDER BY count(*) DESC, host LIMIT 3"""
    )
    await _trade_elsewhere(w, pool, [r["host"] for r in hosts], usd)


async def _hosts_trade_large(w: World, pool: asyncpg.Pool) -> None:
    """... large: new wallets take their groups' top places."""
    await _hosts_trade_elsewhere(w, pool, 20000.0)


async def _members_trade_elsewhere(w: World, pool: asyncpg.Pool) -> None:
    """Wash counterparties trade more elsewhere: their share of their host moves."""
    members = await pool.fetch(
        f"SELECT wallet_address FROM {_STORED} WHERE host IS NOT NULL ORDER BY 1 LIMIT 6"
    )
    await _trade_elsewhere(w, pool, [r["wallet_address"] for r in members], 400.0)


async def _refund_off_market_takers(w: World, pool: asyncpg.Pool) -> None:
    """Fee refunds on the taker rows of wallets with off-market taker fees (only those rows)."""
    await pool.execute(
        """UPDATE orderflow_trades SET fee = fee / 4
            WHERE is_taker_aggregate AND fee > 0
              AND wallet_address IN (SELECT w FROM orderflow_wash_taker WHERE tfee > 0)"""
    )


async def _dissolve(w: World, pool: asyncpg.Pool) -> None:
    """A ring's fills deleted outright (its wallets' verdicts flip back, its hosts go)."""
    await pool.execute(
        """DELETE FROM orderflow_trades
            WHERE wallet_address IN (SELECT wallet_address FROM orderflow_wash_wallets
                                      WHERE off1 ORDER BY wallet_address LIMIT 2)"""
    )


def _world(seed: int) -> World:
    w = World(seed=seed, markets=12, neg_risk_events=1)
    random_population(w, wallets=10 + 4 * seed, trades=150 * seed)
    wash_population(w)
    return w


# The wallets the two changes below set up, by world seed (read by the changes that follow them).
_WIDE_CASES: dict[int, tuple[str, str]] = {}
# More wallets than a wallet's stored top members (orderflow.reputation.wash_ring_sql.RING_MAX).
_WIDE = 24


async def _wide_cases(w: World, pool: asyncpg.Pool) -> None:
    """Two cases the stored top 20 members do not reach. A ring of three (round trips) whose
    second member also trades with 21 others, each more than with an outsider that meets it once
    (the member is among the outsider's top members, the outsider not among its). And a wallet
    buying off the market from a market maker (four fills at 0.50, the market at 0.95 set by
    others) beside ten fills at the market with ten others (no group of its own): it hosts the
    maker, which makes markets for 30 takers (two fills each: no group, no larger ring)."""
    ring = [w.new_wallet() for _ in range(3)]
    round_trip_ring(w, ring, 8)
    s = w.pick(1, binary_only=True)[0]
    for _ in range(21):
        w.take(s, s.time(w.rng), w.new_wallet(), s.winner, 20.0, maker=ring[1])
    outsider = w.new_wallet()
    w.take(s, s.time(w.rng), outsider, s.winner, 2.0, maker=ring[1])
    host, maker = w.new_wallet(), w.new_wallet()
    make_markets(w, maker, [w.new_wallet() for _ in range(30)], 60, 300.0)
    for _ in range(10):
        m = w.rng.choice(w.specs)
        w.take(m, m.time(w.rng), host, m.winner, 500.0, maker=w.new_wallet())
    for m in w.pick(4, binary_only=True):
        t = m.resolves - 0.04 * (m.resolves - m.opens)
        w.take(m, t - 400, w.new_wallet(), m.winner, 50.0, price=0.95)
        w.take(m, t, host, m.winner, 600.0, price=0.50, maker=maker)
    _WIDE_CASES[w.seed] = (outsider, host)
    await w.chain.ingest(pool)


async def _in_new_markets(w: World, pool: asyncpg.Pool, who: str, wallets: int, usd: float) -> None:
    """``who`` buys from ``wallets`` new wallets, ``usd`` each, in new markets."""
    for _ in range(wallets):
        w._add(0.5)
        s = w.specs[-1]
        w.take(s, s.opens + (s.resolves - s.opens) * 0.5, who, s.winner, usd, maker=w.new_wallet())
    await w.chain.ingest(pool)


async def _outsider_trades(w: World, pool: asyncpg.Pool) -> None:
    """The outsider trades a little elsewhere: the ring member is one of C's wallets (a member
    of a changed wallet's top members), its ring's other two are not (nor in G): only as the
    rings C's wallets are members of can they host it."""
    await _in_new_markets(w, pool, _WIDE_CASES[w.seed][0], 2, 1.0)


async def _off_market_host_trades_wide(w: World, pool: asyncpg.Pool) -> None:
    """The off-market host trades large with more new wallets than its top members: it hosts
    the maker no more, and the maker -- no group, in no changed pair, not among the host's top
    members now -- is found only as an off-market counterparty of a re-summed wallet."""
    await _in_new_markets(w, pool, _WIDE_CASES[w.seed][1], _WIDE, 8000.0)


_CHANGES: tuple[Change, ...] = (
    _new_fills,
    _turns_off_market,
    _hosts_trade_elsewhere,
    _members_trade_elsewhere,
    _hosts_trade_large,
    _refund_off_market_takers,
    _ring_forms,
    _rollback,
    _refund_and_backfill,
    _dissolve,
    _wide_cases,
    _outsider_trades,
    _off_market_host_trades_wide,
)


@pytest.mark.parametrize("name", list(SETTINGS))
async def test_updated_cells_give_wash_bit_for_bit(pool: asyncpg.Pool, name: str) -> None:
    settings = SETTINGS[name]
    w = _world(6)
    await w.finish(pool)
    stored, full, _ = await _step(pool, settings, build=True)
    assert len(full) > 30 and stored == full
    flips = 0
    for change in _CHANGES:
        await change(w, pool)
        before = full
        stored, full, flipped = await _step(pool, settings)
        assert _diff(before, full) > 0, f"{change.__name__} moved no row"
        assert flipped >= 0 and _diff(stored, full) == 0, change.__name__
        if change is _turns_off_market:
            assert flipped > 0, "the verdicts of wallets with older buckets flipped"
        flips += flipped
    assert flips > 0, "some change flipped a pass-1 verdict"


# Steps of the closure left out (a statement's text, part of it replaced): each makes some
# change of _CHANGES give other rows than WASH's (or trips update's check of the verdicts).
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
    w = _world(6)
    await w.finish(pool)
    await _step(pool, settings, build=True)
    monkeypatch.setattr(where, name, text.replace(old, new))
    for change in _CHANGES:
        await change(w, pool)
        stored, full, flipped = await _step(pool, settings)
        if flipped < 0 or _diff(stored, full):  # seen inconsistent, or wrong rows
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
    w = _world(6)
    await w.finish(pool)
    assert not (await run_reputation(pool)).incremental
    assert (await _state(pool))[0] is False  # a full recompute does not pay for the cells
    assert (await run_reputation(pool)).incremental  # WASH, then the cells built
    assert await _state(pool) == (True, True)
    # a row a build would clear (it truncates): an update keeps it
    marker = "INSERT INTO orderflow_wash_tokens VALUES ('marker', 0)"
    kept = "SELECT count(*) FROM orderflow_wash_tokens WHERE mk = 'marker'"
    await pool.execute(marker)
    for change in (_turns_off_market, _rollback, _refund_and_backfill):
        await change(w, pool)
        assert (await run_reputation(pool)).incremental
        assert await _state(pool) == (True, True)
        assert await pool.fetchval(kept) == 1, "updated, not rebuilt"
    incremental = await pool.fetch("SELECT * FROM orderflow_reputation_wash")

    await _new_fills(w, pool)
    await pool.execute("UPDATE orderflow_wash_state SET fingerprint = 'another SQL'")
    assert (await run_reputation(pool)).incremental  # WASH, then the cells rebuilt
    assert await _state(pool) == (True, True)
    assert await pool.fetchval(kept) == 0, "rebuilt"
    assert await stored_wash_differs(pool, incremental) > 0
    incremental = await pool.fetch("SELECT * FROM orderflow_reputation_wash")
    assert not (await run_reputation(pool, full=True)).incremental
    assert await stored_wash_differs(pool, incremental) == 0

    await _ring_forms(w, pool)
    assert (await run_reputation(pool)).incremental
    incremental = await pool.fetch("SELECT * FROM orderflow_reputation_wash")
    assert not (await run_reputation(pool, full=True)).incremental
    assert await stored_wash_differs(pool, incremental) == 0
