"""Order-independent accounting of a holder's fills in one token: the formulas both the set-based
SQL (:mod:`orderflow.reputation.positions_sql`) and the per-wallet replay use.

A resolved position's P&L depends only on the totals of its fills, never on their order:

* ``bought``/``paid``: net shares received and collateral paid over all BUY fills (fees in);
* ``sold``/``received``: net shares given up and collateral received over all SELL fills;
* ``payout``: what one share of the outcome pays at resolution.

``resolved_pnl = received - paid + (bought - sold) x payout`` when ``bought >= sold``. When the
holder sold more than it bought, the excess shares came from outside the tracked fills (a CTF split,
a transfer): their proceeds are not P&L (their cost is unknown), so only the tracked share of the
proceeds counts, ``received x bought / sold - paid``. Selling 100 untracked shares at 0.60 and then
buying 100 at 0.50 therefore nets +10 before fees whichever fill came first: exactly what a wallet
that split 100 USDC into YES + NO, sold the YES and bought it back earns when YES wins (the NO it
kept is worthless).

Edge on decisions (:func:`decision_value`) values a holder's *taker* fills in one token against a
yardstick (the resolution payout, or the token's closing price): a taker buy of ``x`` shares earns
``x`` times what each share realized (the holder's average exit price for the share of the position
it sold before resolution, the yardstick for the rest) minus what it paid; a taker sell of shares
the holder never bought (``sold > bought``) is a bet against the outcome, worth the proceeds minus
the yardstick. Exits therefore count: buying at 0.40 and selling at 0.60 before a NO resolution
earns +0.20 a share, not -0.40.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

ZERO = Decimal(0)


def resolved_pnl(
    bought: Decimal, paid: Decimal, sold: Decimal, received: Decimal, payout: Decimal
) -> Decimal:
    """P&L of a resolved position from its totals (net of fees); see the module docstring."""
    if bought >= sold:
        return received - paid + (bought - sold) * payout
    return received * bought / sold - paid


# The same formula in SQL, over columns bought, paid, sold, received, payout of a row ``v``.
RESOLVED_PNL_SQL = """CASE WHEN {v}.bought >= {v}.sold
                           THEN {v}.received - {v}.paid + ({v}.bought - {v}.sold) * {v}.payout
                           ELSE {v}.received * {v}.bought / {v}.sold - {v}.paid END"""


@dataclass(frozen=True, slots=True)
class OpenPnl:
    """An unresolved position valued on its totals (:func:`open_pnl`)."""

    held: Decimal  # shares held: bought less sold, none below zero
    basis: Decimal  # what the held shares cost: the average cost of all the buys
    realized: Decimal  # what the sales realized on the shares they matched


def open_pnl(bought: Decimal, paid: Decimal, sold: Decimal, received: Decimal) -> OpenPnl:
    """An unresolved position from its totals (net of fees), as the run's SQL values it (it has
    no fill order): every share bought costs ``paid / bought``; the ``min(bought, sold)`` shares
    matched realize their share of the proceeds less that cost, so shares sold beyond all those
    bought (a split, a transfer) take their share of every sale's proceeds, as at the resolution
    (:func:`resolved_pnl`); the rest is held at that cost. Order-independent: the sequential
    average cost (:class:`orderflow.accounting.position.Position`) gives the same figures when
    the buys precede the sells and no more is sold than bought."""
    matched = min(bought, sold)
    realized = received * matched / sold - paid * matched / bought if matched > 0 else ZERO
    held = max(bought - sold, ZERO)
    basis = paid * held / bought if held > 0 else ZERO
    return OpenPnl(held=held, basis=basis, realized=realized)


# The same in SQL, over columns bought, paid, sold, received, matched (least(bought, sold)) and
# held_u (greatest(bought - sold, 0)) of a row ``v``: the realized P&L and the held shares' basis.
OPEN_REALIZED_SQL = """CASE WHEN {v}.matched = 0 THEN 0
                            ELSE {v}.received * {v}.matched / {v}.sold
                                 - {v}.paid * {v}.matched / {v}.bought END"""
OPEN_BASIS_SQL = "CASE WHEN {v}.held_u > 0 THEN {v}.paid * {v}.held_u / {v}.bought ELSE 0 END"


@dataclass(frozen=True, slots=True)
class TakerTotals:
    """A holder's totals in one token: all fills (gross) and its taker fills (gross, fee apart)."""

    bought: float  # gross shares bought, all fills
    sold: float  # gross shares sold, all fills
    received: float  # gross collateral received, all fills
    taker_bought: float
    taker_paid: float
    taker_sold: float
    taker_received: float
    taker_fee: float  # fees of the taker fills, valued in collateral


def exited_share(t: TakerTotals) -> float:
    """The share of the position the holder sold before resolution (at most all of it)."""
    return min(1.0, t.sold / t.bought) if t.bought > 0 else 0.0


def held_line(t: TakerTotals, yardstick: float) -> float:
    """What each share a holder's taker buys bought realized against ``yardstick``: the holder's
    average exit price for the share of the position it sold before resolution, the yardstick
    for the rest."""
    exited = exited_share(t)
    exit_price = t.received / t.sold if t.sold > 0 else 0.0
    return exited * exit_price + (1.0 - exited) * yardstick


def decision_value(t: TakerTotals, yardstick: float) -> tuple[float, float]:
    """(value, stake) of the holder's taker decisions in one token against ``yardstick``.

    ``value`` is fee-net USDC, ``stake`` the USDC at risk (a buy risks its price, a sell of
    untracked shares risks 1 - its price).
    """
    short = (
        (t.sold - t.bought) * t.taker_sold / t.sold
        if t.sold > t.bought and t.taker_sold > 0
        else 0.0
    )
    short_price = t.taker_received / t.taker_sold if t.taker_sold > 0 else 0.0
    value = (
        t.taker_bought * held_line(t, yardstick)
        - t.taker_paid
        - t.taker_fee
        + short * (short_price - yardstick)
    )
    return value, t.taker_paid + short * (1.0 - short_price)


# The same in SQL, over a row ``v`` with the columns tb, tcb, tfee, exited, exit_price, short,
# short_price (see orderflow.reputation.positions_sql) and a yardstick expression ``y``: what a
# bought share realized (held_line), and the valuation.
HELD_LINE_SQL = "({v}.exited * {v}.exit_price + (1.0 - {v}.exited) * ({y}))"
DECISION_VALUE_SQL = (
    "({v}.tb * " + HELD_LINE_SQL + " - {v}.tcb - {v}.tfee + {v}.short * ({v}.short_price - ({y})))"
)
DECISION_STAKE_SQL = "({v}.tcb + {v}.short * (1.0 - {v}.short_price))"
