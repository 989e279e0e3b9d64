"""One trace from the listener's insert to our signal, order and fills.

The listener stores its batch span's W3C ``traceparent`` on every trade row; the executor starts
the signal's span as a child of that context and stores the signal's own ``traceparent`` on the
signal row; the order's span is a child of the signal's (its ``traceparent`` is stored on the
order row) and each booked fill's span a child of the order's, whenever the fill is booked:
at placement, or later by reconciliation.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from opentelemetry.trace import Span

from orderflow.execution.broker import FillReport
from orderflow.telemetry import tracer
from orderflow.tracing import context_from, current_traceparent

__all__ = ["context_from", "current_traceparent", "fill_span"]

_tracer = tracer("orderflow.execution")


@contextmanager
def fill_span(order: Mapping[str, Any], fill: FillReport) -> Iterator[Span]:
    """A span for booking one fill of ``order`` (a stored order row), child of the order's span.

    Attributes are the fill's public terms and our row ids; nothing secret (keys, signatures,
    API credentials) is ever an attribute.
    """
    with _tracer.start_as_current_span(
        "orderflow.fill",
        context=context_from(order["traceparent"]),
        attributes={
            "orderflow.order_id": int(order["id"]),
            "orderflow.signal_id": int(order["signal_id"]),
            "orderflow.strategy": str(order["strategy"]),
            "orderflow.mode": str(order["mode"]),
            "orderflow.token_id": str(order["token_id"]),
            "orderflow.fill_key": fill.fill_key,
            "orderflow.shares": str(fill.shares),
            "orderflow.price": str(fill.price),
            "orderflow.usdc": str(fill.usdc),
            "orderflow.fee": str(fill.fee),
        },
    ) as span:
        yield span
