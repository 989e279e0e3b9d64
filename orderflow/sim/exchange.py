"""The simulated exchange: state of one run, market makers' quotes, matching, settlement.

Everything here changes wallets' cash and holdings and appends the events
:mod:`orderflow.sim.emit` turns into logs: :class:`Preparation`, :class:`Split`,
:class:`Merge`, :class:`Match` and :class:`Resolution`, in time order.

Market makers (a few per condition) split collateral into YES/NO inventory when a market opens,
then rest three price levels on each side of the book around their fair value: the public
probability, leaned toward the hidden current probability by their skill, skewed against their
inventory. They renew their quotes every few minutes (when a taker finds them older than their
refresh interval) and merge complete YES/NO sets back into collateral when they hold many.
"""

from __future__ import annotations

import heapq
import math
import random
from dataclasses import dataclass, field

from orderflow.sim.agents import Ring, Wallet
from orderflow.sim.book import SHARE_STEP, Book, Order, Side, Take
from orderflow.sim.config import SimConfig
from orderflow.sim.markets import Condition

MIN_SHARES = 5_000_000  # Polymarket's usual minimum order size: 5 shares
LEVELS = 3  # price levels each market maker rests per side
INVENTORY_CAP_LEVELS = 10  # a maker stops adding to a net position beyond this many level sizes


@dataclass(frozen=True, slots=True)
class MakerFill:
    """One maker order's part of a match, from that maker's point of view."""

    order_hash: str
    wallet: str
    side: Side
    outcome: int  # outcome index of the token the maker traded (0 = YES, 1 = NO)
    shares: int
    usdc: int


@dataclass(frozen=True, slots=True)
class Match:
    """One taker order matched against maker orders: one transaction on chain."""

    time: float
    condition: int
    taker_order_hash: str
    taker: str
    side: Side
    outcome: int
    shares: int
    usdc: int
    fee: int  # collateral, charged to the taker (V2 rule); 0 on maker rows
    makers: tuple[MakerFill, ...]
    reason: str  # why the taker traded: its style, "exit", "panic", "wash", "wash-showcase"
    wash: bool = False  # a wash ring trading with itself, off the book


@dataclass(frozen=True, slots=True)
class Preparation:
    time: float
    condition: int


@dataclass(frozen=True, slots=True)
class Split:
    """A wallet turned ``amount`` collateral into ``amount`` YES and ``amount`` NO."""

    time: float
    condition: int
    wallet: str
    amount: int


@dataclass(frozen=True, slots=True)
class Merge:
    """A wallet turned ``amount`` YES and ``amount`` NO back into ``amount`` collateral."""

    time: float
    condition: int
    wallet: str
    amount: int


@dataclass(frozen=True, slots=True)
class Conversion:
    """NegRiskAdapter.convertPositions: ``amount`` NO of each leg in ``index_set`` (bit i = leg
    i of the event) became ``amount`` YES of every other leg plus (legs converted - 1) *
    ``amount`` collateral."""

    time: float
    condition: int  # the event's first leg
    wallet: str
    market_id: str
    index_set: int
    amount: int
    yes_legs: tuple[int, ...]  # condition indices of the legs whose YES the wallet received


@dataclass(frozen=True, slots=True)
class Resolution:
    time: float
    condition: int


Event = Preparation | Split | Merge | Conversion | Match | Resolution


