"""Complete-set arbitrageurs: buy every outcome of a market when the set costs less than it pays.

A complete set pays a known amount whatever happens: YES and NO of a binary market pay 1; YES on
every leg of a neg-risk event pays 1 (exactly one leg wins); NO on every leg pays (legs - 1). An
arbitrageur scans every open market at each decision, prices each set at the best asks plus the
taker fee of each leg, and buys the most profitable one as taker orders on every token, leg by
leg at the best price only (as many shares as the thinnest leg shows there, within its stake),
then holds it to resolution. No leg carries any information: the wallet has no view.

The book keeps both tokens of a condition as one book (:mod:`orderflow.sim.book`), so a binary
market's two asks sum to 1 plus the spread and never make an arbitrage; neg-risk legs have a book
each, and makers quoting them around stale or inventory-skewed fair values can leave their asks
summing below 1 (or their bids above 1); and makers of different skill and inventory skew do
not trade with each other, so a binary book can be crossed (one maker's YES bid above another's
YES ask): its YES and NO asks then sum below 1.
"""

from __future__ import annotations

from orderflow.sim.exchange import MIN_SHARES, State, refresh, take

Leg = tuple[int, int]  # (condition, outcome)


def _fee_cents(st: State, cents: int) -> float:
    """The taker fee per share at ``cents``, in cents (V2: rate * p * (1 - p); V1: none)."""
    if st.cfg.exchange != "v2":
        return 0.0
    return st.cfg.taker_fee_bps * cents * (100 - cents) / 1_000_000


def complete_sets(st: State) -> list[tuple[list[Leg], int]]:
    """Every complete set of the open markets and what one set pays, in cents."""
    sets: list[tuple[list[Leg], int]] = []
    seen: set[int] = set()
    for ci in st.open:
        c = st.conditions[ci]
        if not c.neg_risk:
            sets.append(([(ci, 0), (ci, 1)], 100))
            continue
        legs = st.legs[c.event]
        if c.event in seen or any(li not in st.open for li in legs):
            continue
        seen.add(c.event)
        sets.append(([(li, 0) for li in legs], 100))
        sets.append(([(li, 1) for li in legs], 100 * (len(legs) - 1)))
    return sets


def _priced(st: State, now: float, legs: list[Leg]) -> tuple[float, list[int], int] | None:
    """A set's cost in cents (asks plus fees), each leg's ask, and the shares at those asks."""
    asks: list[int] = []
    depth: int | None = None
    for ci, outcome in legs:
        book = refresh(st, now, ci)
        cents = book.taker_price("BUY", outcome)
        if cents is None:
            return None
        asks.append(cents)
        at = book.depth_at("BUY", outcome, cents)
        depth = at if depth is None else min(depth, at)
    cost = sum(a + _fee_cents(st, a) for a in asks)
    return cost, asks, depth or 0


def arbitrage(st: State, now: float, wi: int) -> None:
    """One decision of an arbitrageur: buy the most profitable complete set, if any."""
    w = st.wallets[wi]
    best: tuple[float, list[Leg], list[int], int] | None = None
    for legs, pays in complete_sets(st):
        priced = _priced(st, now, legs)
        if priced is None:
            continue
        cost, asks, depth = priced
        profit = pays - cost
        if profit > 0 and (best is None or profit > best[0]):
            best = (profit, legs, asks, depth)
    if best is None:
        return
    _, legs, asks, depth = best
    cost_per_share = sum(asks) / 100
    stake = st.rng.uniform(*w.bet) * w.bankroll
    shares = min(depth, int(stake / cost_per_share)) // 10_000 * 10_000
    for (ci, outcome), cents in zip(legs, asks, strict=True):
        if shares < MIN_SHARES:
            return
        m = take(
            st,
            now,
            wi,
            ci,
            outcome,
            "BUY",
            limit_cents=cents,
            budget=shares * cents // 100 + cents,
            shares=shares,
            reason="arbitrage",
        )
        if m is None:
            return
        shares = m.shares  # the next legs buy what this one got: the set stays complete
