"""The CLOB's replies in the executor's terms: an order's status, our fills in a trade.

Fills come from the account's trades (``GET /data/trades``): our order is a trade's taker, or
one of its maker orders; each fill is keyed by its trade id. Statuses are mapped by exact value.

A trade states no fee amount (the SDK's ``ClobTrade`` has none), only ``fee_rate_bps``, which the
SDK gives no meaning. Our taker fill's fee is the market's own schedule when known
(``shares x r x (p(1 - p))^e``, what the SDK itself counts for a taker), else the trade's
``fee_rate_bps`` with exponent 1; a maker fill pays nothing, as on paper
(:func:`orderflow.signals.sizing.fill_fee`: the V2 protocol charges takers only), whatever its
maker entry's ``fee_rate_bps`` says — until 5 Dec 2026 it was booked at that rate.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from orderflow.execution.broker import ExchangeFill, FillReport, OrderStatus
from orderflow.execution.exchange_text import exchange_text
from orderflow.execution.reply_checks import refuse_reply
from orderflow.signals.sizing import USDC_STEP, fill_fee
from orderflow.signals.views import FeeSchedule

_BPS = Decimal(10_000)


# The CLOB's order statuses, by exact value (``ORDER_STATUS_`` prefix and case removed). A
# substring match once mapped UNMATCHED to FILLED. Anything unknown stays OPEN: the order keeps
# being reconciled (and counted as exposure) until the exchange says more. An order the endpoint
# still shows OPEN after its expiry is closed by reconciliation (orderflow.execution.settlement).
_STATUSES: dict[str, OrderStatus] = {
    "LIVE": "OPEN",
    "DELAYED": "OPEN",
    "MATCHED": "FILLED",
    # Polymarket: "order marketable, but failure delaying, placement successful"; other sources
    # read it as final. Either way it is no proof that nothing will fill: kept open (it was
    # CANCELED, which took the order out of the exposure and the kill switch while it might fill).
    "UNMATCHED": "OPEN",
    "CANCELED": "CANCELED",
    "CANCELLED": "CANCELED",
    "CANCELED_MARKET_RESOLVED": "CANCELED",
    # The official SDK's other order statuses (polymarket-client 0.14.0,
    # ``KnownUserOrderStatus``): cancels the exchange made on its own, named by their reason. They
    # were unknown, kept OPEN: a BUY the validity monitor cancelled counted until its expiry, and
    # an order expired at the exchange was never closed — its cancel past the expiry refused for
    # ever (tests/execution/test_order_cancel_reasons.py).
    "CANCELED_NOT_ENOUGH_BALANCE": "CANCELED",
    "CANCELED_MARKET_NOT_FOUND": "CANCELED",
    "CANCELED_EXPIRED_ORDER": "CANCELED",
    "CANCELED_ORDER_TIMED_OUT": "CANCELED",
    "INVALID": "CANCELED",
    "EXPIRED": "CANCELED",
}
# "Cancellation reasons and newly introduced statuses flow through as strings" (the SDK): a
# status naming a cancel's reason the map does not know yet is a cancel all the same.
_CANCELED_PREFIXES = ("CANCELED_", "CANCELLED_")


# An order the exchange holds with its matching not done (held back, or its delay failed): it
# may still take when the matching runs, and pay the taker fee (``OrderOutcome.may_take``).
_MATCHING_HELD = frozenset({"DELAYED", "UNMATCHED"})


def _value(raw: str) -> str:
    return raw.strip().upper().removeprefix("ORDER_STATUS_")


def matching_held(raw: str) -> bool:
    """Whether a CLOB order status (or a placement's ``status``) says the exchange holds the
    order's matching — it may still take — or is one the executor does not know: no proof the
    order rests as a maker (Polymarket's notice of June 2026 calls a taker order in its delay
    window "locked as pending"), so its taker fee stays reserved. An unknown status was read as
    resting, and entries decided beside it overspent when it took
    (tests/execution/test_fee_reserved.py)."""
    value = _value(raw)
    return value in _MATCHING_HELD or _known(value) is None


def _known(value: str) -> OrderStatus | None:
    """The executor's status for a CLOB order status (prefix and case removed), None when it is
    none the executor knows: by exact value (a substring match once mapped UNMATCHED to FILLED),
    or a cancel by the prefix of a cancel's reason."""
    status = _STATUSES.get(value)
    if status is None and value.startswith(_CANCELED_PREFIXES):
        return "CANCELED"
    return status


def order_status(raw: str) -> OrderStatus:
    """The executor's status for a CLOB order status string."""
    value = _value(raw)
    status = _known(value)
    if status is None:
        # Said once per status and process, counted: it was a warning at every pass.
        refuse_reply(
            "order", f"unknown status {exchange_text(repr(raw), 40)}; kept open", once=value
        )
        return "OPEN"
    return status


def our_fills(trade: Any, wanted: set[str], fee: FeeSchedule | None = None) -> list[ExchangeFill]:
    """Our fills in one trade: our order as its taker (its fee: the market's schedule ``fee``
    when known, else the trade's ``fee_rate_bps``), or our entries in its maker orders."""
    out: list[ExchangeFill] = []
    if trade.trader_side == "TAKER" and trade.taker_order_id in wanted:
        taker = fee or FeeSchedule(trade.fee_rate_bps / _BPS)
        out.append(_fill(trade.taker_order_id, trade, trade.size, taker))
    for maker in trade.maker_orders:
        if maker.order_id in wanted:
            shares = maker.matched_amount
            out.append(_fill(maker.order_id, trade, shares, None, maker.price))
    return out


def _fill(
    order_id: str,
    trade: Any,
    shares: Decimal,
    fee: FeeSchedule | None,
    price: Decimal | None = None,
) -> ExchangeFill:
    """Our fill in ``trade``: as its taker paying ``fee``, or (``fee`` None) as a maker."""
    px = trade.price if price is None else price
    return ExchangeFill(
        order_id=order_id,
        fill=FillReport(
            fill_key=str(trade.id),
            shares=shares,
            usdc=(shares * px).quantize(USDC_STEP),
            fee=fill_fee(shares, px, fee or FeeSchedule(Decimal(0)), maker=fee is None),
            price=px,
            at=trade.matched_at,
            trade_status=str(trade.status),
        ),
    )