@dataclass
class State:
    cfg: SimConfig
    rng: random.Random
    wallets: list[Wallet]
    rings: list[Ring]
    conditions: list[Condition]
    end: float
    books: list[Book] = field(default_factory=list)
    makers_of: list[list[int]] = field(default_factory=list)  # condition -> maker indices
    event_makers: dict[int, list[int]] = field(default_factory=dict)  # event -> maker indices
    legs: dict[int, list[int]] = field(default_factory=dict)  # neg-risk event -> its conditions
    open: list[int] = field(default_factory=list)
    opinions: dict[tuple[int, int], float] = field(default_factory=dict)
    heap: list[tuple[float, int, str, int, int]] = field(default_factory=list)
    seq: int = 0
    events: list[Event] = field(default_factory=list)
    holdings: dict[int, dict[int, int]] = field(default_factory=dict)  # wallet -> its holdings
    copiers: dict[int, list[int]] = field(default_factory=dict)  # leader -> its copiers

    def push(self, time: float, kind: str, a: int, b: int = 0) -> None:
        self.seq += 1
        heapq.heappush(self.heap, (time, self.seq, kind, a, b))

    def hash32(self) -> str:
        return f"0x{self.rng.getrandbits(256):064x}"

    def next_seq(self) -> int:
        self.seq += 1
        return self.seq


def fee_of(cfg: SimConfig, shares: int, cents: int) -> int:
    """V2 taker fee in collateral base units: shares * rate * p * (1 - p), rounded down."""
    if cfg.exchange != "v2" or cfg.taker_fee_bps == 0:
        return 0
    return shares * cfg.taker_fee_bps * cents * (100 - cents) // (10_000 * 10_000)


def _round_shares(shares: float) -> int:
    return int(shares) // SHARE_STEP * SHARE_STEP


# --- market makers ----------------------------------------------------------------------------


def open_market(st: State, now: float, ci: int) -> None:
    """A condition is prepared; a few market makers split collateral to hold both sides."""
    c = st.conditions[ci]
    st.open.append(ci)
    st.events.append(Preparation(now, ci))
    chosen = st.event_makers.get(c.event)
    if chosen is None:  # the same makers quote every leg of a neg-risk event
        makers = [i for i, w in enumerate(st.wallets) if w.style == "market_maker"]
        chosen = sorted(st.rng.sample(makers, min(len(makers), st.rng.randint(2, 4))))
        st.event_makers[c.event] = chosen
    st.makers_of[ci] = chosen
    for mi in st.makers_of[ci]:
        amount = _round_shares(c.depth * st.rng.uniform(1.0, 3.0))
        w = st.wallets[mi]
        w.cash -= amount
        for outcome in (0, 1):
            w.holdings[ci * 2 + outcome] = w.holdings.get(ci * 2 + outcome, 0) + amount
        st.events.append(Split(now, ci, w.address, amount))


def fair_value(st: State, wi: int, c: Condition, now: float) -> float:
    """The public probability moved by the wallet's skill toward the hidden one (never past)."""
    public, truth = c.public(now), c.truth(now)
    skill = st.wallets[wi].skill
    lean = max(-abs(skill), min(abs(skill), truth - public))
    return public + (lean if skill >= 0 else -lean)


def refresh(st: State, now: float, ci: int) -> Book:
    """Renew every market maker's quotes on condition ``ci`` that are older than its interval."""
    book = st.books[ci]
    for mi in st.makers_of[ci]:
        if now - book.quoted_at.get(mi, -math.inf) >= st.wallets[mi].refresh_secs:
            _requote(st, now, ci, mi)
    return book


