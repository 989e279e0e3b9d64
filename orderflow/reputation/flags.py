"""Behaviour flags: trading that looks like skill and cannot be copied.

* ``MARKET_MAKER`` -- more than ``maker_share_flag`` of the wallet's volume is on the maker side
  of its fills (resting orders that others crossed): its profit is the spread and rebates, its
  fills are not decisions a follower can take seconds later;
* ``WASH`` -- either (a) at least ``wash_min_share`` of its volume is against its top
  ``wash_top_k`` counterparties (over ``wash_min_fills`` fills), at least ``wash_min_share`` of
  those partners' own volume is against the group (a closed ring) and the wallet traded back at
  least ``wash_min_round_trip`` of its shares (``wash_round_trip``: a ring churns, a thin market's
  honest traders, a closed group too, buy and hold), or (b) at least
  ``wash_off_share`` of its judged volume (over ``wash_min_fills`` fills) was filled
  ``wash_deviation`` or more away from every prevailing price around the fill set by other
  wallets (the volume-weighted price of the market's other trades in the same
  ``wash_window_secs`` bucket, the one before and the one after: a taker trading right after news
  sits on the price that follows). Judged volume: its fills with such a price (a fill with no
  other trade around cannot be judged), never less than ``wash_min_judged_share`` of its whole
  volume (the share arrives from ``rep_wash`` so taken);
* ``WASH_COUNTERPARTY`` -- not WASH itself, but a WASH wallet's counterparty (its host,
  :data:`orderflow.reputation.wash_sql.WASH`: the WASH wallet it trades most with): one of
  the host's top ``wash_top_k`` group members (a ring) or the other side of its off-market
  fills, over ``wash_min_fills`` fills, holding at least ``wash_counterparty_min_share`` of the
  host's volume (a market maker that merely filled a few of a ring member's orders holds less).
  A ring partner that makes markets elsewhere has a small ring share of its own volume (shown
  as ``wash_host_own_share``), so WASH misses it; its losses may be staged for the ring all the
  same (set whatever the wallet's volume);
* ``PENNY_PICKER`` -- more than ``penny_share_flag`` of the USDC it spent on buys went to
  outcomes priced above 0.9 (favourites that win 95 % of the time at zero edge) at a level
  (:func:`is_penny`: a print at 1.00 is no CLOB buy, no favourite bought);
* ``HEDGED`` -- more than ``hedged_share_flag`` of the USDC it spent on buys went into complete
  sets its taker fills bought and kept: holdings that pay the same whatever the outcome (YES and
  NO of one market; YES, or NO, on every leg of a neg-risk event; ``hedged_volume``,
  orderflow.reputation.hedged_sql.HEDGED_CTES), their legs first bought within
  ``hedged_leg_window_secs`` of each other. A complete-set arbitrageur earns a cent or two a set
  with no losing event, but each leg alone is a coin flip: a follower copying one leg buys no
  edge, copying all of them finds the arbitrage gone. A trader who bought one side on
  information and, after the price moved, locked the gain in by buying the complement holds sets
  too, but its first leg was the decision: no arbitrage, not HEDGED.
* ``COPIER`` -- a copy-trading wallet: at least ``copy_min_share`` of its taker buys trail the
  buys of the wallets it copies (its leaders: one, or a list) of the same token by at most
  ``copy_window_secs`` (and ``copy_look_back`` buys of the token) at a price no better; it
  copies a leader it trails in at least ``copy_min_markets`` tokens, not by chance: of its buys
  within the window of one of the leader's (the later at a price no lower), the trailing ones
  pass a sign test against the leading ones at level ``copy_alpha`` divided by the leaders it
  trails in that many tokens (independent timings put either wallet first as often;
  :mod:`orderflow.reputation.copy_sql` has the evidence). Its record is the leader's decisions
  at a worse price a minute late: following it doubles the leader's signal, delayed. The
  leader keeps its tier (its buys lead, they do not trail).

No flag below ``flag_min_volume`` USDC of volume (but WASH_COUNTERPARTY, whose host must have
it). A flagged wallet is never WHALE or SMART (so never followed); a WASH, WASH_COUNTERPARTY,
HEDGED or COPIER wallet is never DEGEN (so never faded: :data:`UNFADABLE`; a copier's decisions
are its leader's, faded or followed there).
"""

from __future__ import annotations

import math
from decimal import Decimal
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from orderflow.reputation.line_sql import is_level, level_sql
from orderflow.reputation.settings import ReputationSettings

