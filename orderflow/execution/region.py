"""The CLOB refusing orders from this machine's region (its geoblock).

Polymarket serves no order from some countries and regions, and in its close-only countries no
order that opens a position: ``POST /order`` is answered HTTP 403 ``{"error": "Trading restricted
in your region, please refer to available regions - https://docs.polymarket.com/developers/CLOB/
geoblock"}``, checked before the order's auth; reads and cancels pass. That is a refusal of the
order from where it was sent, not of our API key: the key watch
(:mod:`orderflow.execution.key_watch`) would stop every order of the mode — the exits a close-only
region allows included — and tell the user to rotate a key no change of which heals it. So a
geoblocked order is REJECTED with the exchange's words (``region_refused: …``), each is counted
(``orderflow_orders_region_refused_total{mode,side}``) and the first is logged as an error that
says what it is; the next order is sent as usual (an exit may pass where an entry did not).
"""

from __future__ import annotations

import logging

from polymarket import RequestRejectedError

from orderflow.execution.broker import Mode
from orderflow.execution.live_reads import problem_of
from orderflow.telemetry import meter

log = logging.getLogger(__name__)
region_refusals = meter("orderflow.execution").create_counter(
    "orderflow_orders_region_refused_total",
    description="Orders the exchange refused for the region they came from (HTTP 403 geoblock)",
)
GEOBLOCK_TEXT = "restricted in your region"
REGION_HELP = (
    "the CLOB refuses {mode} orders from this machine's region or IP (HTTP 403 'Trading"
    " restricted in your region'): such orders are rejected. It is not the API key (reads and"
    " cancels pass): run the executor from a region Polymarket serves"
    " (https://docs.polymarket.com/developers/CLOB/geoblock); in a close-only country the"
    " exits still go out"
)


def geoblocked(exc: RequestRejectedError) -> bool:
    """Whether the exchange refused the request for the region it came from."""
    return exc.status == 403 and GEOBLOCK_TEXT in str(exc).lower()


class RegionRefusals:
    """Counts one mode's geoblocked orders; logs the first of the process as an error."""

    def __init__(self, mode: Mode) -> None:
        self.mode = mode
        self.count = 0

    def refused(self, side: str, exc: RequestRejectedError) -> str:
        """The refused order's reason: the exchange's words, on one line."""
        self.count += 1
        region_refusals.add(1, {"mode": self.mode, "side": side})
        words = problem_of(exc, 200)
        if self.count == 1:
            log.error(REGION_HELP.format(mode=self.mode), extra={"error": words, "side": side})
        return f"region_refused: http 403: {words}"
