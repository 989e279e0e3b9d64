"""The agent loop: wallets decide, taker orders match against market makers, markets resolve.

Pure and deterministic: one ``random.Random(seed)`` drives everything and events are processed
from a heap ordered by (time, sequence number), so the same config always yields the same
timeline. The output is a list of :class:`Preparation`, :class:`Match` and :class:`Resolution`
records in time order — what happened, in the simulator's own terms; ``orderflow.sim.emit``
turns them into raw chain logs.

A match is a taker order against 1-3 market makers. A taker BUY of a token is filled by a maker
selling that token when it holds enough (transfer) or else by a maker buying the complementary
token at ``1 - price`` (mint); a taker SELL is filled by makers buying the token (transfer).
"""

from __future__ import annotations

import heapq
import random
from dataclasses import dataclass, field
from typing import Literal

from orderflow.sim.agents import Wallet
from orderflow.sim.config import SimConfig
from orderflow.sim.markets import Condition, logit, sigmoid, to_cents

Side = Literal["BUY", "SELL"]
SHARE_STEP = 10_000  # fills are whole hundredths of a share (base units: 6 decimals)
MIN_SHARES = 5_000_000  # Polymarket's usual minimum order size: 5 shares
DAY = 86_400.0


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
    cents: int
    shares: int
    usdc: int
    fee: int  # collateral, charged to the taker (V2 rule); 0 on maker rows
    makers: tuple[MakerFill, ...]
    reason: str  # why the taker traded: its style, or "panic" / "take-profit"


@dataclass(frozen=True, slots=True)
class Preparation:
    time: float
    condition: int


@dataclass(frozen=True, slots=True)
class Resolution:
    time: float
    condition: int


Event = Preparation | Match | Resolution


@dataclass
class _State:
    cfg: SimConfig
    rng: random.Random
    wallets: list[Wallet]
    conditions: list[Condition]
    end: float
    makers: list[int] = field(default_factory=list)
    open: list[int] = field(default_factory=list)
    beliefs: dict[tuple[int, int], float] = field(default_factory=dict)
    holders: dict[int, set[int]] = field(default_factory=dict)  # token key -> panic holders
    pending_panic: set[tuple[int, int]] = field(default_factory=set)
    heap: list[tuple[float, int, str, int, int]] = field(default_factory=list)
    seq: int = 0
    events: list[Event] = field(default_factory=list)

    def push(self, time: float, kind: str, a: int, b: int = 0) -> None:
        self.seq += 1
        heapq.heappush(self.heap, (time, self.seq, kind, a, b))

    def hash32(self) -> str:
        return f"0x{self.rng.getrandbits(256):064x}"


def run(
    cfg: SimConfig, rng: random.Random, wallets: list[Wallet], conditions: list[Condition]
) -> list[Event]:
    """Play the whole history and return its events in time order."""
    start = cfg.start_time.timestamp()
    st = _State(cfg, rng, wallets, conditions, end=start + cfg.days * DAY)
    st.makers = [i for i, w in enumerate(wallets) if w.style == "market_maker"]
    for c in conditions:
        st.push(c.created_at, "open", c.index)
        if c.resolves_at <= st.end:
            st.push(c.resolves_at, "resolve", c.index)
    for i, w in enumerate(wallets):
        if w.activity > 0:
            st.push(start + rng.expovariate(w.activity / DAY), "act", i)
    while st.heap:
        time, _, kind, a, b = heapq.heappop(st.heap)
        if time > st.end:
            break
        if kind == "open":
            st.open.append(a)
            st.events.append(Preparation(time, a))
        elif kind == "resolve":
            _resolve(st, time, a)
        elif kind == "act":
            _act(st, time, a)
            st.push(time + rng.expovariate(wallets[a].activity / DAY), "act", a)
        elif kind == "panic":
            st.pending_panic.discard((a, b))
            _panic_sell(st, time, a, b)
    return st.events