if TYPE_CHECKING:
    from orderflow.reputation.wallet_inputs import WalletInputs

FLAGS = ("MARKET_MAKER", "WASH", "PENNY_PICKER", "WASH_COUNTERPARTY", "HEDGED", "COPIER")
# Never DEGEN and never faded, whatever the score (orderflow.signals.rules reads it too).
UNFADABLE = frozenset({"WASH", "WASH_COUNTERPARTY", "HEDGED", "COPIER"})
PENNY_PRICE = 0.9  # a favourite's price: above it (penny_sql, is_penny)


def penny_sql(price: str) -> str:
    """SQL: whether a buy at the expression ``price`` is a favourite's (PENNY_PICKER's stake):
    above :data:`PENNY_PRICE`, at a level (line_sql.level_sql: strictly below 1). The sums' rule
    (orderflow.reputation.sums_sql's ``penny_u``; migration 099's orderflow_position_sums_sql
    writes the same for the stored sums). Until 7 Dec 2026 a print at 1.00 counted: a wallet
    whose only "favourite" buys were prints at 1.00 was PENNY_PICKER
    (tests/reputation/test_penny_prints.py)."""
    return f"{price} > {PENNY_PRICE} AND {level_sql(price)}"


def is_penny(price: Decimal) -> bool:
    """:func:`penny_sql` in Python (the per-wallet replay, orderflow.reputation.per_wallet)."""
    return price > Decimal(str(PENNY_PRICE)) and is_level(price)


# Bits of :func:`own_flag_bits` beyond FLAGS' own: what the two flags that depend on other
# wallets need of the wallet itself (COPIER: the volume minimum; WASH_COUNTERPARTY: its share
# of its host's volume).
ENOUGH_BIT = 1 << 8
HOST_SHARE_BIT = 1 << 9
_OWN = ("MARKET_MAKER", "WASH", "PENNY_PICKER", "HEDGED")


def own_flag_bits(i: WalletInputs, s: ReputationSettings) -> npt.NDArray[np.int16]:
    """What the flags take from the wallet's own inputs: the bits of the flags that depend on
    nothing else (:data:`_OWN`), :data:`ENOUGH_BIT` (``flag_min_volume`` reached) and
    :data:`HOST_SHARE_BIT` (``wash_counterparty_min_share`` of its host's volume). An
    elementwise function of each wallet's inputs: kept with them (``Standing``,
    orderflow.reputation.standing), whatever the other wallets do."""
    with np.errstate(divide="ignore", invalid="ignore"):
        taker = np.where(i.volume > 0, i.taker_volume / i.volume, 1.0)
        penny = np.where(i.buy_volume > 0, i.penny_volume / i.buy_volume, 0.0)
        hedged = np.where(i.buy_volume > 0, i.hedged_volume / i.buy_volume, 0.0)
    enough = i.volume >= s.flag_min_volume
    mm = enough & (1.0 - taker > s.maker_share_flag)
    ring = (
        (i.wash_share >= s.wash_min_share)
        & (i.wash_fills >= s.wash_min_fills)
        & (i.wash_counterparty_share >= s.wash_min_share)
        & (i.wash_round_trip >= s.wash_min_round_trip)
    )
    off_market = (i.wash_off_share >= s.wash_off_share) & (i.wash_off_fills >= s.wash_min_fills)
    wash = enough & (ring | off_market)
    pp = enough & (penny > s.penny_share_flag)
    sets = enough & (hedged > s.hedged_share_flag)
    host_share = i.wash_host_share >= s.wash_counterparty_min_share
    bits = (
        mm.astype(np.int16) * (1 << FLAGS.index("MARKET_MAKER"))
        | wash.astype(np.int16) * (1 << FLAGS.index("WASH"))
        | pp.astype(np.int16) * (1 << FLAGS.index("PENNY_PICKER"))
        | sets.astype(np.int16) * (1 << FLAGS.index("HEDGED"))
        | enough.astype(np.int16) * ENOUGH_BIT
        | host_share.astype(np.int16) * HOST_SHARE_BIT
    )
    return np.asarray(bits, dtype=np.int16)


