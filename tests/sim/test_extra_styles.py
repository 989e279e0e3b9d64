"""The populations of orderflow.sim.extra_styles trade as docs/simulator.md says."""

from __future__ import annotations

from collections import Counter, defaultdict

from orderflow.sim import SimConfig, simulate, truth_of
from orderflow.sim.agents import SKILLED_THRESHOLD
from orderflow.sim.emit import emit
from orderflow.sim.exchange import Match
from orderflow.sim.extra_styles import LATE_HOURS
from orderflow.sim.markets import HOUR
from orderflow.sim.population import VARIANTS, Population
from orderflow.sim.traders import COPY_DELAY_SECS
from orderflow.sim.world import World


def _world(name: str, seed: int = 2, days: float = 10.0) -> World:
    return simulate(SimConfig.small(seed=seed, days=days, population=VARIANTS[name]))


def _matches(world: World) -> list[Match]:
    return [e for e in world.events if isinstance(e, Match)]


def test_none_of_the_new_styles_without_a_population_naming_them() -> None:
    world = simulate(SimConfig.small(seed=6, days=3.0))
    styles = {w.style for w in world.wallets}
    assert not styles & {"copier", "late_buyer", "leg_trader", "lucky_whale"}
    assert all(w.leader is None and w.sybil is None for w in world.wallets)
    dump = truth_of(world).model_dump(mode="json")
    assert "sybil_groups" not in dump["config"]["population"]  # the dump as before
    assert not {"leader", "sybil_group"} & set(dump["wallets"][0])


def test_copiers_mirror_their_skilled_leader_seconds_later() -> None:
    world = _world("copy_traders")
    truth = truth_of(world)
    copiers = {w.address: w for w in truth.wallets if w.style == "copier"}
    assert len(copiers) == 8 and all(w.skill == 0 for w in copiers.values())
    by = {w.address: w for w in truth.wallets}
    assert all(by[w.leader].truly_skilled for w in copiers.values() if w.leader)
    trades = defaultdict(list)
    for m in _matches(world):
        trades[m.taker].append(m)
    copies = [m for m in _matches(world) if m.taker in copiers]
    assert copies and {m.reason for m in copies} == {"copy"}
    assert {m.side for m in copies} == {"BUY", "SELL"}  # buys and exits both mirrored
    for m in copies:
        leader = copiers[m.taker].leader
        assert leader is not None
        lo, hi = m.time - COPY_DELAY_SECS[1], m.time - COPY_DELAY_SECS[0]
        assert any(
            lo <= t.time <= hi
            and (t.condition, t.outcome, t.side) == (m.condition, m.outcome, m.side)
            for t in trades[leader]
        )


def test_a_list_copier_mirrors_each_of_its_leaders() -> None:
    """``copy_list_traders``: each copier mirrors four leaders (the skilled takers first, then
    retail wallets), every copy trailing one of them; ``copy_traders``' copiers mirror one."""
    world = _world("copy_list_traders")
    copiers = [(i, w) for i, w in enumerate(world.wallets) if w.style == "copier"]
    assert copiers and all(len({w.leader, *w.more_leaders}) == 4 for _, w in copiers)
    address = {i: w.address for i, w in enumerate(world.wallets)}
    trades = defaultdict(list)
    for m in _matches(world):
        trades[m.taker].append(m)
    for _, w in copiers:
        assert w.leader is not None
        mirrored = set()
        for m in trades[w.address]:
            lo, hi = m.time - COPY_DELAY_SECS[1], m.time - COPY_DELAY_SECS[0]
            by = {
                leader
                for leader in (w.leader, *w.more_leaders)
                for t in trades[address[leader]]
                if lo <= t.time <= hi
                and (t.condition, t.outcome, t.side) == (m.condition, m.outcome, m.side)
            }
            assert by, m
            mirrored |= by
        assert len(mirrored) >= 2, (w.address, mirrored)  # not one leader alone
    one = _world("copy_traders")
    assert all(w.more_leaders == () for w in one.wallets)


