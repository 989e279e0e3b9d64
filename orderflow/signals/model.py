"""Win probability and confidence of a signal, from the followed wallet's measured edge.

The reputation stage measures, per wallet, ``edge``: the mean of (payout - entry price) per share
over its resolved buys, shrunk toward 0 for small samples, and ``edge_se``, its standard error.

Win probability p (what Kelly needs)
    FOLLOW_WHALE: ``p = q_w + edge`` where ``q_w`` is the price the wallet paid. A wallet that on
    average buys 6 cents below what its shares pay out, buying at 0.55, implies a fair value of
    0.61 for this share.
    FADE_DEGEN: ``p = q_w - edge``: the same edge mirrored to the sell side. A low-skill wallet's
    edge is negative (it overpays); we assume it also undersells by as much, so the token it
    dumped at ``q_w`` is worth ``q_w + |edge|``.
    p is clipped to [0.001, 0.999]. A wallet without a measured edge gives no p (no trade): the
    score is never turned into a probability (score / 10 has no calibration behind it).

Confidence (compared with ``min_signal_confidence``)
    The geometric mean of two numbers in [0, 1]: how far the score is into the rule's side of the
    scale (``score / 10`` to follow, ``1 - score / 10`` to fade), and how sure the record is that
    the edge has the sign we bet on, ``Phi(edge / edge_se)`` (normal approximation; ``Phi(-edge /
    edge_se)`` to fade). A high score on a short or noisy record therefore gives low confidence.
"""

from __future__ import annotations

import math
from decimal import Decimal

from orderflow.signals.rules import SignalType
from orderflow.signals.views import TradeView, WalletView

P_MIN = 0.001
P_MAX = 0.999


def _phi(z: float) -> float:
    return 0.5 * (1.0 + math.erf(z / math.sqrt(2.0)))


def win_probability(signal: SignalType, trade: TradeView, wallet: WalletView) -> float | None:
    if wallet.edge is None:
        return None
    edge = wallet.edge if signal is SignalType.FOLLOW_WHALE else -wallet.edge
    return min(P_MAX, max(P_MIN, float(trade.price) + edge))


def edge_certainty(signal: SignalType, wallet: WalletView) -> float:
    """P(true edge has the sign we bet on) under a normal approximation."""
    if wallet.edge is None:
        return 0.0
    edge = wallet.edge if signal is SignalType.FOLLOW_WHALE else -wallet.edge
    if wallet.edge_se is None or wallet.edge_se <= 0:
        return 1.0 if edge > 0 else (0.5 if edge == 0 else 0.0)
    return _phi(edge / wallet.edge_se)


def confidence(signal: SignalType, wallet: WalletView) -> float:
    score = 0.0 if wallet.score is None else min(10.0, max(0.0, wallet.score)) / 10.0
    side = score if signal is SignalType.FOLLOW_WHALE else 1.0 - score
    return math.sqrt(side * edge_certainty(signal, wallet))


def as_decimal(value: float) -> Decimal:
    return Decimal(repr(value))
