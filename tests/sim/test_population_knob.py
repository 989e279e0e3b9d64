"""SimConfig.population: each knob changes what it says and nothing when left at its default."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from orderflow.sim import SimConfig, simulate, truth_of
from orderflow.sim.agents import SKILLED_THRESHOLD
from orderflow.sim.emit import emit
from orderflow.sim.exchange import Match
from orderflow.sim.markets import draw_theme, make_conditions
from orderflow.sim.population import VARIANTS, Population
from orderflow.sim.world import World


def _small(population: Population, seed: int = 3) -> World:
    return simulate(SimConfig.small(seed=seed, days=6.0, population=population))


def _price(m: Match) -> float:
    return m.usdc / m.shares


def test_the_default_population_is_the_simulators_own() -> None:
    """Naming the default population changes no byte of the logs."""
    a = emit(simulate(SimConfig.small(seed=4, days=3.0))).logs
    b = emit(simulate(SimConfig.small(seed=4, days=3.0, population=Population()))).logs
    assert a == b


def test_shares_and_penny_prices() -> None:
    world = _small(VARIANTS["penny_pickers_0.97"])
    styles = Counter(w.style for w in world.wallets)
    assert styles["penny_picker"] == 16  # 20 % of 80 (8 % by default)
    pennies = {w.address for w in world.wallets if w.style == "penny_picker"}
    buys = [
        m for m in world.events if isinstance(m, Match) and m.taker in pennies and m.side == "BUY"
    ]
    assert buys and all(0.97 <= _price(m) <= 0.99 for m in buys)
    assert all(4.0 <= w.activity <= 12.0 for w in world.wallets if w.style == "penny_picker")


def test_wash_pairs_trade_their_showcase_at_the_markets_price() -> None:
    world = _small(VARIANTS["wash_pairs_at_market"])
    truth = truth_of(world)
    assert truth.wash_rings and all(len(r.wallets) == 2 for r in truth.wash_rings)
    shows = [m for m in world.events if isinstance(m, Match) and m.reason == "wash-showcase"]
    assert shows and all(_price(m) >= 0.85 for m in shows)  # favourites, not 0.50
    churn = [m for m in world.events if isinstance(m, Match) and m.reason == "wash"]
    assert churn  # pairs with a showcase churn too (the showcase is one of the two)


def test_rings_of_five() -> None:
    truth = truth_of(_small(VARIANTS["wash_rings_of_5_at_market"]))
    sizes = [len(r.wallets) for r in truth.wash_rings]
    assert sizes and all(s >= 5 for s in sizes) and sizes.count(5) >= len(sizes) - 1


def test_market_makers_also_bet() -> None:
    world = _small(VARIANTS["makers_directional"])
    makers = {w.address for w in world.wallets if w.style == "market_maker"}
    bets = [m for m in world.events if isinstance(m, Match) and m.taker in makers]
    assert {m.taker for m in bets} == makers
    assert all(m.reason == "market_maker" for m in bets)
    assert not any(m.taker in makers for m in _small(Population()).events if isinstance(m, Match))


def test_lucky_wallets_bet_rarely_and_large() -> None:
    world = _small(VARIANTS["lucky_few_big_bets"])
    lucky = [w for w in world.wallets if w.style == "lucky"]
    assert len(lucky) == 20
    assert all(0.02 <= w.activity <= 0.1 and w.bet == (0.5, 0.9) for w in lucky)


@pytest.mark.parametrize("seed", [1, 2])
def test_skilled_small_edge_busy(seed: int) -> None:
    pop = VARIANTS["skilled_small_edge_busy"]
    world = simulate(SimConfig.small(seed=seed, days=1.0, wallets=400, population=pop))
    skilled = [w for w in world.wallets if w.skill >= SKILLED_THRESHOLD]
    assert skilled and all(w.skill <= 0.05 for w in skilled)
    retail = [w for w in world.wallets if w.style == "retail"]
    busy = [w.activity for w in retail if w.skill >= SKILLED_THRESHOLD]
    assert busy and all(3.0 <= a <= 18.0 for a in busy)  # 3 x (1 to 6) a day


def test_a_population_is_validated() -> None:
    with pytest.raises(ValueError, match="ring_size"):
        Population(ring_size=(1, 3))
    with pytest.raises(ValueError, match="penny_prices"):
        Population(penny_prices=(0.99, 0.97))
    with pytest.raises(ValueError, match="sum to at most 1"):
        Population(shares={"lucky": 0.6, "wash": 0.6})


@pytest.mark.parametrize("seed", [1, 2])
def test_arbitrageurs_buy_complete_sets_below_their_payout(seed: int) -> None:
    """Each arbitrage is a taker BUY of every outcome of one market at one instant, the same
    shares on each leg (YES and NO of a binary market; YES, or NO, on every leg of a neg-risk
    event), costing less than the set pays, fees included; arbitrageurs have no view."""
    world = _small(VARIANTS["arbitrageurs"], seed=seed)
    arbs = {w.address for w in world.wallets if w.style == "arbitrageur"}
    assert len(arbs) == 8 and all(w.skill == 0 for w in world.wallets if w.address in arbs)
    legs_of: dict[int, list[int]] = {}
    for c in world.conditions:
        legs_of.setdefault(c.event, []).append(c.index)
    sets: dict[tuple[str, float], list[Match]] = {}
    for m in world.events:
        if isinstance(m, Match) and m.taker in arbs:
            assert m.reason == "arbitrage" and m.side == "BUY"
            sets.setdefault((m.taker, m.time), []).append(m)
    kinds: Counter[str] = Counter()
    for ms in sets.values():
        c = world.conditions[ms[0].condition]
        assert len({m.shares for m in ms}) == 1
        shares = ms[0].shares
        if c.neg_risk:
            assert sorted(m.condition for m in ms) == legs_of[c.event]
            assert len({m.outcome for m in ms}) == 1
            pays = shares * (len(ms) - 1 if ms[0].outcome == 1 else 1)
            kinds["neg-risk NO" if ms[0].outcome == 1 else "neg-risk YES"] += 1
        else:
            assert sorted(m.outcome for m in ms) == [0, 1] and ms[0].condition == ms[1].condition
            pays = shares
            kinds["binary"] += 1
        assert sum(m.usdc + m.fee for m in ms) < pays
    assert kinds["binary"] and kinds["neg-risk YES"], kinds
    assert not any(w.style == "arbitrageur" for w in _small(Population()).wallets)


def test_a_theme_shares_one_factor_and_keeps_each_markets_prior() -> None:
    """Theme markets (a one-factor Gaussian copula): over many worlds each resolves YES as often
    as its prior says (a price is calibrated for a trader who does not know the factor), while
    within one world nearly all of them go the way the factor went, and they resolve within
    the theme's six hours; standard markets outside the theme and neg-risk events are as
    before."""
    span = 30 * 86_400.0
    expected = won = n = 0.0
    with_factor = against = 0
    for seed in range(300):
        rng = random.Random(seed)
        theme = draw_theme(rng, 0.7, 0.9, 6.0, 0.0, span)
        assert theme is not None
        conditions = make_conditions(rng, 30, 0.3, 0.0, span, theme)
        themed = [c for c in conditions if c.theme_side >= 0]
        assert not any(c.neg_risk for c in themed)
        assert all(
            theme.resolves_at <= c.resolves_at <= theme.resolves_at + 6 * 3600 for c in themed
        )
        for c in themed:
            if c.payouts == (1, 1):
                continue
            n += 1
            expected += c.true_p
            won += c.payouts == (1, 0)
            up_won = c.payouts[c.theme_side] == 1
            if abs(theme.factor) > 1 and 0.3 <= c.true_p <= 0.7:
                with_factor += up_won == (theme.factor > 0)
                against += up_won != (theme.factor > 0)
    assert n > 4000
    assert abs(won - expected) < 3 * (n * 0.25) ** 0.5, (won, expected, n)
    assert with_factor > 0.9 * (with_factor + against), (with_factor, against)
    assert draw_theme(random.Random(1), 0.0, 0.9, 6.0, 0.0, span) is None


def test_a_theme_called_over_two_weeks() -> None:
    """``theme_window_hours``: the theme's markets resolve at uniform times in the window after
    the factor's moment (an election's races called one by one), on many UTC days; the window's
    default leaves a population's dump as it was before the knob."""
    world = simulate(SimConfig(seed=2, population=VARIANTS["common_factor_two_weeks"]))
    theme = world.theme
    assert theme is not None and theme.window_hours == 336.0
    themed = [c.resolves_at for c in world.conditions if c.theme_side >= 0]
    assert len(themed) > 10
    assert all(theme.resolves_at <= t <= theme.resolves_at + 336 * 3600 for t in themed)
    assert len({int(t // 86_400) for t in themed}) >= 7
    assert "theme_window_hours" not in VARIANTS["common_factor"].model_dump()
    assert VARIANTS["common_factor_two_weeks"].model_dump()["theme_window_hours"] == 336.0


@pytest.mark.parametrize("seed", [1, 2])
def test_partisans_buy_their_side_of_the_theme_and_hold(seed: int) -> None:
    """Partisans, half leaning each way, only ever buy their side of theme markets as takers at
    the book's price, never sell; they have no view (skill 0) and the truth says how each
    leaned and how the factor went. None, and no theme, unless a population names them."""
    world = _small(VARIANTS["common_factor"], seed=seed)
    partisans = {w.address: w for w in world.wallets if w.style == "partisan"}
    assert len(partisans) == 8 and all(w.skill == 0 for w in partisans.values())
    assert sorted(w.lean for w in partisans.values()) == [-1] * 4 + [1] * 4
    buys = [m for m in world.events if isinstance(m, Match) and m.taker in partisans]
    assert len(buys) > 50
    for m in buys:
        c = world.conditions[m.condition]
        assert m.side == "BUY" and m.reason == "partisan" and c.theme_side >= 0
        assert m.outcome == (c.theme_side if partisans[m.taker].lean > 0 else 1 - c.theme_side)
    makers = {f.wallet for m in world.events if isinstance(m, Match) for f in m.makers}
    assert not makers & set(partisans)  # takers only: no resting order, so no maker fill
    truth = truth_of(world)
    assert world.theme is not None and truth.theme_factor == round(world.theme.factor, 6)
    assert {w.lean for w in truth.wallets if w.style == "partisan"} == {-1, 1}
    plain = _small(Population(), seed=seed)
    assert not any(w.style == "partisan" for w in plain.wallets)
    assert all(c.theme_side == -1 for c in plain.conditions) and plain.theme is None
    with pytest.raises(ValueError, match="theme_share"):
        Population(shares={"partisan": 0.1})
