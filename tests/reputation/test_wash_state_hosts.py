"""The stored counterparty evidence after changes that reach a wallet only through its host:
each is found by one step of the closure (``orderflow.reputation.wash_assemble``), and with that
step left out the assembled rows differ from ``WASH``'s. (The populations of
``test_wash_state.py`` exercise the other steps.)"""

from __future__ import annotations

import math

import asyncpg
import pytest

from orderflow.reputation import wash_assemble, wash_state
from tests.reputation.population import World, round_trip_ring
from tests.reputation.test_wash_counterparty import make_markets
from tests.reputation.test_wash_identity import SETTINGS
from tests.reputation.wash_state_step import STORED, differing_rows, wash_step


async def _ring_hosting_a_maker(pool: asyncpg.Pool) -> tuple[World, str, str, str, str]:
    """A ring (round trips at the market price) whose host also trades with a market maker, a
    few fills: the maker is one of the host's top counterparties, so the ring hosts it (a wallet
    without a group of its own, off the market with no one). The cells built; (world, host, the
    two other members, the maker)."""
    w = World(seed=8, markets=12, neg_risk_events=1)
    host, a, b, maker = (w.new_wallet() for _ in range(4))
    round_trip_ring(w, [host, a, b], 8)
    # two fills a taker: no larger ring of the maker's (a partner of one trades with it over
    # wash_min_fills fills), so the maker is regrouped only as the closure's step says
    make_markets(w, maker, [w.new_wallet() for _ in range(30)], 60, 300.0)
    for s in w.pick(4, binary_only=True):
        w.take(s, s.time(w.rng), host, s.winner, 100.0, maker=maker)
    await w.finish(pool)
    await wash_step(pool, SETTINGS["default"], build=True)
    assert await pool.fetchval(_HOSTED, maker) == host
    return w, host, a, b, maker


@pytest.fixture(autouse=True)
def _always_update(monkeypatch: pytest.MonkeyPatch) -> None:
    """The update itself, whatever the change's size (the switch: test_wash_switch.py)."""
    monkeypatch.setattr(wash_state, "REBUILD_SHARE", math.inf)


_HOSTED = f"SELECT host FROM {STORED} WHERE wallet_address = $1 AND token_id IS NULL"


# New wallets enough to push every old counterparty out of a wallet's stored top members (its
# top 20: orderflow.reputation.wash_ring_sql.RING_MAX), so that a step of the closure other than
# "the members of G's groups" must find them.
WIDE = 24


async def _elsewhere(
    w: World, pool: asyncpg.Pool, who: list[str], usd: float, wallets: int = 3
) -> None:
    """``who`` trade large with ``wallets`` new wallets each, in new markets (no bucket of anyone
    else changes)."""
    for address in who:
        for _ in range(wallets):
            w._add(0.5)
            s = w.specs[-1]
            t = s.opens + (s.resolves - s.opens) * 0.5
            w.take(s, t, address, s.winner, usd, maker=w.new_wallet())
    await w.chain.ingest(pool)


def _leave_out(monkeypatch: pytest.MonkeyPatch, part: str, instead: str) -> None:
    text = wash_assemble._C
    assert part in text
    monkeypatch.setattr(wash_assemble, "_C", text.replace(part, instead))


@pytest.mark.parametrize("left_out", [False, True])
async def test_a_member_leaving_a_ring_changes_its_host(
    pool: asyncpg.Pool, monkeypatch: pytest.MonkeyPatch, left_out: bool
) -> None:
    """The host trades large with new wallets, more than its stored top members: the maker
    leaves its group and its host changes, found only as a member of the rings the changed
    wallets hosted before (``rep_wash_mb``)."""
    w, host, _, _, maker = await _ring_hosting_a_maker(pool)
    if left_out:
        _leave_out(monkeypatch, "r ON r.w = b.w AND r.ring", "r ON FALSE")
    await _elsewhere(w, pool, [host], 20000.0, WIDE)
    stored, full, _ = await wash_step(pool, SETTINGS["default"])
    members = "SELECT count(*) FROM orderflow_wash_members WHERE w = $1 AND cp = $2"
    assert await pool.fetchval(members, host, maker) == 0, "the maker left the host's top members"
    assert await pool.fetchval(_HOSTED, maker) != host
    assert (differing_rows(stored, full) > 0) == left_out


@pytest.mark.parametrize("left_out", [False, True])
async def test_a_ring_opening_changes_its_members_hosts(
    pool: asyncpg.Pool, monkeypatch: pytest.MonkeyPatch, left_out: bool
) -> None:
    """The two other members trade large elsewhere: the host's group opens (its members' own
    volume is elsewhere now), it hosts no ring, the maker's host changes -- found only as a
    member of a group with a changed member (G's groups)."""
    w, host, a, b, maker = await _ring_hosting_a_maker(pool)
    if left_out:
        _leave_out(monkeypatch, "g ON g.w = m.w", "g ON FALSE")
    await _elsewhere(w, pool, [a, b], 100000.0)
    stored, full, _ = await wash_step(pool, SETTINGS["default"])
    assert await pool.fetchval(_HOSTED, maker) != host
    assert (differing_rows(stored, full) > 0) == left_out