def _requote(st: State, now: float, ci: int, mi: int) -> None:
    c, w, book = st.conditions[ci], st.wallets[mi], st.books[ci]
    book.quoted_at[mi] = now
    yes, no = w.holdings.get(ci * 2, 0), w.holdings.get(ci * 2 + 1, 0)
    pair = min(yes, no)
    if pair >= 4 * c.depth:  # too many complete sets: turn some back into collateral
        amount = _round_shares(pair - 2 * c.depth)
        w.holdings[ci * 2], w.holdings[ci * 2 + 1] = yes - amount, no - amount
        yes, no = yes - amount, no - amount
        w.cash += amount
        st.events.append(Merge(now, ci, w.address, amount))
    if c.neg_risk and no >= 4 * c.depth:
        _convert(st, now, c, mi)
        yes, no = w.holdings.get(ci * 2, 0), w.holdings.get(ci * 2 + 1, 0)
    inventory = yes - no  # net YES exposure
    skew = max(-0.05, min(0.05, 0.02 * inventory / (3 * c.depth)))
    cap = INVENTORY_CAP_LEVELS * c.depth
    fair = fair_value(st, mi, c, now) - skew
    bid = max(1, min(97, math.floor((fair - w.half_spread) * 100 + 1e-9)))
    ask = min(99, max(bid + 1, math.ceil((fair + w.half_spread) * 100 - 1e-9)))
    key = (bid, ask, yes, no)
    if book.quote_key.get(mi) == key:  # nothing filled, nothing moved: the quotes stand
        return
    book.quote_key[mi] = key
    book.cancel_owner(mi)
    orders = []
    for level in range(LEVELS):
        size = _round_shares(c.depth * (1.0 + 0.5 * level))
        bid_c, ask_c = bid - level, ask + level
        if bid_c >= 1 and inventory < cap:
            if no - yes >= size:  # long NO: sell some (at 1 - bid), a YES bid from inventory
                orders.append(Order(mi, "SELL", 1, 100 - bid_c, size, st.next_seq()))
                no -= size
            else:
                orders.append(Order(mi, "BUY", 0, bid_c, size, st.next_seq()))
        if ask_c <= 99 and inventory > -cap:
            if yes - no >= size:  # long YES: sell some
                orders.append(Order(mi, "SELL", 0, ask_c, size, st.next_seq()))
                yes -= size
            else:
                orders.append(Order(mi, "BUY", 1, 100 - ask_c, size, st.next_seq()))
    book.add(*orders)


def _convert(st: State, now: float, c: Condition, mi: int) -> None:
    """A maker long NO on two or more legs of an event converts them through the adapter:
    NO on legs A and B is worth the same as one collateral plus YES on every other leg."""
    w = st.wallets[mi]
    legs = st.legs[c.event]
    heavy = [(i, li) for i, li in enumerate(legs) if w.holdings.get(li * 2 + 1, 0) >= 2 * c.depth]
    if len(heavy) < 2 or any(st.conditions[li].resolved for li in legs):
        return
    amount = _round_shares(min(w.holdings[li * 2 + 1] for _, li in heavy) - c.depth)
    index_set = sum(1 << i for i, _ in heavy)
    for _, li in heavy:
        w.holdings[li * 2 + 1] -= amount
    yes_legs = tuple(li for i, li in enumerate(legs) if not index_set >> i & 1)
    for li in yes_legs:
        w.holdings[li * 2] = w.holdings.get(li * 2, 0) + amount
    w.cash += (len(heavy) - 1) * amount
    for li in {c.index, *(li for _, li in heavy)}:
        st.books[li].quote_key.pop(mi, None)
    st.events.append(Conversion(now, legs[0], w.address, c.market_id, index_set, amount, yes_legs))


# --- trading ----------------------------------------------------------------------------------


