"""One trace from the listener's insert to our signal and order.

The listener stores its batch's W3C ``traceparent`` on every trade row; the executor starts the
signal's span as a child of that context and stores the signal's own ``traceparent`` on the
signal row, and the order's span is a child of the signal's.
"""

from __future__ import annotations

from opentelemetry.context import Context
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

_PROPAGATOR = TraceContextTextMapPropagator()


def context_from(traceparent: str | None) -> Context:
    if not traceparent:
        return Context()
    return _PROPAGATOR.extract({"traceparent": traceparent})


def current_traceparent() -> str | None:
    carrier: dict[str, str] = {}
    _PROPAGATOR.inject(carrier)
    return carrier.get("traceparent")
