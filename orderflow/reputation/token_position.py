"""One wallet's position in one token as :mod:`orderflow.reputation.per_wallet` replays it fill by
fill (:class:`TokenPosition`), with the sums the run's wallets statement reads
(:mod:`orderflow.reputation.replay_inputs` adds them up). Its P&L follows the run's rule: on the
totals while the market is open (:func:`orderflow.accounting.aggregate.open_pnl`), settled once
it resolved."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from orderflow.accounting import OpenPnl, Position, TakerTotals, open_pnl

ZERO = Decimal(0)


def clip(x: float) -> float:
    """A price kept inside the tick range [0.01, 0.99]."""
    return min(0.99, max(0.01, x))


@dataclass
class TokenPosition:
    """A wallet's position in one token with what the market did."""

    token_id: int
    market_id: str | None
    outcome_index: int | None
    event_id: str | None = None
    position: Position = field(default_factory=Position)
    bought_gross: Decimal = ZERO
    paid_gross: Decimal = ZERO
    sold_gross: Decimal = ZERO
    received_gross: Decimal = ZERO
    taker_bought: Decimal = ZERO
    taker_paid: Decimal = ZERO
    taker_sold: Decimal = ZERO
    taker_received: Decimal = ZERO
    taker_fee: Decimal = ZERO
    taker_first_at: datetime | None = None
    # every taker fill, decision or not (what complete sets read: hedged_volume)
    taker_bought_all: Decimal = ZERO
    taker_paid_all: Decimal = ZERO
    taker_sold_all: Decimal = ZERO
    # taker fills at or after the market's resolution: volume, no decision (the taker_* amounts
    # leave them out, as the run's rep_void does)
    void_volume: Decimal = ZERO
    # every fill's part that is no exit of a decision (at or after the resolution, or against
    # the wallet's own orders: the run's rep_void gb, gs, gr), out of the gross totals
    void_bought: Decimal = ZERO
    void_sold: Decimal = ZERO
    void_received: Decimal = ZERO
    # what its sales received above every prevailing price around them, every sale's and its
    # taker rows' (the run's rep_wash x_gr, x_tr: the market around a fill is the population's,
    # read from the last run's stored rows), out of the collateral received
    capped_received: Decimal = ZERO
    capped_taker_received: Decimal = ZERO
    penny: Decimal = ZERO
    volume: Decimal = ZERO
    payouts: list[Decimal] | None = None
    resolved_at: datetime | None = None
    problem: str | None = None
    payout: Decimal | None = None
    last_price: Decimal | None = None
    close: float | None = None  # closing line (not the wallet's own last trade)
    # the decisions' shares and collateral (taker fills less their voided part) bought and sold
    # after the close, when the position began before it: valued at their own price (the run's
    # rep_void post amounts)
    post_bought: Decimal = ZERO
    post_paid: Decimal = ZERO
    post_sold: Decimal = ZERO
    post_received: Decimal = ZERO

    @property
    def entry_price(self) -> Decimal | None:
        return self.paid_gross / self.bought_gross if self.bought_gross else None

    @property
    def open(self) -> OpenPnl | None:
        """Unresolved: the position on its totals, as the run values it (one rule for the score
        and ``orderflow wallet``, :func:`orderflow.accounting.aggregate.open_pnl`); None once
        resolved (the position's settled figures are the run's too)."""
        if self.payout is not None:
            return None
        p = self.position
        return open_pnl(p.bought_shares, p.total_paid, p.sold_shares, p.sell_proceeds)

    @property
    def realized(self) -> Decimal:
        o = self.open
        return self.position.realized_pnl if o is None else o.realized

    @property
    def shares(self) -> Decimal:
        o = self.open
        return self.position.shares if o is None else o.held

    @property
    def cost_basis(self) -> Decimal:
        o = self.open
        return self.position.cost_basis if o is None else o.basis

    @property
    def avg_price(self) -> Decimal | None:
        """Cost per held share, fees included; None when nothing is held."""
        return self.cost_basis / self.shares if self.shares else None

    @property
    def unrealized(self) -> Decimal:
        """The held shares at the token's mark less their basis (no mark: at 0, as the run)."""
        o = self.open
        if o is None or o.held == 0:
            return ZERO
        return o.held * (self.last_price or ZERO) - o.basis

    @property
    def taker_volume(self) -> Decimal:
        return self.taker_paid + self.taker_received + self.void_volume

    def totals(self) -> TakerTotals:
        return TakerTotals(
            bought=float(max(self.bought_gross - self.void_bought, ZERO)),
            sold=float(max(self.sold_gross - self.void_sold, ZERO)),
            received=float(
                max(self.received_gross - self.void_received - self.capped_received, ZERO)
            ),
            taker_bought=float(self.taker_bought),
            taker_paid=float(self.taker_paid),
            taker_sold=float(self.taker_sold),
            taker_received=float(max(self.taker_received - self.capped_taker_received, ZERO)),
            taker_fee=float(self.taker_fee),
        )

    @property
    def short(self) -> float:
        t = self.totals()
        if t.sold > t.bought and t.taker_sold > 0:
            return (t.sold - t.bought) * t.taker_sold / t.sold
        return 0.0

    @property
    def kept(self) -> Decimal:
        """Shares its taker fills bought and did not sell."""
        return max(self.taker_bought_all - self.taker_sold_all, ZERO)

    @property
    def judged(self) -> bool:
        return self.payout is not None and (self.taker_bought > 0 or self.short > 0)

    def after_close(self, t: TakerTotals) -> tuple[float, float]:
        """The shares bought and the short taken by the decisions after the close, each at most
        the position's (evidence_sql.WALLETS' lb, ls)."""
        bought = min(float(self.post_bought), t.taker_bought)
        short = self.short * min(1.0, float(self.post_sold) / t.taker_sold) if t.taker_sold else 0.0
        return bought, short

    def entry_prices(self, t: TakerTotals) -> tuple[float, float, float]:
        """The mean entry price of the position's decisions, of those after the close and of
        those before it (the position's where none came after), each clipped
        (evidence_sql.WALLETS' qbar, lq, pq)."""
        qbar = clip((t.taker_paid + t.taker_received) / (t.taker_bought + t.taker_sold))
        post_shares = float(self.post_bought) + float(self.post_sold)
        post_cash = float(self.post_paid) + float(self.post_received)
        lq = clip(post_cash / post_shares) if post_shares else qbar
        if not (self.post_bought > 0 or self.post_sold > 0):
            return qbar, lq, qbar
        pre_shares = max(t.taker_bought + t.taker_sold - post_shares, 0.0)
        pq = (
            clip((t.taker_paid + t.taker_received - post_cash) / pre_shares) if pre_shares else qbar
        )
        return qbar, lq, pq
