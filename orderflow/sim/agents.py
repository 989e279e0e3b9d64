"""The simulated wallets: a style (how they trade) and a skill (what they know), independent.

Skill is an information edge in probability units, drawn from ONE distribution for every style
(market makers and wash traders included): most wallets know nothing the market does not (skill
near 0, some slightly misinformed), ``SKILLED_SHARE`` of them know 3 to 10 cents more. A
wallet's view of P(YES) is the public probability moved ``skill`` toward the hidden current
probability (never past it; a negative skill moves it away), plus opinion noise that has
nothing to do with the truth. The view decides *which* trade among the candidates its style
proposes; the style alone decides when it trades, how much, at which prices and when it exits.
So volume, activity, sizing and exits carry no information about skill; only edge does.

Styles (shares of the trading wallets; market makers come on top):

* ``retail``       — small bankroll, a few bets a week, sometimes exits early;
* ``whale``        — very large bankroll and orders that walk the book;
* ``panic_seller`` — retail that dumps a position when its price falls well below the entry;
* ``penny_picker`` — buys favourites at 0.95-0.99 (calibrated prices: no edge but skill's);
* ``lucky``        — small wallet, a handful of long-shot bets (some win by chance);
* ``wash``         — member of a wash ring: churns volume with its partners off the book; one
                     member of most rings is the *showcase* that buys near-certain winners at
                     0.50 from its partners; wash wallets also place a few real bets;
* ``arbitrageur``  — a bot that buys a complete set (every outcome of a market) when the asks,
                     fees included, sum below its payout, and holds it to resolution; none by
                     default (``Population.shares``), and no view: its skill is 0;
* ``partisan``     — leans one way on a theme of markets sharing a common factor (half of them
                     each way): buys its side of theme markets at the book's price as a taker,
                     whatever the price says, and holds to resolution; none by default, no
                     view: its skill is 0 (it wins or loses with the factor, not by knowing);
* ``market_maker`` — rests orders on both sides of several books and earns the spread; its
                     quotes lean toward the truth by its skill;
* ``copier``, ``late_buyer``, ``leg_trader``, ``lucky_whale`` — none unless a population names
                     them (:mod:`orderflow.sim.extra_styles`): copy-trading bots, buyers of a
                     market's favourite in its last hours (insiders with ``late_skill``),
                     traders of neg-risk legs only, whales with one or two huge bets.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field, replace
from typing import Literal

from orderflow.sim.population import Population

Style = Literal[
    "retail",
    "whale",
    "panic_seller",
    "market_maker",
    "penny_picker",
    "wash",
    "lucky",
    "arbitrageur",
    "partisan",
    "copier",
    "late_buyer",
    "leg_trader",
    "lucky_whale",
]

# truly_skilled = skill >= this (3 cents of information edge).
SKILLED_THRESHOLD = 0.03
# Share of every style drawn from the skilled part of the distribution.
SKILLED_SHARE = 0.05
UNSKILLED_SD = 0.01  # the rest: skill ~ N(0, 0.01)
SKILLED_RANGE = (0.03, 0.10)


@dataclass(frozen=True, slots=True)
class Profile:
    """How one style trades: its share of the population and its ranges."""

    share: float
    bankroll: tuple[int, int]  # USDC, drawn log-uniformly
    activity: tuple[float, float]  # own decisions per day
    bet: tuple[float, float]  # fraction of the bankroll per bet
    exit_prob: float  # chance that a decision is an exit when it holds something
    price_range: tuple[float, float]  # prices it buys at


PROFILES: dict[Style, Profile] = {
    "retail": Profile(0.47, (200, 5_000), (1.0, 6.0), (0.03, 0.10), 0.25, (0.05, 0.95)),
    "whale": Profile(0.04, (50_000, 400_000), (1.0, 4.0), (0.01, 0.04), 0.25, (0.05, 0.95)),
    "panic_seller": Profile(0.13, (300, 6_000), (2.0, 7.0), (0.04, 0.12), 0.05, (0.05, 0.95)),
    "penny_picker": Profile(0.08, (2_000, 30_000), (2.0, 8.0), (0.02, 0.08), 0.0, (0.95, 0.99)),
    "lucky": Profile(0.13, (100, 1_500), (0.05, 0.25), (0.15, 0.40), 0.0, (0.03, 0.40)),
    "wash": Profile(0.15, (2_000, 20_000), (0.3, 1.0), (0.03, 0.10), 0.2, (0.05, 0.95)),
    # none unless a population names a share; scans every open market 24-96 times a day
    "arbitrageur": Profile(0.0, (5_000, 50_000), (24.0, 96.0), (0.02, 0.10), 0.0, (0.01, 0.99)),
    # none unless a population names a share; retail's sizes, never exits
    "partisan": Profile(0.0, (200, 5_000), (1.0, 6.0), (0.03, 0.10), 0.0, (0.05, 0.95)),
    # none unless named (orderflow.sim.extra_styles): a copier acts only when its leader trades
    "copier": Profile(0.0, (500, 10_000), (0.0, 0.0), (0.03, 0.10), 0.0, (0.01, 0.99)),
    "late_buyer": Profile(0.0, (2_000, 30_000), (3.0, 10.0), (0.03, 0.10), 0.0, (0.80, 0.97)),
    "leg_trader": Profile(0.0, (500, 10_000), (1.0, 5.0), (0.03, 0.10), 0.0, (0.03, 0.97)),
    "lucky_whale": Profile(0.0, (300_000, 2_000_000), (0.03, 0.1), (0.20, 0.50), 0.0, (0.15, 0.60)),
}
NO_VIEW: frozenset[Style] = frozenset({"arbitrageur", "partisan", "copier"})  # skill 0
# styles with no share unless a population names one (so the default world is unchanged)
NAMED_ONLY: frozenset[Style] = NO_VIEW | {"late_buyer", "leg_trader", "lucky_whale"}


@dataclass(slots=True)
class Wallet:
    """One wallet and its mutable state during the run (cash and holdings in base units)."""

    address: str
    style: Style
    skill: float
    bankroll: int  # USDC base units (6 decimals)
    activity: float  # own decisions per day
    bet: tuple[float, float] = (0.0, 0.0)
    exit_prob: float = 0.0
    price_range: tuple[float, float] = (0.05, 0.95)
    panic_drop: float = 0.0  # panic sellers: fall from the entry price that triggers a sale
    lean: int = 0  # partisans: +1 buys the theme's "up" side, -1 its "down" side
    leader: int | None = None  # copiers: the wallet whose taker trades it mirrors
    more_leaders: tuple[int, ...] = ()  # copiers of a list: the others it mirrors too
    sybil: int | None = None  # sybil wallets: their operator's group (one view per group)
    leg_mode: int = 0  # leg traders: +1 YES on a leg and NO on rivals, -1 YES on two legs
    wash_ring: int | None = None
    showcase: bool = False
    half_spread: float = 0.0  # market makers
    refresh_secs: float = 0.0  # market makers: how often their quotes are renewed
    cash: int = 0
    deposited: int = 0  # collateral put in: the bankroll, plus a top-up whenever it ran short
    holdings: dict[int, int] = field(default_factory=dict)  # token key -> shares (base units)
    entry_cents: dict[int, int] = field(default_factory=dict)  # token key -> last entry price


@dataclass(frozen=True, slots=True)
class Ring:
    ring: int
    members: tuple[int, ...]  # wallet indices
    showcase: int | None


def _address(rng: random.Random) -> str:
    return f"0x{rng.getrandbits(160):040x}"


def _usdc(rng: random.Random, low: float, high: float) -> int:
    """A bankroll drawn log-uniformly between low and high dollars, in base units."""
    dollars = math.exp(rng.uniform(math.log(low), math.log(high)))
    return int(dollars) * 1_000_000


def draw_skill(rng: random.Random, pop: Population | None = None) -> float:
    """One draw from the skill distribution shared by every style."""
    share, skilled = (
        (SKILLED_SHARE, SKILLED_RANGE) if pop is None else (pop.skilled_share, pop.skilled_range)
    )
    if rng.random() < share:
        return rng.uniform(*skilled)
    return rng.gauss(0.0, UNSKILLED_SD)


def profile(style: Style, pop: Population) -> Profile:
    """A style's profile in ``pop``: PROFILES with the population's overrides. When ``pop``
    names any share, retail takes what the other styles leave unless it is named too."""
    p = PROFILES[style]
    if pop.shares:
        if style in pop.shares:
            p = replace(p, share=pop.share(style, p.share))
        elif style == "retail":
            others = sum(pop.share(s, q.share) for s, q in PROFILES.items() if s != style)
            p = replace(p, share=max(0.0, 1.0 - others))
    if style == "penny_picker":
        p = replace(
            p,
            price_range=pop.penny_prices or p.price_range,
            activity=pop.penny_activity or p.activity,
        )
    if style == "lucky":
        p = replace(p, activity=pop.lucky_activity or p.activity, bet=pop.lucky_bet or p.bet)
    return p


def _trader(rng: random.Random, style: Style, pop: Population) -> Wallet:
    p = profile(style, pop)
    wallet = Wallet(
        _address(rng),
        style,
        draw_skill(rng, pop),
        _usdc(rng, *p.bankroll),
        rng.uniform(*p.activity),
        p.bet,
        p.exit_prob,
        p.price_range,
    )
    if style in NO_VIEW:  # it forms no view: what it knows never enters its trades
        wallet.skill = 0.0
    if style == "late_buyer" and pop.late_skill is not None:
        wallet.skill = rng.uniform(*pop.late_skill)
    if wallet.skill >= SKILLED_THRESHOLD:
        wallet.activity *= pop.skilled_activity
    if style == "panic_seller":
        wallet.panic_drop = rng.uniform(0.12, 0.3)
    return wallet


def _maker(rng: random.Random, pop: Population) -> Wallet:
    wallet = Wallet(_address(rng), "market_maker", draw_skill(rng, pop), 2_000_000 * 1_000_000, 0.0)
    wallet.half_spread = rng.uniform(0.01, 0.03)
    wallet.refresh_secs = rng.uniform(60.0, 900.0)
    if pop.maker_activity[1] > 0:  # directional bets besides the quotes
        wallet.activity = rng.uniform(*pop.maker_activity)
        wallet.bet = pop.maker_bet
    return wallet


def make_wallets(
    rng: random.Random, count: int, pop: Population | None = None
) -> tuple[list[Wallet], list[Ring]]:
    """``count`` trading wallets in PROFILES proportions (``pop``'s, when given), then market
    makers, then wash rings.

    Styles are assigned by exact quota (then shuffled) so that even small runs contain every
    style. Every wallet's skill comes from :func:`draw_skill`; so that each run has market
    makers with and without skill, when all makers fall on one side one maker swaps its skill
    with a random wallet of the other side (the skills drawn, as a multiset, are unchanged).
    """
    pop = pop or Population()
    low = pop.ring_size[0]
    styles: list[Style] = []
    for style in PROFILES:
        share = profile(style, pop).share
        if share == 0 and style in NAMED_ONLY:  # none unless named
            continue
        styles.extend([style] * max(low if style == "wash" else 1, round(share * count)))
    styles = styles[:count]
    while len(styles) < count:
        styles.append("retail")
    rng.shuffle(styles)
    wallets = [_trader(rng, style, pop) for style in styles]
    partisans = [w for w in wallets if w.style == "partisan"]
    for k, w in enumerate(partisans):  # half lean each way (no random number drawn)
        w.lean = 1 if k % 2 == 0 else -1
    makers = [_maker(rng, pop) for _ in range(max(4, count // 30))]
    wallets.extend(makers)
    _mix_maker_skill(rng, wallets)
    rings = _rings(rng, wallets, pop.ring_size)
    assign_extra_roles(rng, wallets, pop)
    for wallet in wallets:
        wallet.cash = wallet.deposited = wallet.bankroll
    return wallets, rings


def assign_extra_roles(rng: random.Random, wallets: list[Wallet], pop: Population) -> None:
    """Leaders of copiers, sybil groups and leg traders' modes (no random number is drawn
    unless the population has sybils)."""
    styles = ("retail", "whale", "panic_seller")
    copiers = [w for w in wallets if w.style == "copier"]
    if copiers:  # copy bots follow the skilled takers (a leaderboard's top), else any retail
        leaders = [
            i for i, w in enumerate(wallets) if w.style in styles and w.skill >= SKILLED_THRESHOLD
        ] or [i for i, w in enumerate(wallets) if w.style == "retail"]
        # a list: the skilled first, then other retail wallets (a list picked by past profit
        # holds luck as well), each copier's list starting at its own leader
        listed = leaders + [
            i for i, w in enumerate(wallets) if w.style == "retail" and i not in leaders
        ]
        n = min(pop.copy_list, len(listed))
        for k, w in enumerate(copiers):
            w.leader = leaders[k % len(leaders)]
            w.more_leaders = tuple(
                listed[(k % len(leaders) + j) % len(listed)] for j in range(1, n)
            )
    legs = [w for w in wallets if w.style == "leg_trader"]
    for k, w in enumerate(legs):  # half each way
        w.leg_mode = 1 if k % 2 == 0 else -1
    groups, size = pop.sybil_groups
    if groups:
        retail = [w for w in wallets if w.style == "retail" and w.wash_ring is None]
        for g in range(groups):
            skill = rng.uniform(*pop.skilled_range)
            for w in retail[g * size : (g + 1) * size]:
                w.skill, w.sybil = skill, g


def _mix_maker_skill(rng: random.Random, wallets: list[Wallet]) -> None:
    makers = [w for w in wallets if w.style == "market_maker"]
    for want_skilled in (True, False):
        if any((m.skill >= SKILLED_THRESHOLD) == want_skilled for m in makers):
            continue
        donors = [
            w
            for w in wallets
            if w.style != "market_maker"
            and w.style not in NO_VIEW
            and (w.skill >= SKILLED_THRESHOLD) == want_skilled
        ]
        if donors:
            donor, maker = rng.choice(donors), rng.choice(makers)
            donor.skill, maker.skill = maker.skill, donor.skill


def _rings(rng: random.Random, wallets: list[Wallet], sizes: tuple[int, int]) -> list[Ring]:
    """Group wash wallets into rings of ``sizes`` (3 to 5); most rings get a showcase wallet."""
    wash = [i for i, w in enumerate(wallets) if w.style == "wash"]
    rings: list[Ring] = []
    while len(wash) >= sizes[0]:
        size = min(len(wash), rng.randint(*sizes))
        if 0 < len(wash) - size < sizes[0]:  # too few left for a ring of their own
            size = len(wash)
        members, wash = tuple(wash[:size]), wash[size:]
        showcase = members[0] if not rings or rng.random() < 0.7 else None
        ring = Ring(len(rings), members, showcase)
        for i in members:
            wallets[i].wash_ring = ring.ring
            wallets[i].showcase = i == showcase
        rings.append(ring)
    for i in wash:  # too few left for a ring: they trade as retail would
        wallets[i].style = "retail"
    return rings
