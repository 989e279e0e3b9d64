"""Styles real Polymarket has that the first populations lacked (none unless a population names
them, so the default world is unchanged byte for byte):

* ``copier``      — a copy-trading bot: it mirrors one leader's taker trades (buys and sells of
                    the same token) 4 to 60 seconds later, at the book's price then, with its
                    own stake; it forms no view (skill 0). Its leader is a truly skilled taker
                    when the world has one (a leaderboard's top), else a retail wallet; with
                    ``Population.copy_list`` it mirrors that many leaders (a list);
* ``late_buyer``  — buys the favourite at 0.80-0.97 in a market's last 12 hours before its
                    scheduled resolution (the time is public), the one its view likes best
                    among up to three markets, if its view says it is cheap (a view without
                    skill is the opinion noise every wallet has); with ``Population.late_skill``
                    it is an insider who knows the outcome's direction hours before it is
                    called, and buys only favourites that will win;
* ``leg_trader``  — trades only neg-risk events' legs, one view on several legs at once: YES on
                    the leg it likes and NO on up to two rivals (``leg_mode`` +1: every leg of
                    the bet pays when its candidate wins), or YES on its two favourite legs (a
                    dutch book, ``leg_mode`` -1); holds;
* ``lucky_whale`` — a whale's bankroll (0.3-2M USDC) and one or two bets in a month of 20-50 %
                    of it at 0.15-0.60: one big win or loss, no forecast beyond its drawn skill.

Sybil groups (``Population.sybil_groups``) are retail wallets that share one operator's skill
and opinions (:func:`orderflow.sim.traders.view`).
"""

from __future__ import annotations

from orderflow.sim.exchange import MIN_SHARES, State, refresh
from orderflow.sim.markets import HOUR
from orderflow.sim.traders import _buy, _sell_all, best_buy, view

LATE_HOURS = 12.0  # a late buyer acts in a market's last hours before its resolution
ACTS = frozenset({"late_buyer", "leg_trader"})  # styles whose decisions this module takes


def act(st: State, now: float, wi: int) -> None:
    """One decision of a late buyer or a leg trader."""
    if not st.open:
        return
    if st.wallets[wi].style == "late_buyer":
        _late(st, now, wi)
    else:
        _legs(st, now, wi)


def copy(st: State, now: float, wi: int, packed: int) -> None:
    """A copier mirrors its leader's trade of token ``packed // 2`` (a sale when odd)."""
    key, sell = divmod(packed, 2)
    ci, outcome = divmod(key, 2)
    if ci not in st.open:
        return
    w = st.wallets[wi]
    if sell:
        if w.holdings.get(key, 0) >= MIN_SHARES:
            _sell_all(st, now, wi, key, "copy")
        return
    cents = refresh(st, now, ci).taker_price("BUY", outcome)
    if cents is None:
        return
    _buy(st, now, wi, ci, outcome, cents, st.rng.uniform(*w.bet) * w.bankroll, "copy")


def _late(st: State, now: float, wi: int) -> None:
    """Buy, among up to three markets in their last ``LATE_HOURS``, the outcome priced in the
    wallet's range (the favourite) that its view likes best."""
    w = st.wallets[wi]
    pool = [ci for ci in st.open if 0 < st.conditions[ci].resolves_at - now <= LATE_HOURS * HOUR]
    best = best_buy(st, now, wi, pool)
    if best is None or best[0] <= 0:  # it buys what its view says is cheap, or nothing
        return
    _, ci, outcome, cents = best
    _buy(st, now, wi, ci, outcome, cents, st.rng.uniform(*w.bet) * w.bankroll, "late")


def _legs(st: State, now: float, wi: int) -> None:
    """One bet on a neg-risk event whose legs are all open, spread over several legs."""
    w = st.wallets[wi]
    is_open = set(st.open)
    events = sorted(e for e, legs in st.legs.items() if all(li in is_open for li in legs))
    if not events:
        return
    legs = st.legs[st.rng.choice(events)]
    lo, hi = w.price_range
    yes: list[tuple[float, int, int]] = []  # (edge by its view, leg, ask in cents)
    no: list[tuple[float, int, int]] = []
    for li in legs:
        book = refresh(st, now, li)
        v = view(st, wi, li, now)
        for outcome, side in ((0, yes), (1, no)):
            cents = book.taker_price("BUY", outcome)
            if cents is not None and lo <= cents / 100 <= hi:
                side.append(((v if outcome == 0 else 1 - v) - cents / 100, li, cents))
    yes.sort(reverse=True)
    no.sort(reverse=True)
    if not yes:
        return
    if w.leg_mode > 0:  # YES on its candidate, NO on up to two rivals
        chosen = [(yes[0][1], 0, yes[0][2])]
        chosen += [(li, 1, cents) for _, li, cents in no if li != yes[0][1]][:2]
    else:  # a dutch book: YES on its two favourite candidates
        chosen = [(li, 0, cents) for _, li, cents in yes[:2]]
    stake = st.rng.uniform(*w.bet) * w.bankroll / len(chosen)
    for li, outcome, cents in chosen:
        _buy(st, now, wi, li, outcome, cents, stake, "legs")