def take(
    st: State,
    now: float,
    wi: int,
    ci: int,
    outcome: int,
    side: Side,
    *,
    limit_cents: int,
    budget: int = 0,
    shares: int = 0,
    reason: str,
) -> Match | None:
    """A taker order against the book of ``ci`` (BUY up to ``budget`` collateral and, when
    given, ``shares``; SELL ``shares``), limited to ``limit_cents``; books every party and
    records the match."""
    w = st.wallets[wi]
    book = refresh(st, now, ci)
    best = book.taker_price(side, outcome)
    if best is None:
        return None
    if side == "BUY":
        if w.cash < budget * 102 // 100:  # short of cash: the owner tops the wallet up
            w.deposited += w.bankroll
            w.cash += w.bankroll
        budget = min(budget, w.cash * 99 // 100)  # room for the fee
        if budget * 100 // best < MIN_SHARES:
            return None
    elif shares < MIN_SHARES:
        return None
    takes = book.walk(side, outcome, limit_cents, shares, budget, wi, st.holdings, ci * 2)
    if not takes:
        return None
    st.conditions[ci].close_cents = takes[-1].order.yes_cents
    return _record(st, now, wi, ci, outcome, side, takes, reason, wash=False)


def _record(
    st: State,
    now: float,
    wi: int,
    ci: int,
    outcome: int,
    side: Side,
    takes: list[Take],
    reason: str,
    *,
    wash: bool,
) -> Match:
    w = st.wallets[wi]
    key = ci * 2 + outcome
    total = sum(t.shares for t in takes)
    usdc = sum(t.shares * t.taker_cents // 100 for t in takes)
    fee = sum(fee_of(st.cfg, t.shares, t.taker_cents) for t in takes)
    if side == "BUY":
        w.cash -= usdc + fee
        held = w.holdings.get(key, 0)
        w.holdings[key] = held + total
        w.entry_cents[key] = max(1, round(usdc * 100 / total))
    else:
        w.cash += usdc - fee
        w.holdings[key] = w.holdings.get(key, 0) - total
    fills = []
    for t in takes:
        o, maker = t.order, st.wallets[t.order.owner]
        if not o.order_hash:
            o.order_hash = st.hash32()
        st.books[ci].quote_key.pop(o.owner, None)  # its quotes changed: renew them next time
        collateral = t.shares * o.cents // 100
        mkey = ci * 2 + o.outcome
        if o.side == "BUY":
            maker.cash -= collateral
            maker.holdings[mkey] = maker.holdings.get(mkey, 0) + t.shares
        else:
            maker.cash += collateral
            maker.holdings[mkey] = maker.holdings.get(mkey, 0) - t.shares
        fills.append(
            MakerFill(o.order_hash, maker.address, o.side, o.outcome, t.shares, collateral)
        )
    match = Match(
        now, ci, st.hash32(), w.address, side, outcome, total, usdc, fee, tuple(fills), reason, wash
    )
    st.events.append(match)
    return match


def direct(
    st: State,
    now: float,
    taker: int,
    maker: int,
    ci: int,
    outcome: int,
    side: Side,
    cents: int,
    shares: int,
    reason: str,
) -> Match | None:
    """Two wallets of one ring cross with each other at ``cents`` (taker's token terms), off
    the book: the maker posts the exact complement (a BUY meets a BUY of the other token, a
    mint; a SELL meets a SELL of the other token, a merge) and the taker takes it at once."""
    if shares < MIN_SHARES:
        return None
    other = 1 - outcome
    order = Order(maker, side, other, 100 - cents, shares, st.next_seq())
    if side == "SELL":
        have_t = st.wallets[taker].holdings.get(ci * 2 + outcome, 0)
        have_m = st.wallets[maker].holdings.get(ci * 2 + other, 0)
        if min(have_t, have_m) < shares:
            return None
    else:
        for wi, cost in ((taker, shares * cents // 100), (maker, shares * (100 - cents) // 100)):
            w = st.wallets[wi]
            while w.cash < cost * 102 // 100:  # short of cash: the owner tops the wallet up
                w.deposited += w.bankroll
                w.cash += w.bankroll
    return _record(
        st, now, taker, ci, outcome, side, [Take(order, shares, cents)], reason, wash=True
    )


def resolve(st: State, now: float, ci: int) -> None:
    """Pay every holder of the condition's tokens and close its book."""
    c = st.conditions[ci]
    c.resolved = True
    if ci in st.open:
        st.open.remove(ci)
    st.books[ci].clear()
    total = sum(c.payouts)
    for w in st.wallets:
        for outcome in (0, 1):
            shares = w.holdings.pop(ci * 2 + outcome, 0)
            w.cash += shares * c.payouts[outcome] // total
    st.events.append(Resolution(now, ci))