async def test_an_off_market_host_is_read_for_its_counterparty(pool: asyncpg.Pool) -> None:
    """A wallet trading at the market with many (no group of its own) buys off the market from a
    market maker (four fills at 0.50, the market at 0.95): it hosts the maker as an off-market
    counterparty. The maker then trades large with new wallets: its row moves (its own share of
    what its host trades with it), and its host -- in no changed pair, no group, not among the
    maker's top counterparties any more -- must be read. (Here it is also one of C's wallets:
    the maker's side of those fills is off the market too, so the host is an off-market
    counterparty of a re-summed wallet; the next test needs U's off-market hosts of C.)"""
    settings = SETTINGS["default"]
    w, host, maker = await _hosted_maker(pool, sells_at_095=False)
    _, before, _ = await wash_step(pool, settings, build=True)
    assert await pool.fetchval(_HOSTED, maker) == host
    assert before[(host, None)][2] is None, "the host has no group"
    await _elsewhere(w, pool, [maker], 100000.0)
    stored, full, _ = await wash_step(pool, settings)
    key = (maker, None)
    assert full[key] != before[key]
    assert differing_rows(stored, full) == 0


@pytest.mark.parametrize("left_out", [False, True])
async def test_an_off_market_host_found_only_by_its_off_market_pair(
    pool: asyncpg.Pool, monkeypatch: pytest.MonkeyPatch, left_out: bool
) -> None:
    """As above, but the maker is the only one trading with others where the host buys off the
    market from it (its takers there buy from it at 0.95): the host's side of those fills is off
    the market (its market is the maker's other fills), the maker's side has no market at all
    (every other fill there is its own, the host's are left out of pass 2's market) -- so the
    maker has no off-market pair with the host, and the host, with no group, a member of no
    changed wallet's group (the maker's takers fill its stored top members), is read only as
    the off-market host of one of C's wallets (U's last step: the pairs of C's wallets whose
    other side has off-market fills)."""
    settings = SETTINGS["default"]
    w, host, maker = await _hosted_maker(pool, sells_at_095=True)
    _, before, _ = await wash_step(pool, settings, build=True)
    assert await pool.fetchval(_HOSTED, maker) == host
    assert before[(host, None)][2] is None, "the host has no group"
    off_pairs = "SELECT off_n FROM orderflow_wash_pairs WHERE w = $1 AND cp = $2"
    assert await pool.fetchval(off_pairs, host, maker) >= 3
    assert await pool.fetchval(off_pairs, maker, host) == 0, "the maker's side is not off"
    members = "SELECT count(*) FROM orderflow_wash_members WHERE w = $1 AND cp = $2"
    assert await pool.fetchval(members, maker, host) == 0, "the host is no top member of the maker"
    if left_out:
        text = wash_assemble._U
        part = "WHERE q.off_n > 0"
        assert part in text
        monkeypatch.setattr(wash_assemble, "_U", text.replace(part, "WHERE FALSE"))
    await _elsewhere(w, pool, [maker], 100000.0)
    stored, full, _ = await wash_step(pool, settings)
    key = (maker, None)
    assert full[key] != before[key]
    assert await pool.fetchval(_HOSTED, maker) == host
    assert (differing_rows(stored, full) > 0) == left_out


async def _hosted_maker(pool: asyncpg.Pool, sells_at_095: bool) -> tuple[World, str, str]:
    """A market maker, and a host that trades at the market with many and buys from the maker
    at 0.50 where the market is at 0.95: set by others' fills (``sells_at_095`` False) or by the
    maker's own sales there (True: with more takers, each larger than the host, than the
    maker's stored top members)."""
    w = World(seed=9, markets=12, neg_risk_events=1)
    host, maker = w.new_wallet(), w.new_wallet()
    if sells_at_095:  # more takers, each trading more with the maker than the host does, than
        # the maker's stored top members (wash_ring_sql.RING_MAX): the host is never one of them
        make_markets(w, maker, [w.new_wallet() for _ in range(WIDE)], 4 * WIDE, 2000.0)
    else:
        make_markets(w, maker, [w.new_wallet() for _ in range(8)], 60, 300.0)
    for _ in range(60):  # the host trades at the market with many: no group of its own
        s = w.rng.choice(w.specs)
        w.take(s, s.time(w.rng), host, s.winner, 100.0, maker=w.new_wallet())
    for s in w.pick(4, binary_only=True):
        t = s.resolves - 0.04 * (s.resolves - s.opens)
        if sells_at_095:
            for lag in (400, 300):
                w.take(s, t - lag, w.new_wallet(), s.winner, 50.0, price=0.95, maker=maker)
        else:
            w.take(s, t - 400, w.new_wallet(), s.winner, 50.0, price=0.95)
        w.take(s, t, host, s.winner, 600.0, price=0.50, maker=maker)
    await w.finish(pool)
    return w, host, maker
