"""Average-cost position accounting for one holder (wallet or strategy) in one outcome token.

This is the ONE implementation of position accounting in orderflow: reputation scores wallets
with it, the executor books its own fills with it, backtests replay with it.

Method (average cost, fees included):

* a BUY adds the shares it delivers to the holder and adds what the holder paid, fee included,
  to ``cost_basis``;
* a SELL relieves ``cost_basis`` in proportion to the shares sold (``avg_price`` does not change)
  and realizes ``net proceeds - relieved basis``;
* ``settle(payout)`` is the market's resolution: every held share pays its outcome's payout
  fraction of 1 USDC (1 or 0 usually, 0.5 in a 50/50, any fraction in general). The resolved
  position's total P&L is :func:`orderflow.accounting.aggregate.resolved_pnl` of its totals, so it
  does not depend on the order of the fills (the set-based SQL computes the same formula);
* ``mark(price)`` values what is still held at a price (unrealized P&L).

Selling more shares than the position holds (shares that came from outside the tracked fills:
a CTF split, a transfer) realizes nothing for the excess while the market is open, like
Polymarket's own P&L subgraph; the excess shares and their proceeds are counted in
``untracked_shares_sold`` / ``untracked_proceeds`` so nothing disappears silently. At settlement
the excess is judged on the totals (shares sold beyond all shares bought), which makes the result
independent of the fill order.

Money is :class:`~decimal.Decimal` throughout; nothing here rounds (callers storing into
``NUMERIC(38, 6)`` columns let PostgreSQL round at 6 decimals).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Literal

from orderflow.accounting.aggregate import resolved_pnl

Side = Literal["BUY", "SELL"]
FeeAsset = Literal["COLLATERAL", "SHARES"]

ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class Fill:
    """One fill as the holder saw it, in gross amounts (the way ``orderflow_trades`` stores them).

    ``shares`` and ``usdc`` are gross: shares traded and collateral exchanged at the fill price.
    ``fee`` is in ``fee_asset`` units:

    * ``COLLATERAL`` (CLOB V2/V3 always, V1 on a SELL): a BUY pays ``usdc + fee``, a SELL
      receives ``usdc - fee``;
    * ``SHARES`` (V1 on a BUY): the holder receives ``shares - fee`` shares. (A SELL with a
      share fee gives up ``shares + fee`` shares; no exchange emits that, it is defined for
      completeness.)
    """

    side: Side
    shares: Decimal
    usdc: Decimal
    fee: Decimal = ZERO
    fee_asset: FeeAsset = "COLLATERAL"
    timestamp: datetime | None = None

    def __post_init__(self) -> None:
        if self.side not in ("BUY", "SELL"):
            raise ValueError(f"side must be BUY or SELL, got {self.side!r}")
        if self.fee_asset not in ("COLLATERAL", "SHARES"):
            raise ValueError(f"fee_asset must be COLLATERAL or SHARES, got {self.fee_asset!r}")
        if self.shares < 0 or self.usdc < 0 or self.fee < 0:
            raise ValueError("shares, usdc and fee must be >= 0")
        if self.fee_asset == "SHARES" and self.side == "BUY" and self.fee > self.shares:
            raise ValueError("a share fee cannot exceed the shares bought")
        if self.fee_asset == "COLLATERAL" and self.side == "SELL" and self.fee > self.usdc:
            raise ValueError("a collateral fee cannot exceed the proceeds of a sell")

    @property
    def price(self) -> Decimal:
        """Gross price per share (collateral / shares); 0 for an empty fill."""
        return self.usdc / self.shares if self.shares else ZERO

    @property
    def net_shares(self) -> Decimal:
        """Shares the holder gains (BUY) or gives up (SELL), fee included."""
        share_fee = self.fee if self.fee_asset == "SHARES" else ZERO
        return self.shares - share_fee if self.side == "BUY" else self.shares + share_fee

    @property
    def net_usdc(self) -> Decimal:
        """Collateral the holder pays (BUY) or receives (SELL), fee included."""
        cash_fee = self.fee if self.fee_asset == "COLLATERAL" else ZERO
        return self.usdc + cash_fee if self.side == "BUY" else self.usdc - cash_fee

    @property
    def fee_usdc(self) -> Decimal:
        """The fee valued in collateral (a share fee at this fill's price)."""
        return self.fee if self.fee_asset == "COLLATERAL" else self.fee * self.price


@dataclass(slots=True)
class Position:
    """One holder x one outcome token, average-cost basis, fees included in the basis."""

    shares: Decimal = ZERO
    cost_basis: Decimal = ZERO
    realized_pnl: Decimal = ZERO
    fees_paid: Decimal = ZERO
    bought_shares: Decimal = ZERO
    sold_shares: Decimal = ZERO
    total_paid: Decimal = ZERO
    total_received: Decimal = ZERO
    sell_proceeds: Decimal = ZERO
    untracked_shares_sold: Decimal = ZERO
    untracked_proceeds: Decimal = ZERO
    settled_payout: Decimal | None = None
    opened_at: datetime | None = None
    last_fill_at: datetime | None = None
    fills: int = field(default=0)

    @property
    def avg_price(self) -> Decimal | None:
        """Cost per held share, fees included; ``None`` when nothing is held."""
        return self.cost_basis / self.shares if self.shares else None

    @property
    def is_open(self) -> bool:
        return self.shares > 0

    def apply(self, fill: Fill) -> Decimal:
        """Book one fill; return the P&L it realized (0 for a BUY)."""
        self.fills += 1
        self.fees_paid += fill.fee_usdc
        if fill.timestamp is not None:
            if self.opened_at is None or (self.shares == 0 and fill.side == "BUY"):
                self.opened_at = fill.timestamp
            self.last_fill_at = fill.timestamp
        if fill.side == "BUY":
            self.shares += fill.net_shares
            self.cost_basis += fill.net_usdc
            self.bought_shares += fill.net_shares
            self.total_paid += fill.net_usdc
            return ZERO

        sold = fill.net_shares
        proceeds = fill.net_usdc
        self.sold_shares += sold
        self.total_received += proceeds
        self.sell_proceeds += proceeds
        held = min(sold, self.shares)
        if sold > held:
            excess = sold - held
            self.untracked_shares_sold += excess
            excess_proceeds = proceeds * excess / sold
            self.untracked_proceeds += excess_proceeds
            proceeds -= excess_proceeds
        if held == 0:
            return ZERO
        # Closing the whole position relieves the basis exactly (no division remainder).
        full = held == self.shares
        relieved = self.cost_basis if full else self.cost_basis * held / self.shares
        self.shares -= held
        self.cost_basis -= relieved
        realized = proceeds - relieved
        self.realized_pnl += realized
        return realized

    def settle(self, payout_per_share: Decimal) -> Decimal:
        """Resolve the market: each held share pays ``payout_per_share``; return realized P&L."""
        if not ZERO <= payout_per_share <= 1:
            raise ValueError(f"a payout per share is between 0 and 1, got {payout_per_share}")
        total = resolved_pnl(
            self.bought_shares,
            self.total_paid,
            self.sold_shares,
            self.sell_proceeds,
            payout_per_share,
        )
        realized = total - self.realized_pnl
        held = max(ZERO, self.bought_shares - self.sold_shares)
        excess = max(ZERO, self.sold_shares - self.bought_shares)
        self.untracked_shares_sold = excess
        self.untracked_proceeds = self.sell_proceeds * excess / self.sold_shares if excess else ZERO
        self.total_received = self.sell_proceeds + held * payout_per_share
        self.realized_pnl = total
        self.shares = ZERO
        self.cost_basis = ZERO
        self.settled_payout = payout_per_share
        return realized

    def mark(self, price: Decimal) -> Decimal:
        """Unrealized P&L of the held shares at ``price`` (e.g. the last traded price)."""
        return self.shares * price - self.cost_basis

    def total_pnl(self, price: Decimal | None = None) -> Decimal:
        """Realized plus unrealized at ``price`` (realized only when ``price`` is None)."""
        return self.realized_pnl + (self.mark(price) if price is not None else ZERO)


def replay(fills: list[Fill], payout_per_share: Decimal | None = None) -> Position:
    """A position built from ``fills`` in order, settled at ``payout_per_share`` if given."""
    position = Position()
    for fill in fills:
        position.apply(fill)
    if payout_per_share is not None:
        position.settle(payout_per_share)
    return position