def _resolve(st: _State, now: float, index: int) -> None:
    c = st.conditions[index]
    c.resolved = True
    if index in st.open:
        st.open.remove(index)
    total = sum(c.payouts)
    for w in st.wallets:
        for outcome in (0, 1):
            shares = w.holdings.pop(index * 2 + outcome, 0)
            w.cash += shares * c.payouts[outcome] // total
    st.events.append(Resolution(now, index))


def _belief(st: _State, wallet_index: int, c: Condition) -> float:
    """The wallet's private estimate of P(YES), drawn once per wallet and condition.

    In log-odds: ``skill * truth + (1 - skill) * opinion + noise``, where the opinion is drawn
    independently of the truth. Skill 0 knows nothing (its buys win as often as the price says,
    before costs); skill 1 knows the truth up to a little noise.
    """
    key = (wallet_index, c.index)
    if key not in st.beliefs:
        skill = st.wallets[wallet_index].skill
        opinion = st.rng.gauss(0.0, 1.5)
        noise = st.rng.gauss(0.0, 0.25)
        st.beliefs[key] = sigmoid(skill * logit(c.true_p) + (1.0 - skill) * opinion + noise)
    return st.beliefs[key]


def _act(st: _State, now: float, wi: int) -> None:
    w = st.wallets[wi]
    if not st.open:
        return
    if w.style == "skilled" and _take_profit(st, now, wi):
        return
    if w.style == "skilled":
        sample = st.rng.sample(st.open, min(3, len(st.open)))
        c = max(
            (st.conditions[i] for i in sample),
            key=lambda c: abs(_belief(st, wi, c) - c.yes_price(now)),
        )
    else:
        c = st.conditions[st.rng.choice(st.open)]
    est = _belief(st, wi, c)
    edge_yes = est - c.yes_price(now)
    threshold = 0.04 if w.style == "skilled" else 0.01
    if abs(edge_yes) < threshold:
        return
    outcome = 0 if edge_yes > 0 else 1
    q = c.price(outcome, now)
    p_est = est if outcome == 0 else 1.0 - est
    budget = _budget(st.rng, w, p_est, q)
    _take(st, now, wi, c, outcome, "BUY", budget_usdc=budget, reason=w.style)


def _budget(rng: random.Random, w: Wallet, p_est: float, q: float) -> float:
    """Dollars the wallet wants to spend on this bet, by style."""
    bankroll = w.bankroll / 1_000_000
    if w.style == "skilled":
        kelly = max(0.0, (p_est - q) / (1.0 - q))
        dollars = min(0.2 * kelly, 0.08) * bankroll
    elif w.style == "lucky":
        dollars = rng.uniform(0.15, 0.35) * bankroll
    elif w.style == "whale":
        dollars = rng.uniform(0.02, 0.10) * bankroll
    else:
        dollars = rng.uniform(0.03, 0.12) * bankroll
    return min(dollars, 0.9 * w.cash / 1_000_000)


