"""What the exchange's answers mean for one order (pure): fills once, closed when gone or past its
expiry, intents in doubt until their expiry."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from orderflow.execution.broker import ExchangeFill, FillReport, OrderOutcome, not_held
from orderflow.execution.settlement import settle

NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)
EXPIRES = NOW + timedelta(minutes=5)


def row(status: str, filled: str = "0", *, signed: bool = True, **kw: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": 1,
        "status": status,
        "side": "BUY",
        "price": Decimal("0.5"),
        "shares": Decimal(100),
        "filled_shares": Decimal(filled),
        "exchange_order_id": "0xid" if status != "INTENT" else None,
        "candidate_order_ids": ["0xid", "0xother"],
        "signed_order": {"expiration": str(int(EXPIRES.timestamp()))} if signed else None,
        "created_at": NOW - timedelta(minutes=1),
        "status_reason": None,
    }
    return base | kw


def fill(key: str, shares: str) -> ExchangeFill:
    report = FillReport(key, Decimal(shares), Decimal(shares) / 2, Decimal(0), Decimal("0.5"), NOW)
    return ExchangeFill("0xid", report)


LATER = EXPIRES + timedelta(minutes=1)


@pytest.mark.parametrize(
    ("order", "fills", "found", "booked", "now", "expected"),
    [
        (row("OPEN"), [], OrderOutcome("OPEN", "0xid"), set(), NOW, None),
        (row("OPEN"), [fill("t1", "100")], None, set(), NOW, ("FILLED", ["t1"])),
        (row("OPEN", "40"), [fill("t1", "40")], None, {"t1"}, NOW, None),
        (row("OPEN", "40"), [fill("t1", "40")], None, {"t1"}, LATER, ("CANCELED", [])),
        (row("INTENT"), [], None, set(), NOW, None),
        (row("INTENT"), [], None, set(), LATER, "abandon"),
        (row("INTENT"), [fill("t1", "30")], None, set(), NOW, ("OPEN", ["t1"])),
        (row("INTENT"), [], OrderOutcome("OPEN", "0xid"), set(), NOW, ("OPEN", [])),
        # Shown matched past its expiry, its trades not all listed: closed short as if not shown
        # (CANCELED: asked about for late fills), never FILLED short (asked about no more).
        (
            row("OPEN"),
            [fill("t1", "40")],
            OrderOutcome("FILLED", "0xid"),
            set(),
            LATER,
            ("CANCELED", ["t1"]),
        ),
        # Still shown open past its expiry (UNMATCHED may stay so): cancelled, then closed.
        (row("INTENT"), [], OrderOutcome("OPEN", "0xid"), set(), LATER, ("CANCELED", [])),
        (row("OPEN", "40"), [], OrderOutcome("OPEN", "0xid"), set(), LATER, ("CANCELED", [])),
        (
            row("OPEN"),
            [fill("t1", "100")],
            OrderOutcome("OPEN", "0xid"),
            set(),
            LATER,
            ("FILLED", ["t1"]),
        ),
        (row("OPEN"), [fill("a", "10"), fill("b", "10")], None, {"a"}, NOW, ("OPEN", ["b"])),
        (row("OPEN", "20"), [fill("a,b", "20")], None, {"b"}, NOW, None),
        (row("CANCELED", "10"), [fill("t2", "5")], None, set(), NOW, ("CANCELED", ["t2"])),
        (row("OPEN"), [], OrderOutcome("FILLED", "0xid"), set(), NOW, None),
        (row("INTENT", signed=False), [], None, set(), NOW, "abandon"),
        # A fill refused as impossible (more shares than the order) may be true: in doubt, the
        # order is not closed unfilled past its expiry; one the others fill in full is FILLED.
        (row("OPEN"), [fill("t1", "200")], None, set(), LATER, None),
        (row("INTENT"), [fill("t1", "200")], None, set(), LATER, ("OPEN", [])),
        (
            row("OPEN"),
            [fill("t1", "100"), fill("t2", "5")],
            None,
            set(),
            LATER,
            ("FILLED", ["t1"]),
        ),
    ],
)
def test_settle(
    order: dict[str, Any],
    fills: list[ExchangeFill],
    found: OrderOutcome | None,
    booked: set[str],
    now: datetime,
    expected: Any,
) -> None:
    verdict = settle(order, fills, found, booked, now)
    if expected is None:
        assert verdict.outcome is None and not verdict.abandon
    elif expected == "abandon":
        assert verdict.abandon and verdict.outcome is None
    else:
        assert verdict.outcome is not None
        status, keys = expected
        assert verdict.outcome.status == status
        assert [f.fill_key for f in verdict.outcome.fills] == keys


# A trade naming the order could not be read (it may be a fill of it): never closed short of its
# size, cancelled or abandoned while so; its readable fills booked, the order OPEN.
@pytest.mark.parametrize(
    ("order", "fills", "found", "now", "expected"),
    [
        (row("OPEN"), [], None, LATER, None),  # not shown, past expiry: was CANCELED unfilled
        (row("OPEN"), [fill("t1", "40")], None, LATER, ("OPEN", ["t1"])),
        (row("OPEN"), [], OrderOutcome("OPEN", "0xid"), LATER, None),  # no cancel, no close
        (row("OPEN"), [], OrderOutcome("FILLED", "0xid"), LATER, None),  # not FILLED short
        (row("INTENT"), [], None, LATER, None),  # was abandoned
        (row("INTENT"), [], OrderOutcome("OPEN", "0xid"), LATER, ("OPEN", [])),  # adopted
        (row("OPEN"), [fill("t1", "100")], None, LATER, ("FILLED", ["t1"])),  # all of it read
    ],
)
def test_settle_in_doubt(
    order: dict[str, Any],
    fills: list[ExchangeFill],
    found: OrderOutcome | None,
    now: datetime,
    expected: Any,
) -> None:
    verdict = settle(order, fills, found, set(), now, in_doubt=True)
    assert not verdict.abandon and not verdict.cancel
    if expected is None:
        assert verdict.outcome is None
    else:
        assert verdict.outcome is not None
        status, keys = expected
        assert verdict.outcome.status == status
        assert [f.fill_key for f in verdict.outcome.fills] == keys


# A cancel the exchange answered saying it holds no such order (``gone``, with the cancel's
# reason): an order it shows nowhere either is done, closed with that reason and its fills so
# far; shown open, in doubt, or an intent (it may be on its way): not closed so.
@pytest.mark.parametrize(
    ("order", "fills", "found", "in_doubt", "expected"),
    [
        (row("OPEN"), [], None, False, ("CANCELED", "strategy_killed", [])),
        (row("OPEN"), [fill("t1", "40")], None, False, ("CANCELED", "strategy_killed", ["t1"])),
        (row("OPEN"), [fill("t1", "100")], None, False, ("FILLED", None, ["t1"])),
        (row("OPEN"), [], OrderOutcome("OPEN", "0xid"), False, None),
        (row("OPEN"), [], None, True, None),
        (row("INTENT"), [], None, False, None),
    ],
)
def test_settle_gone(
    order: dict[str, Any],
    fills: list[ExchangeFill],
    found: OrderOutcome | None,
    in_doubt: bool,
    expected: Any,
) -> None:
    verdict = settle(order, fills, found, set(), NOW, in_doubt=in_doubt, gone="strategy_killed")
    assert not verdict.abandon and not verdict.cancel
    if expected is None:
        assert verdict.outcome is None
    else:
        assert verdict.outcome is not None
        status, reason, keys = expected
        assert (verdict.outcome.status, verdict.outcome.reason) == (status, reason)
        assert [f.fill_key for f in verdict.outcome.fills] == keys


@pytest.mark.parametrize(
    ("stopped", "now", "reason"),
    [(True, NOW, "strategy_killed"), (False, NOW, None), (True, LATER, "expired")],
)
def test_an_order_found_cancelled_says_why(stopped: bool, now: datetime, reason: str) -> None:
    """Found CANCELED at the exchange: expired past its expiry, else the kill's while its
    strategy is killed (a kill's cancel whose answer a crash lost), else no reason known."""
    order = row("OPEN", strategy_stopped=stopped)
    verdict = settle(order, [], OrderOutcome("CANCELED", "0xid"), set(), now)
    assert verdict.outcome is not None
    assert (verdict.outcome.status, verdict.outcome.reason) == ("CANCELED", reason)


@pytest.mark.parametrize(
    ("answers", "held"),
    [
        ({"0xa": "order can't be found - already canceled or matched"}, False),
        ({"0xa": "Order not found"}, False),
        ({"0xa": "order can't be canceled"}, True),  # held (UNMATCHED): it may fill
        ({}, True),  # no answer for it
        ({"0xa": "order can't be found - already canceled or matched", "0xb": "x"}, True),
    ],
)
def test_not_held_only_when_the_exchange_says_so_for_every_id(
    answers: dict[str, str], held: bool
) -> None:
    assert not_held(answers, ["0xa", "0xb"] if len(answers) == 2 else ["0xa"]) is not held
