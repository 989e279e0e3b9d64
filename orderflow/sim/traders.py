"""What takers and wash rings decide; :mod:`orderflow.sim.exchange` carries it out.

A wallet's style says when it acts, how much it stakes, which prices it buys at and when it
exits; its view (see :mod:`orderflow.sim.agents`) only picks among the candidates its style
proposes. That is the whole of skill: the same style with more skill chooses better trades,
with the same timing, sizes and turnover.
"""

from __future__ import annotations

from orderflow.sim.arbitrage import arbitrage
from orderflow.sim.exchange import MIN_SHARES, State, direct, fair_value, refresh, take
from orderflow.sim.markets import HOUR

OPINION_SD = 0.04  # sd of a wallet's opinion of a market, independent of the truth
CANDIDATES = 3  # markets a taker looks at per decision
SLIPPAGE_CENTS = 2  # how far past the best price a taker's limit goes
WASH_EVENTS_PER_MEMBER_DAY = 2.0
COPY_DELAY_SECS = (4.0, 60.0)  # a copy bot's lag behind its leader's fill (2-30 blocks)


def view(st: State, wi: int, ci: int, now: float) -> float:
    """The wallet's P(YES) for condition ``ci``: fair value by its skill plus its opinion."""
    sybil = st.wallets[wi].sybil
    key = (wi, ci) if sybil is None else (-1 - sybil, ci)  # a sybil group holds one opinion
    opinion = st.opinions.get(key)
    if opinion is None:
        opinion = st.opinions[key] = st.rng.gauss(0.0, OPINION_SD)
    v = fair_value(st, wi, st.conditions[ci], now) + opinion
    return min(0.999, max(0.001, v))


