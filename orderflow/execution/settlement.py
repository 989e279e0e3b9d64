"""What the exchange's answers mean for one of our orders (pure: no I/O but the log of a refused
fill, no clock).

Inputs: the order's row, our fills of it in the account's trades, what the order endpoint says
(None: it shows the order under none of its ids), the trade ids already booked, and the time.

* Fills come only from the trades, each once (a trade id already booked is skipped, also when a
  placement response booked several trades under one joined key), and only those that can be the
  order's (:func:`orderflow.execution.reply_checks.plausible_fills`: an impossible one is refused,
  the others booked, and the order is in doubt while it is reported).
* The order endpoint decides only whether the order is still live. The real CLOB answers nothing
  for a fully matched order, so "not shown" means "closed" for an order we know was sent: FILLED
  when the trades account for its whole size, else CANCELED once its expiry has passed (until
  then it stays OPEN and keeps counting as exposure: a fill may still show up). An order shown
  matched (``MATCHED``, or its whole size matched) is read the same way: FILLED only once the
  trades account for its whole size. A GTD order the
  endpoint still shows open after its expiry (``UNMATCHED`` may stay so) is closed the same way,
  once a cancel sent to the exchange cancelled it (the expiry is read on our clock, which may run
  ahead; a cancel the exchange refuses leaves the order OPEN: ``order_reconcile``).
* An intent (maybe sent, maybe not) is adopted as soon as the exchange shows it or a fill of it;
  it is ABANDONED only when its expiry has passed and the trades show no fill. Never resent. A
  fill of it the trades list later (a fully matched order is shown nowhere either) is still
  booked during the look-back a closed order gets (:data:`LATE_FILLS`): FILLED, or CANCELED
  ``expired`` short of its size.
* ``gone``: the reason of a cancel (``strategy_killed``, ``strategy_paused``,
  ``leader_exited``) the exchange has just answered saying it holds no such order
  (:func:`~orderflow.execution.broker.not_held`): an order it shows nowhere either is done —
  cancelled, or matched with its trades listed late — so it is closed CANCELED with that reason
  and its fills so far, its late fills asked for during :data:`LATE_FILLS` (an exchange that
  forgets cancelled orders: such an order stayed OPEN until its expiry, up to 7 days, its kill
  refused every minute). Any other refusal (an order the exchange holds ``UNMATCHED``) leaves
  it open: it may still fill.
* An open order the exchange shows with its matching held (``DELAYED``, ``UNMATCHED``) is booked
  ``may_take`` (its taker fee reserved), and no longer once it shows it resting (migration 088).
* An order found cancelled before its expiry while its strategy is killed (or deleted) is
  closed ``strategy_killed``: a kill's cancel whose answer a crash lost; an entry while its
  strategy is paused, ``strategy_paused``: a pause's.
* ``in_doubt``: a trade naming the order could not be read, or a fill of it was refused as
  impossible (either may be a fill of it after all: an answer odd but true, or a mistake of the
  check; an order whose only fill was refused was closed CANCELED unfilled past its expiry):
  whatever the rest says, the order is not closed short of its size, cancelled or abandoned;
  its readable fills are booked (the order OPEN), and it is decided again once the trade reads
  (or the fill reads plausibly).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from orderflow.execution.broker import ExchangeFill, FillReport, OrderOutcome, OrderStatus
from orderflow.execution.reply_checks import plausible_fills

# Clock skew between us and the exchange: an order is treated as expired this long after its
# expiration time.
EXPIRY_GRACE = timedelta(seconds=30)
# How far the exchange's clock may lag ours: the account's trades are stamped, and read
# (``GET /data/trades?after=``), on its clock, our orders' creation on ours, so an order's fills
# are read from its creation less this. One minute used to be read: a fill stamped by an
# exchange clock more than a minute behind was never read (an intent in doubt, matched in full,
# abandoned and its shares never booked: tests/execution/test_exchange_clock_lag.py). A lag
# beyond a minute is logged (order_reconcile).
EXCHANGE_CLOCK_LAG = timedelta(hours=1)
# An order without an expiration (GTC) is given up on after this long in doubt.
NO_EXPIRY_DOUBT = timedelta(days=1)
# How long after closing an order short of its size the desk still asks for its fills: one that
# happened before the close may reach the trades later (the desk's look-back; the paper exchange
# matches late-stored levels of an expired order as long). Counted back from the mode's fill
# watermark, the start of its last complete reconciliation pass, not from now: an outage (the
# executor down, the trades unread) does not use it up (orderflow.execution.fill_watermark).
LATE_FILLS = timedelta(minutes=15)
# Why an intent is abandoned when the exchange shows it nowhere past its expiry and the trades
# list no fill of it. The real CLOB shows a fully matched order nowhere too (its fills only in the
# account's trades, which may list them late): such an intent's late fills are asked for as a
# closed order's are, for LATE_FILLS (late_fill_queries.order_may_fill).
UNKNOWN_AFTER_EXPIRY = "unknown to the exchange after its expiry"


@dataclass(frozen=True, slots=True)
class Verdict:
    outcome: OrderOutcome | None = None  # what to book (None: nothing new)
    abandon: bool = False
    reason: str | None = None
    # Cancel the order at the exchange before booking ``outcome``: the exchange still shows it
    # open, and only our clock says it expired.
    cancel: bool = False


def order_ids(row: Mapping[str, Any]) -> tuple[str, ...]:
    """The exchange ids to ask about: the known one, else every candidate."""
    if row["exchange_order_id"]:
        return (str(row["exchange_order_id"]),)
    return tuple(str(c) for c in row["candidate_order_ids"] or ())


def _expiration(row: Mapping[str, Any]) -> int:
    """The signed order's expiration (unix seconds; 0: none, or paper)."""
    signed = row["signed_order"]
    return int(str(signed.get("expiration") or 0)) if signed else 0


