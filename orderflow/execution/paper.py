"""Paper trading: fills at the quote plus slippage and fees, recorded like real fills.

:func:`paper_fill` is pure (the backtest uses it directly). The price a paper order fills at is
the order's limit price, which the sizing step set to the quote plus ``paper_slippage_bps``
rounded to the tick (up for a BUY, down for a SELL): the worst price a marketable limit order
accepts. The quote is the ask for a BUY and the bid for a SELL, read from the fills the database
holds (:mod:`orderflow.signals.quotes`), never the last trade: after a panic sell that is the
seller's bid, and a paper fade bought there filled about a spread below any ask.
The fee is the CLOB V2 taker fee, ``shares x taker_fee_rate x price x (1 - price)`` in collateral,
on top of the gross amount (as the V2 exchange charges it).
"""

from __future__ import annotations

import uuid
from collections.abc import Collection
from datetime import UTC, datetime
from decimal import Decimal

from orderflow.execution.broker import (
    CancelResult,
    ExchangeFill,
    FillReport,
    MarketRules,
    Mode,
    OrderOutcome,
    OrderRequest,
    PreparedOrder,
)

USDC_STEP = Decimal("0.000001")


def paper_fill(
    shares: Decimal, price: Decimal, taker_fee_rate: Decimal, at: datetime
) -> FillReport:
    usdc = (shares * price).quantize(USDC_STEP)
    fee = (shares * taker_fee_rate * price * (1 - price)).quantize(USDC_STEP)
    return FillReport(fill_key="paper", shares=shares, usdc=usdc, fee=fee, price=price, at=at)


class PaperBroker:
    """Fills every order in full, immediately, at its limit price."""

    mode: Mode = "paper"

    async def prepare(self, request: OrderRequest) -> PreparedOrder:
        return PreparedOrder(request=request, client_order_id=f"paper-{uuid.uuid4()}")

    async def send(self, order: PreparedOrder) -> OrderOutcome:
        req = order.request
        fill = paper_fill(req.shares, req.price, req.fee_rate, datetime.now(UTC))
        return OrderOutcome(
            status="FILLED",
            exchange_order_id=order.client_order_id,
            filled_shares=req.shares,
            fills=(fill,),
        )

    async def lookup(self, order_ids: tuple[str, ...]) -> OrderOutcome | None:
        # A paper order is filled in the same step that sends it; an intent left behind by a
        # crash was never filled.
        return None

    async def fills(self, order_ids: Collection[str], since: datetime) -> list[ExchangeFill]:
        return []

    async def trade(self, trade_id: str, order_ids: Collection[str]) -> list[ExchangeFill]:
        return []  # paper fills have no trades to settle

    async def cancel(self, order_ids: list[str]) -> CancelResult:
        return CancelResult(not_canceled=tuple(order_ids))

    async def market_rules(self, token_id: int) -> MarketRules | None:
        return None  # no book to read: the strategy's minimum and tick apply

    async def close(self) -> None:
        return None