def _take_profit(st: _State, now: float, wi: int) -> bool:
    """A skilled wallet sells a holding whose price went past its own estimate."""
    w = st.wallets[wi]
    for key, shares in sorted(w.holdings.items()):
        c = st.conditions[key // 2]
        if shares < MIN_SHARES or c.resolved or now < c.created_at:
            continue
        outcome = key % 2
        est = _belief(st, wi, c)
        mine = est if outcome == 0 else 1.0 - est
        if c.price(outcome, now) > mine + 0.03:
            _take(st, now, wi, c, outcome, "SELL", shares=shares, reason="take-profit")
            return True
    return False


def _panic_sell(st: _State, now: float, wi: int, key: int) -> None:
    w = st.wallets[wi]
    c = st.conditions[key // 2]
    shares = w.holdings.get(key, 0)
    if c.resolved or shares < MIN_SHARES:
        return
    _take(st, now, wi, c, key % 2, "SELL", shares=shares, reason="panic")


def _take(
    st: _State,
    now: float,
    wi: int,
    c: Condition,
    outcome: int,
    side: Side,
    *,
    budget_usdc: float = 0.0,
    shares: int = 0,
    reason: str,
) -> None:
    """Fill one taker order against market makers and move the price."""
    w = st.wallets[wi]
    pre = c.price(outcome, now)
    notional = budget_usdc if side == "BUY" else shares / 1_000_000 * pre
    delta = min(1.0, notional / c.liquidity)
    post = sigmoid(logit(pre) + (delta if side == "BUY" else -delta))
    cents = to_cents((pre + post) / 2)
    if side == "BUY":
        shares = int(budget_usdc * 1_000_000 * 100 / cents) // SHARE_STEP * SHARE_STEP
    if shares < MIN_SHARES:
        return
    usdc = shares * cents // 100
    fee = _fee(st.cfg, shares, cents)
    if side == "BUY" and usdc + fee > w.cash:
        return
    makers = _split(st, c, outcome, side, shares, cents)
    if side == "BUY":
        w.cash -= usdc + fee
        w.holdings[c.index * 2 + outcome] = w.holdings.get(c.index * 2 + outcome, 0) + shares
        w.entry_cents[c.index * 2 + outcome] = cents
        if w.style == "panic":
            st.holders.setdefault(c.index * 2 + outcome, set()).add(wi)
    else:
        w.cash += usdc - fee
        w.holdings.pop(c.index * 2 + outcome, None)
    st.events.append(
        Match(
            now,
            c.index,
            st.hash32(),
            w.address,
            side,
            outcome,
            cents,
            shares,
            usdc,
            fee,
            makers,
            reason,
        )
    )
    c.impact(outcome, side == "BUY", usdc / 1_000_000, now)
    _watch_panic(st, now, c)


def _fee(cfg: SimConfig, shares: int, cents: int) -> int:
    """V2 taker fee in collateral base units: shares * rate * p * (1 - p), rounded down."""
    if cfg.exchange != "v2" or cfg.taker_fee_bps == 0:
        return 0
    return shares * cfg.taker_fee_bps * cents * (100 - cents) // (10_000 * 10_000)


def _split(
    st: _State, c: Condition, outcome: int, side: Side, shares: int, cents: int
) -> tuple[MakerFill, ...]:
    """Divide a taker order among 1-3 makers and book their side of it."""
    k = min(st.rng.randint(1, 3), shares // MIN_SHARES)
    pieces = []
    left = shares
    for _ in range(k - 1):
        piece = shares // k // SHARE_STEP * SHARE_STEP
        pieces.append(piece)
        left -= piece
    pieces.append(left)
    fills = []
    key = c.index * 2 + outcome
    for piece in pieces:
        mi = st.rng.choice(st.makers)
        maker = st.wallets[mi]
        if side == "SELL":
            fills.append(
                MakerFill(st.hash32(), maker.address, "BUY", outcome, piece, piece * cents // 100)
            )
            maker.holdings[key] = maker.holdings.get(key, 0) + piece
        elif maker.holdings.get(key, 0) >= piece:
            fills.append(
                MakerFill(st.hash32(), maker.address, "SELL", outcome, piece, piece * cents // 100)
            )
            maker.holdings[key] -= piece
        else:
            other = c.index * 2 + (1 - outcome)
            fills.append(
                MakerFill(
                    st.hash32(),
                    maker.address,
                    "BUY",
                    1 - outcome,
                    piece,
                    piece * (100 - cents) // 100,
                )
            )
            maker.holdings[other] = maker.holdings.get(other, 0) + piece
    return tuple(fills)


def _watch_panic(st: _State, now: float, c: Condition) -> None:
    """Schedule a sale for every panic seller whose holding fell past its threshold."""
    for outcome in (0, 1):
        key = c.index * 2 + outcome
        holders = st.holders.get(key)
        if not holders:
            continue
        price = c.price(outcome, now)
        for wi in sorted(holders):
            w = st.wallets[wi]
            if w.holdings.get(key, 0) < MIN_SHARES:
                holders.discard(wi)
                continue
            entry = w.entry_cents.get(key, 0) / 100
            if price <= entry * (1.0 - w.panic_drop) and (wi, key) not in st.pending_panic:
                st.pending_panic.add((wi, key))
                st.push(now + st.rng.uniform(20.0, 600.0), "panic", wi, key)