def _gtd(row: Mapping[str, Any]) -> bool:
    return _expiration(row) > 0


def expiry(row: Mapping[str, Any]) -> datetime | None:
    """When the signed order stops being valid, paper or live (None: no order was signed)."""
    if not row["signed_order"]:
        return None
    raw = _expiration(row)
    if raw <= 0:
        created: datetime = row["created_at"]
        return created + NO_EXPIRY_DOUBT
    return datetime.fromtimestamp(raw, tz=UTC)


def unbooked(fills: Sequence[FillReport], booked: set[str]) -> tuple[FillReport, ...]:
    """The fills none of whose trade ids is booked yet (a key may join several trade ids)."""
    seen = set(booked)
    out: list[FillReport] = []
    for fill in fills:
        keys = set(fill.fill_key.split(","))
        if keys & seen:
            continue
        seen |= keys
        out.append(fill)
    return tuple(out)


def settle(
    row: Mapping[str, Any],
    fills: Sequence[ExchangeFill],
    found: OrderOutcome | None,
    booked: set[str],
    now: datetime,
    *,
    in_doubt: bool = False,
    gone: str | None = None,
) -> Verdict:
    status: str = row["status"]
    if status not in ("INTENT", "OPEN", "CANCELED", "ABANDONED"):
        return Verdict()
    shares = Decimal(row["shares"])
    offered = unbooked([f.fill for f in fills], booked)
    fresh = plausible_fills(
        offered,
        row["side"],
        Decimal(row["price"]),
        shares - Decimal(row["filled_shares"]),
        order_id=row["id"],
    )
    # A fill refused as impossible may still be true (a reply odd but true, or a mistake of the
    # check): like a trade that does not read, it leaves the order in doubt.
    in_doubt = in_doubt or len(fresh) < len(offered)
    total = Decimal(row["filled_shares"]) + sum((f.shares for f in fresh), Decimal(0))
    until = expiry(row)
    expired = until is None or now > until + EXPIRY_GRACE
    exchange_id = row["exchange_order_id"] or (
        found.exchange_order_id if found is not None else None
    )
    if exchange_id is None and fills:
        exchange_id = fills[0].order_id

    def book(
        new_status: OrderStatus, reason: str | None = None, *, cancel: bool = False
    ) -> Verdict:
        outcome = OrderOutcome(
            status=new_status,
            exchange_order_id=exchange_id,
            reason=reason,
            filled_shares=total,
            fills=fresh,
            may_take=new_status == "OPEN" and found is not None and found.may_take,
            matched_shares=found.filled_shares if found is not None else Decimal(0),
        )
        return Verdict(outcome, cancel=cancel)

    if status == "CANCELED":  # closed: only fills that happened before the cancel
        return book("CANCELED", row["status_reason"]) if fresh else Verdict()
    if status == "ABANDONED":
        # Given up as unknown to the exchange, but matched after all (its trades listed late):
        # adopted, closed as an order past its expiry is.
        if not fresh:
            return Verdict()
        return book("FILLED") if total >= shares else book("CANCELED", "expired")
    if in_doubt and total < shares:
        # A trade naming the order could not be read: it may be a fill of it. The order is
        # neither closed short (CANCELED, or FILLED for less than its size), nor cancelled,
        # nor abandoned while so; it keeps counting at its remaining size. An intent is
        # adopted once an id of it is known.
        if fresh or (status == "INTENT" and exchange_id is not None):
            return book("OPEN")
        return Verdict()
    if found is not None and found.status == "OPEN" and expired and _gtd(row):
        # Past its expiration, whatever the order endpoint still shows (an UNMATCHED order may
        # stay so): closed as if the endpoint no longer showed it. But "expired" is our clock's
        # word, and a V2 order's expiration is not in what it signs: only the exchange stops a
        # match. Cancelled first; a refused cancel leaves it OPEN (order_reconcile).
        if total >= shares:
            return book("FILLED")
        return book("CANCELED", "expired", cancel=True)
    if found is not None:
        new: OrderStatus = found.status
        if new == "FILLED" and total < shares:
            # Matched, but not all of it is in the trades yet: open until its expiry, then closed
            # short as an order no longer shown is (CANCELED "expired"), whose fills are still
            # asked for during LATE_FILLS. FILLED short was never asked about again: a trade
            # listed late was lost.
            new = "CANCELED" if expired else "OPEN"
        if new == status and not fresh and found.may_take == bool(row.get("may_take")):
            return Verdict()
        return book(new, _closed_why(row, expired) if new == "CANCELED" else None)
    if total >= shares:
        return book("FILLED")
    if status == "OPEN" or total > 0:
        if expired:
            return book("CANCELED", "expired")
        if gone is not None:  # the exchange holds it no more, and shows it nowhere: done
            return book("CANCELED", gone)
        if fresh or status == "INTENT":
            return book("OPEN")  # adopted: the exchange has it
        return Verdict()
    # An intent the exchange shows nowhere, and no fill of it.
    if expired:
        return Verdict(abandon=True, reason=UNKNOWN_AFTER_EXPIRY)
    return Verdict()


def _closed_why(row: Mapping[str, Any], expired: bool) -> str | None:
    """Why an order the exchange shows cancelled was: its expiry; else the reason of the cancel
    we asked (migration 117: its answer lost to a failed booking or a crash); else, its strategy
    killed (or deleted), the kill's cancel; an entry of a paused strategy, the pause's; else not
    known."""
    if expired:
        return "expired"
    if row.get("cancel_reason"):
        return str(row["cancel_reason"])
    if row.get("strategy_stopped"):
        return "strategy_killed"
    return "strategy_paused" if row.get("strategy_paused") and row["side"] == "BUY" else None
