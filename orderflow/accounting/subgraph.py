"""Polymarket's own P&L method (its pnl-subgraph), kept as the reference we reconcile against.

Average cost per wallet and token, **fees ignored**, gross shares and the fill price:

* BUY ``q`` at ``p``: ``avg = (avg * amount + p * q) / (amount + q)``; ``amount += q``;
* SELL ``q`` at ``p``: ``q = min(q, amount)``; ``realized += q * (p - avg)``; ``amount -= q``;
* redemption at resolution = a SELL of the held amount at the payout fraction.

:class:`orderflow.accounting.Position` agrees with this on every fill sequence without fees;
with fees it is more accurate (it includes them). ``tests/accounting`` shows both.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from orderflow.accounting.position import ZERO, Fill


@dataclass(slots=True)
class SubgraphPosition:
    """The subgraph's ``UserPosition`` entity: amount, avgPrice, realizedPnl."""

    amount: Decimal = ZERO
    avg_price: Decimal = ZERO
    realized_pnl: Decimal = ZERO

    def buy(self, price: Decimal, quantity: Decimal) -> None:
        if quantity <= 0:
            return
        self.avg_price = (self.avg_price * self.amount + price * quantity) / (
            self.amount + quantity
        )
        self.amount += quantity

    def sell(self, price: Decimal, quantity: Decimal) -> None:
        sold = min(quantity, self.amount)
        if sold <= 0:
            return
        self.realized_pnl += sold * (price - self.avg_price)
        self.amount -= sold

    def apply(self, fill: Fill) -> None:
        """Book a fill the way the subgraph does: gross shares at the fill price, no fee."""
        if fill.side == "BUY":
            self.buy(fill.price, fill.shares)
        else:
            self.sell(fill.price, fill.shares)

    def redeem(self, payout_per_share: Decimal) -> None:
        self.sell(payout_per_share, self.amount)
