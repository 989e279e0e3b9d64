"""A placement's answer (``POST /order``) read into the executor's terms, for
:meth:`orderflow.execution.live.LiveBroker.send`.

An answer the SDK reads as a refusal whose words say the exchange took the order (``unmatched``,
a delay's or an execution's message: :data:`PLACED_ANYWAY`), or one that gives no reason for a
refusal (:func:`~orderflow.execution.reply_checks.placement_untold`), leaves the order in doubt:
reconciled by its own ids, never sent again (:func:`not_accepted`). An accepted answer names the
order by one of the ids it can have and carries its placement's fills, checked before they are
booked (:func:`accepted`).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal

from polymarket.models import AcceptedOrder
from polymarket.models.clob.order_response import RawOrderResponse, RejectedOrder

from orderflow.execution.broker import (
    FillReport,
    OrderInDoubtError,
    OrderOutcome,
    OrderStatus,
    PreparedOrder,
)
from orderflow.execution.exchange_text import exchange_text
from orderflow.execution.live_replies import matching_held
from orderflow.execution.reply_checks import placement_untold, plausible_fills, refuse_reply
from orderflow.signals.sizing import fill_fee
from orderflow.signals.views import FeeSchedule

# The reason of an order refused because the exchange takes none now (restarting, cancel-only,
# post-only: the SDK's trading restrictions; disabled: :func:`.live_errors.trading_restriction`).
TRADING_RESTRICTED = "trading restricted"
# A placement the SDK reads as refused (an ``errorMsg``, or a status it does not accept) whose
# words say the exchange took the order and only its matching is delayed or failed (Polymarket's
# insert messages ORDER_DELAYED, DELAYING_ORDER_ERROR, EXECUTION_ERROR): it may rest, or match
# later. Recorded REJECTED, it was never asked about again — its later fill never booked, and
# its shares in no position, limit or exit (tests/execution/test_live_placement_answers.py).
# A refusal as a duplicate (INVALID_ORDER_DUPLICATED: "order … is invalid. Duplicated. Same
# order has already been placed, can't be placed again") says the exchange holds this very
# order: the executor never sends a signed order twice, so a copy of the POST got there first (a
# gateway that lost the answer and sent the request again). It was REJECTED, the order left at
# the exchange unknown to the books (tests/execution/test_duplicated_order.py).
PLACED_ANYWAY = re.compile(
    r"order match delayed|error delaying the order|could not run the execution"
    r"|invalid\. duplicated|already been placed",
    re.IGNORECASE,
)


def not_accepted(raw: RawOrderResponse, response: RejectedOrder) -> str:
    """The refusal's words (redacted) of an answer that did not accept the order; an answer
    whose words say the exchange holds it anyway, or that gives no reason, raises
    :class:`OrderInDoubtError`."""
    answer = exchange_text(f"{response.code}: {response.message}")
    if response.code == "unmatched" or PLACED_ANYWAY.search(response.message):
        # The SDK counts it as a failure, but the order may be on the book: "unmatched"
        # is Polymarket's "order marketable, but failure delaying, placement
        # successful"; a delay's message ("order match delayed due to market
        # conditions", "error delaying the order") or "could not run the execution"
        # name an order taken and its matching delayed or failed. Reconciled by its ids
        # like any order in doubt, never resent.
        raise OrderInDoubtError(f"order placed, its matching not done: {answer}")
    untold = placement_untold(raw.success, raw.status, raw.error_msg)
    if untold is not None:
        # No reason given for a refusal ("Unknown order failure" to the SDK): the
        # exchange may hold the order. In doubt, found by its own ids, never resent.
        refuse_reply("placement", untold, order_id=exchange_text(raw.order_id, 80))
        raise OrderInDoubtError(f"order placement answered without a reason: {untold}")
    return answer


def accepted(response: AcceptedOrder, order: PreparedOrder) -> OrderOutcome:
    """The outcome of an accepted placement: under one of the order's own ids (else in doubt),
    with the placement's own fills when they are plausible."""
    if str(response.order_id).lower() not in {c.lower() for c in order.candidate_order_ids}:
        # Not the hash of the order we signed: followed under it, the order's fills and
        # cancels would go to another. Reconciled by the ids it can have, like any in doubt.
        problem = f"orderID {response.order_id} is none of the order's ids"
        refuse_reply("placement", problem)
        raise OrderInDoubtError(f"order placed under an id not its own: {problem}")
    req = order.request
    fills: tuple[FillReport, ...] = ()
    filled = Decimal(0)
    if response.taking_amount > 0 and response.trade_ids:
        # BUY: we make collateral and take shares; SELL the reverse. The total of the
        # placement's trades, keyed by their ids (the trades endpoint reports the same ids).
        if req.side == "BUY":
            shares, usdc = response.taking_amount, response.making_amount
        else:
            shares, usdc = response.making_amount, response.taking_amount
        price = (usdc / shares) if shares > 0 else req.price
        fills = (
            FillReport(
                fill_key=",".join(sorted(response.trade_ids)),
                shares=shares,
                usdc=usdc,
                fee=fill_fee(
                    shares, price, FeeSchedule(req.fee_rate, req.fee_exponent), maker=False
                ),
                price=price,
                at=datetime.now(UTC),
            ),
        )
        # An impossible answer books nothing: the fills come from the trades instead.
        fills = plausible_fills(
            fills, req.side, req.price, req.shares, order_id=str(response.order_id)
        )
        filled = sum((f.shares for f in fills), Decimal(0))
    # Matched without trade ids (or "delayed"): the fills are booked from the trades.
    status: OrderStatus = "FILLED" if filled >= req.shares else "OPEN"
    return OrderOutcome(
        status=status,
        exchange_order_id=str(response.order_id),
        filled_shares=filled,
        fills=fills,
        may_take=status == "OPEN" and matching_held(str(response.status)),
    )