def test_late_buyers_buy_favourites_in_a_markets_last_hours() -> None:
    world = _world("late_favourite_buyers")
    late = {w.address for w in world.wallets if w.style == "late_buyer"}
    buys = [m for m in _matches(world) if m.taker in late]
    assert len(buys) >= 20 and {m.side for m in buys} == {"BUY"}
    for m in buys:
        left = world.conditions[m.condition].resolves_at - m.time
        assert 0 < left <= LATE_HOURS * HOUR
        assert 0.80 <= m.usdc / m.shares <= 0.99  # the ask in 0.80-0.97, two cents' slippage


def test_late_insiders_know_and_win() -> None:
    """With late_skill the late buyers are truly skilled and win nearly every bet."""
    world = _world("late_insiders", days=14.0)
    late = [w for w in world.wallets if w.style == "late_buyer"]
    assert late and all(0.2 <= w.skill <= 0.5 and w.skill >= SKILLED_THRESHOLD for w in late)
    addresses = {w.address for w in late}
    won = [
        world.conditions[m.condition].payouts[m.outcome] == 1
        for m in _matches(world)
        if m.taker in addresses
        and world.conditions[m.condition].resolves_at
        <= world.config.start_time.timestamp() + 14 * 86_400
    ]
    assert len(won) >= 10 and sum(won) / len(won) >= 0.9


def test_leg_traders_trade_neg_risk_legs_only_one_view_on_several() -> None:
    world = _world("neg_risk_leg_traders")
    legs = {w.address: w.leg_mode for w in world.wallets if w.style == "leg_trader"}
    assert set(legs.values()) == {1, -1}
    per_event: dict[tuple[str, int], set[tuple[int, int]]] = defaultdict(set)
    for m in _matches(world):
        if m.taker in legs:
            c = world.conditions[m.condition]
            assert c.neg_risk and m.side == "BUY"
            per_event[m.taker, c.event].add((m.condition, m.outcome))
    rivals = [k for k, v in per_event.items() if legs[k[0]] == 1 and {o for _, o in v} == {0, 1}]
    dutch = [k for k, v in per_event.items() if legs[k[0]] == -1 and len(v) >= 2]
    assert rivals and dutch
    assert all({o for _, o in per_event[k]} == {0} for k in per_event if legs[k[0]] == -1)


def test_lucky_whales_bet_big_and_rarely() -> None:
    world = _world("lucky_whales", days=14.0)
    whales = {w.address: w for w in world.wallets if w.style == "lucky_whale"}
    assert whales and all(w.bankroll >= 300_000 * 1_000_000 for w in whales.values())
    bets = Counter(m.taker for m in _matches(world) if m.taker in whales)
    assert all(n <= 10 for n in bets.values())  # a match per maker level walked: a bet or two


def test_sybil_groups_share_one_skill_and_one_view() -> None:
    pop = Population(sybil_groups=(2, 4))
    world = simulate(SimConfig.small(seed=3, days=4.0, population=pop))
    groups = defaultdict(list)
    for w in world.wallets:
        if w.sybil is not None:
            groups[w.sybil].append(w)
    assert sorted(len(g) for g in groups.values()) == [4, 4]
    for g in groups.values():
        assert len({w.skill for w in g}) == 1 and g[0].skill >= SKILLED_THRESHOLD
        assert {w.style for w in g} == {"retail"}
    truth = truth_of(world)
    assert sum(w.sybil_group is not None for w in truth.wallets) == 8


def test_the_new_populations_are_deterministic() -> None:
    for name in ("copy_traders", "neg_risk_leg_traders"):
        cfg = SimConfig.small(seed=5, days=3.0, population=VARIANTS[name])
        assert emit(simulate(cfg)).logs == emit(simulate(cfg)).logs
