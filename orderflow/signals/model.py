"""Win probability and confidence of a signal, from the followed wallet's posterior edge.

The reputation stage stores, per wallet, the posterior of its fee-net edge *per dollar* on its
taker decisions: ``edge`` (posterior mean, shrunk toward the population), ``edge_se`` (posterior
standard deviation), ``p_edge_above_cost`` = P(edge > a follower's cost) and ``p_edge_below_zero``
= P(edge < 0), over ``resolved_buys`` resolved events.

Win probability p (what Kelly needs)
    FOLLOW_WHALE: ``p = q + edge x q``: entry price plus the posterior edge per share (a dollar
    at price q buys 1/q shares, so the edge per share is ``edge x q``). A wallet with a posterior
    edge of +0.10 per dollar buying at 0.55 implies a fair value of 0.605.
    FADE_DEGEN: the token the wallet dumped at q; a sell at q risks ``1 - q`` per share, so a
    seller whose decisions are worth d (negative) per dollar leaves ``-d x (1 - q)`` per share on
    the table: ``p = q - d x (1 - q)``. d is the wallet's edge against the average taker's,
    ``edge - prior_mean``: its fee-net edge counts the spread and fees it paid, which a fader
    pays as well and does not collect (the average taker loses them: ``prior_mean``, 8-15 cents
    a dollar in the demo), so ``p = q - edge x (1 - q)`` credited a fade with the seller's costs.
    A row without the population's mean (an older one): ``prior_mean`` 0, as before.
    q is the lower of the leader's price and the market's last price when we decide: a price
    that fell since the leader's trade (a whale's buy at 0.60, the market at 0.20 a minute
    later) is news the leader did not have, not a discount on its fair value -- anchored at
    0.60, p = 0.72 bought the full per-trade cap at 0.21. A price that rose is the
    ``price_moved`` gate's (risk.py).
    p is clipped to at most 0.98: no estimate of ours is surer than that, and near 1 Kelly
    stakes explode (sizing caps the Kelly fraction as well). It is never raised, only kept at
    least 0: both signals *buy* the token, so a floor above the estimate (it used to be 0.02)
    invents an edge on cheap tokens -- a whale's buy at 0.005 (p = 0.006) was bought at 0.01, a
    price above its own estimated value. A wallet the run has not measured
    (no edge: the stats row of a wallet without a resolved event carries none to the executor)
    gives no p (no trade): the score is never turned into a probability.

Confidence (compared with ``min_signal_confidence``)
    The posterior probability that the bet is right after costs: P(edge > c) to follow, as
    stored by the run, and P(edge - prior_mean < -c) to fade, from the posterior edge and its
    standard deviation (normal: under a prior with a skill tail the posterior is a mixture, but
    a wallet worth fading sits in the prior's bulk, whose normal posterior it then is), where c
    is the follower's cost the run used (a fader crosses the same spread and pays the same fees,
    so a seller losing less than the average taker plus c per dollar is not worth fading:
    P(edge < 0) would fade the average taker, and mild losers, at a loss). For an older row
    without the cost, the stored P(edge < 0); without stored probabilities,
    ``Phi(edge / edge_se)``.
    A missing, zero or NaN standard error means no confidence at all (0): a record with no
    measured uncertainty is not a certainty.
"""

from __future__ import annotations

import math
from decimal import Decimal

from orderflow.signals.rules import SignalType
from orderflow.signals.views import TradeView, WalletView

P_MIN = 0.0  # never raised: a higher floor would invent an edge for a buyer
P_MAX = 0.98


def _phi(z: float) -> float:
    return 0.5 * (1.0 + math.erf(z / math.sqrt(2.0)))


def _finite(x: float | None) -> bool:
    return x is not None and math.isfinite(x)


def _prior_mean(wallet: WalletView) -> float:
    """The average taker's fee-net edge the run shrank toward (0 for a row without it)."""
    mean = wallet.prior_mean
    return mean if mean is not None and math.isfinite(mean) else 0.0


def win_probability(
    signal: SignalType, trade: TradeView, wallet: WalletView, market_price: Decimal | None = None
) -> float | None:
    """p from the wallet's posterior edge, at the lower of the leader's price and the market's
    now (``market_price``): a fall since the leader's trade is news, not a discount."""
    if not _finite(wallet.edge):
        return None
    assert wallet.edge is not None
    q = float(trade.price if market_price is None else min(trade.price, market_price))
    follow = signal is SignalType.FOLLOW_WHALE
    p = q + wallet.edge * q if follow else q - (wallet.edge - _prior_mean(wallet)) * (1.0 - q)
    return min(P_MAX, max(P_MIN, p))


def confidence(signal: SignalType, wallet: WalletView) -> float:
    """Posterior probability that the edge is on our side (0 without a usable uncertainty)."""
    if not _finite(wallet.edge) or not _finite(wallet.edge_se):
        return 0.0
    assert wallet.edge is not None and wallet.edge_se is not None
    if wallet.edge_se <= 0:
        return 0.0
    if signal is SignalType.FADE_DEGEN and _finite(wallet.follower_cost):
        assert wallet.follower_cost is not None
        excess = wallet.edge - _prior_mean(wallet)
        return _phi((-wallet.follower_cost - excess) / wallet.edge_se)
    stored = (
        wallet.p_edge_above_cost if signal is SignalType.FOLLOW_WHALE else wallet.p_edge_below_zero
    )
    if _finite(stored):
        assert stored is not None
        return min(1.0, max(0.0, stored))
    edge = wallet.edge if signal is SignalType.FOLLOW_WHALE else -wallet.edge
    return _phi(edge / wallet.edge_se)


def as_decimal(value: float) -> Decimal:
    return Decimal(repr(value))