def act(st: State, now: float, wi: int) -> None:
    """One decision of a taker wallet: a panic sale, an exit, or a new bet."""
    if not st.open:
        return
    w = st.wallets[wi]
    if w.style == "arbitrageur":
        arbitrage(st, now, wi)
        return
    if w.style == "partisan":
        _partisan(st, now, wi)
        return
    held = [
        k
        for k, n in sorted(w.holdings.items())
        if n >= MIN_SHARES and not st.conditions[k // 2].resolved
    ]
    if w.style == "panic_seller" and _panic(st, now, wi, held):
        return
    if held and st.rng.random() < w.exit_prob:
        _exit(st, now, wi, held)
        return
    _bet(st, now, wi)


def best_buy(st: State, now: float, wi: int, pool: list[int]) -> tuple[float, int, int, int] | None:
    """(edge, market, outcome, ask in cents) of the outcome the wallet's view likes best among up
    to ``CANDIDATES`` markets of ``pool`` drawn at random, its ask within the wallet's price
    range; None when no ask is."""
    lo, hi = st.wallets[wi].price_range
    best: tuple[float, int, int, int] | None = None
    for ci in st.rng.sample(pool, min(CANDIDATES, len(pool))):
        book = refresh(st, now, ci)
        v = view(st, wi, ci, now)
        for outcome in (0, 1):
            cents = book.taker_price("BUY", outcome)
            if cents is None or not lo <= cents / 100 <= hi:
                continue
            edge = (v if outcome == 0 else 1 - v) - cents / 100
            if best is None or edge > best[0]:
                best = (edge, ci, outcome, cents)
    return best


def _bet(st: State, now: float, wi: int) -> None:
    w = st.wallets[wi]
    if w.style == "penny_picker":
        pool = [ci for ci in st.open if max(p := st.conditions[ci].public(now), 1 - p) >= 0.93]
    else:
        pool = st.open
    if not pool:
        return
    best = best_buy(st, now, wi, pool)
    stake = st.rng.uniform(*w.bet) * w.bankroll
    if best is None:
        return
    _, ci, outcome, cents = best
    _buy(st, now, wi, ci, outcome, cents, stake, w.style)


def _buy(
    st: State, now: float, wi: int, ci: int, outcome: int, cents: int, stake: float, reason: str
) -> None:
    """A taker buy of ``stake`` USDC at the book's ask ``cents``, a little slippage allowed;
    the wallet's copiers (if any) mirror it a few blocks later."""
    match = take(
        st,
        now,
        wi,
        ci,
        outcome,
        "BUY",
        limit_cents=min(99, cents + SLIPPAGE_CENTS),
        budget=int(stake),
        reason=reason,
    )
    if match is not None:
        _copied(st, now, wi, ci * 2 + outcome, sell=False)


def _copied(st: State, now: float, wi: int, key: int, *, sell: bool) -> None:
    """Schedule each copier of ``wi`` to mirror its trade of token ``key`` 4-60 s later."""
    for copier in st.copiers.get(wi, ()):
        st.push(
            now + st.rng.uniform(COPY_DELAY_SECS[0], COPY_DELAY_SECS[1]),
            "copy",
            copier,
            key * 2 + sell,
        )


def _partisan(st: State, now: float, wi: int) -> None:
    """A partisan's decision: buy its side of an open theme market at the book's price (if in
    its price range), whatever the price says; it never exits."""
    w = st.wallets[wi]
    pool = [ci for ci in st.open if st.conditions[ci].theme_side >= 0]
    if not pool:
        return
    ci = st.rng.choice(pool)
    side = st.conditions[ci].theme_side
    outcome = side if w.lean > 0 else 1 - side
    cents = refresh(st, now, ci).taker_price("BUY", outcome)
    lo, hi = w.price_range
    if cents is None or not lo <= cents / 100 <= hi:
        return
    _buy(st, now, wi, ci, outcome, cents, st.rng.uniform(*w.bet) * w.bankroll, "partisan")


def _sell_all(st: State, now: float, wi: int, key: int, reason: str) -> bool:
    w = st.wallets[wi]
    ci, outcome = key // 2, key % 2
    book = refresh(st, now, ci)
    bid = book.taker_price("SELL", outcome)
    if bid is None:
        return False
    shares = w.holdings.get(key, 0)
    limit = max(1, bid - 2 * SLIPPAGE_CENTS)
    match = take(st, now, wi, ci, outcome, "SELL", limit_cents=limit, shares=shares, reason=reason)
    if match is None:
        return False
    _copied(st, now, wi, key, sell=True)
    return True


def _exit(st: State, now: float, wi: int, held: list[int]) -> None:
    """Sell the holding the wallet's view likes least (for a zero-skill wallet: any one)."""

    def appeal(key: int) -> float:
        v = view(st, wi, key // 2, now)
        return (v if key % 2 == 0 else 1 - v) - st.conditions[key // 2].public(now)

    _sell_all(st, now, wi, min(held, key=appeal), "exit")


def _panic(st: State, now: float, wi: int, held: list[int]) -> bool:
    """Dump the first holding whose price fell ``panic_drop`` below its entry."""
    w = st.wallets[wi]
    for key in held:
        bid = st.books[key // 2].taker_price("SELL", key % 2)
        entry = w.entry_cents.get(key, 0)
        if bid is not None and bid <= entry * (1.0 - w.panic_drop):
            return _sell_all(st, now, wi, key, "panic")
    return False


# --- wash rings -------------------------------------------------------------------------------


def ring_rate(st: State, ring: int) -> float:
    """Wash events per day of a ring."""
    return WASH_EVENTS_PER_MEMBER_DAY * len(st.rings[ring].members)


def wash(st: State, now: float, ring: int) -> None:
    """One wash event: the showcase buys a near-certain winner at 0.50 from a partner, or two
    members churn a round trip (open now at the mid, unwind a few hours later)."""
    if not st.open:
        return
    r = st.rings[ring]
    if r.showcase is not None and st.rng.random() < 0.25:
        _showcase(st, now, ring)
        return
    others = [m for m in r.members if m != r.showcase]
    a, b = st.rng.sample(others if len(others) >= 2 else list(r.members), 2)
    ci = st.rng.choice(st.open)
    book = refresh(st, now, ci)
    mid = _mid_cents(st, now, ci, book.best_yes(bid=True), book.best_yes(bid=False))
    shares = int(st.rng.uniform(300, 3_000)) * 1_000_000
    cash = min(st.wallets[a].cash, st.wallets[b].cash)
    shares = min(shares, cash * 8 // 10 // 1_000_000 * 1_000_000)
    if direct(st, now, a, b, ci, 0, "BUY", mid, shares, "wash") is not None:
        st.push(now + st.rng.uniform(0.5, 12.0) * HOUR, "unwind", ci, _pack(a, b))


def _mid_cents(st: State, now: float, ci: int, bid: int | None, ask: int | None) -> int:
    if bid is None or ask is None:
        return max(2, min(98, round(st.conditions[ci].public(now) * 100)))
    return max(2, min(98, (bid + ask) // 2))


def _pack(a: int, b: int) -> int:
    return a * 1_000_000 + b


def unwind(st: State, now: float, ci: int, packed: int) -> None:
    """Close a churn: A sells its YES, B its NO, to each other (a merge)."""
    a, b = divmod(packed, 1_000_000)
    c = st.conditions[ci]
    if c.resolved:
        return
    shares = min(st.wallets[a].holdings.get(ci * 2, 0), st.wallets[b].holdings.get(ci * 2 + 1, 0))
    book = refresh(st, now, ci)
    mid = _mid_cents(st, now, ci, book.best_yes(bid=True), book.best_yes(bid=False))
    direct(st, now, a, b, ci, 0, "SELL", mid, shares, "wash")


def _showcase(st: State, now: float, ring: int) -> None:
    r = st.rings[ring]
    assert r.showcase is not None
    s = r.showcase
    favourites = []
    for ci in st.open:
        p = st.conditions[ci].public(now)
        if max(p, 1 - p) >= 0.9:
            v = view(st, s, ci, now)
            favourites.append((max(v, 1 - v), ci, 0 if p >= 0.5 else 1))
    if not favourites:
        return
    _, ci, outcome = max(favourites)
    cents = 50 if st.cfg.population.showcase_price == "half" else _price_cents(st, now, ci, outcome)
    partner = st.rng.choice([m for m in r.members if m != s])
    shares = int(st.rng.uniform(200, 2_000)) * 1_000_000
    direct(st, now, s, partner, ci, outcome, "BUY", cents, shares, "wash-showcase")


def _price_cents(st: State, now: float, ci: int, outcome: int) -> int:
    """What a taker would pay for ``outcome`` now: the book's best offer, else the public price."""
    cents = refresh(st, now, ci).taker_price("BUY", outcome)
    if cents is None:
        p = st.conditions[ci].public(now)
        cents = round(100 * (p if outcome == 0 else 1 - p))
    return max(2, min(98, cents))
