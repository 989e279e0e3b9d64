"""The CLOB's order statuses map by exact value (issue 15, item 12): a substring match mapped
UNMATCHED to FILLED. UNMATCHED keeps the order open (tests/execution/test_unmatched.py). A
status naming a cancel's reason (``CANCELED_…``) is a cancel."""

from __future__ import annotations

import pytest

from orderflow.execution.live_replies import order_status


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        ("LIVE", "OPEN"),
        ("live", "OPEN"),
        ("ORDER_STATUS_LIVE", "OPEN"),
        ("delayed", "OPEN"),
        ("MATCHED", "FILLED"),
        ("ORDER_STATUS_MATCHED", "FILLED"),
        ("UNMATCHED", "OPEN"),  # "placement successful": it may still fill
        ("unmatched", "OPEN"),
        ("CANCELED", "CANCELED"),
        ("ORDER_STATUS_CANCELED_MARKET_RESOLVED", "CANCELED"),
        ("ORDER_STATUS_INVALID", "CANCELED"),
        ("EXPIRED", "CANCELED"),
        # the official SDK's statuses of a cancel the exchange made on its own
        # (test_order_cancel_reasons.py): unknown, they were kept OPEN
        ("CANCELED_NOT_ENOUGH_BALANCE", "CANCELED"),
        ("ORDER_STATUS_CANCELED_MARKET_NOT_FOUND", "CANCELED"),
        ("canceled_expired_order", "CANCELED"),
        ("CANCELED_ORDER_TIMED_OUT", "CANCELED"),
        ("CANCELED_SOME_NEW_REASON", "CANCELED"),  # a reason named later: a cancel all the same
        ("CANCELEDX", "OPEN"),  # not a cancel's reason
        ("SOMETHING_NEW", "OPEN"),
        ("NOT_CANCELED_YET", "OPEN"),
    ],
)
def test_order_status_maps_by_exact_value(raw: str, status: str) -> None:
    assert order_status(raw) == status