def combine_flags(
    own: npt.NDArray[np.int16],
    host: npt.NDArray[np.float64],
    copying: npt.NDArray[np.bool_] | None = None,
) -> npt.NDArray[np.int8]:
    """Bit ``b`` set when flag ``FLAGS[b]`` applies, from each wallet's :func:`own_flag_bits`,
    its host (``wash_host``: its index in the same arrays, NaN: none) and ``copying`` (the
    wallets whose buys trail a leader's: :func:`copier_rows`; None: none)."""
    wash_bit = 1 << FLAGS.index("WASH")
    wash = (own & wash_bit) != 0
    enough = (own & ENOUGH_BIT) != 0
    copier = enough & (np.zeros(enough.shape, bool) if copying is None else copying)
    counterparty = ~wash & ((own & HOST_SHARE_BIT) != 0) & host_is_wash(host, wash)
    bits = (
        (own & sum(1 << FLAGS.index(f) for f in _OWN)).astype(np.int8)
        | counterparty.astype(np.int8) * (1 << FLAGS.index("WASH_COUNTERPARTY"))
        | copier.astype(np.int8) * (1 << FLAGS.index("COPIER"))
    )
    return np.asarray(bits, dtype=np.int8)


def flag_bits(
    i: WalletInputs, s: ReputationSettings, copying: npt.NDArray[np.bool_] | None = None
) -> npt.NDArray[np.int8]:
    """Bit ``b`` set when flag ``FLAGS[b]`` applies. ``copying``: the wallets whose buys trail
    a leader's (:func:`copier_rows`; None: none)."""
    return combine_flags(own_flag_bits(i, s), i.wash_host, copying)


HOST_KNOWN_WASH = -1.0


def host_is_wash(
    host: npt.NDArray[np.float64], wash: npt.NDArray[np.bool_]
) -> npt.NDArray[np.bool_]:
    """Whether each wallet's host (``wash_host``: an index into the same arrays, NaN: none) is
    WASH."""
    inside = np.isfinite(host) & (host >= 0) & (host < wash.size)
    at = np.where(inside, host, 0).astype(np.int64)
    return np.asarray(
        np.where(inside, wash[at] if wash.size else False, host == HOST_KNOWN_WASH), dtype=bool
    )


def copier_rows(
    follower: npt.NDArray[np.int64],
    trail: npt.NDArray[np.int64],
    lead: npt.NDArray[np.int64],
    markets: npt.NDArray[np.int64],
    buys: npt.NDArray[np.int64],
    s: ReputationSettings,
) -> npt.NDArray[np.bool_]:
    """Per (follower, leader) row of :mod:`orderflow.reputation.copy_sql`'s ``rep_copy`` (every
    leader a follower trails in ``copy_min_markets`` tokens, ``follower`` naming the follower):
    whether the follower copies the leader (the COPIER rule but the volume minimum).

    A leader is **copied** when the follower's trailing buys pass the sign test against its
    leading ones at ``copy_alpha`` shared among the follower's leaders (Bonferroni: a wallet of a
    crowd is tested against every other, and at ``copy_alpha`` a pair one of them would pass by
    chance), and the follower is a copier of its copied leaders when their trailing buys
    together make ``copy_min_share`` of its taker buys: a bot copying a list of wallets trails
    each in a share of its buys. (A buy trailing two copied leaders counts twice: the cells do
    not say which buys they share; it takes a second copied leader buying the same tokens first,
    another copier of the same leader, say.)"""
    out = np.zeros(trail.shape, dtype=bool)
    tested = (markets >= s.copy_min_markets) & (trail > 0)
    if not tested.any():
        return out
    _, at, tried = np.unique(follower, return_inverse=True, return_counts=True)
    total = np.zeros(tried.shape, dtype=np.int64)
    total[at] = buys  # the follower's taker buys: one figure a follower
    need = s.copy_min_share * total

    def trailing(rows: npt.NDArray[np.bool_]) -> npt.NDArray[np.float64]:
        """Per follower, its trailing buys summed over ``rows``."""
        sums = np.bincount(at, weights=np.where(rows, trail, 0), minlength=tried.size)
        return np.asarray(sums, dtype=np.float64)  # whole counts, exact below 2**53

    # the sign test only where every leader tried together could make the share
    for r in np.flatnonzero(tested & (trailing(tested) >= need)[at]).tolist():
        level = s.copy_alpha / int(tried[at[r]])
        out[r] = sign_test(int(trail[r]), int(trail[r] + lead[r])) <= level
    return np.asarray(out & (trailing(out) >= need)[at], dtype=bool)


def sign_test(k: int, n: int) -> float:
    """P(X >= k) for X ~ Binomial(n, 1/2), exactly (integer sums, one correctly rounded
    division)."""
    if k <= 0:
        return 1.0
    tail = sum(math.comb(n, j) for j in range(k, n + 1))
    return tail / (1 << n)
