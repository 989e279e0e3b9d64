"""eth_getLogs that a provider may have truncated without an error: split and read again.

Hosted providers refuse an eth_getLogs with too many results (-32005 "query returned more than
10000 results", Ankr's "query exceeds max results 20000", Alchemy's "Log response size
exceeded"): :mod:`orderflow.chain.provider_errors` turns those into a smaller range. Some nodes
and relays instead return the first N logs of the range and no error (docs/listener.md,
"Truncated eth_getLogs replies", lists the cases found); the logs past N would be lost
silently, and the checkpoint would move past them.

The rule: a reply whose length is one of the known result caps (``GETLOGS_RESULT_CAPS``) is not
trusted, whatever its content, when the range spans more than one block: the range is split in
two halves, each read again (and split again while it is at a cap). A false alarm (a range that
really holds exactly a cap's number of logs) costs one split, never a log. A single block at a
cap cannot be split further: it is taken as returned, with a loud warning and a count
(``orderflow_listener_getlogs_capped_blocks``), as its completeness cannot be checked here.
Depth is bounded by log2 of the range's length: nothing loops.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

from orderflow.chain.rpc import EthClient

log = logging.getLogger(__name__)

KNOWN_RESULT_CAPS: tuple[int, ...] = (1_000, 5_000, 10_000, 20_000)
"""Result caps of eth_getLogs seen in the wild (sources in docs/listener.md)."""


@dataclass
class CappedLogs:
    """The logs of a range, read whole, and what reading them took."""

    logs: list[dict[str, Any]] = field(default_factory=list)
    splits: int = 0  # replies at a cap that were split and read again
    capped_blocks: list[int] = field(default_factory=list)  # single blocks at a cap, taken


async def get_logs_whole(
    client: EthClient,
    start: int,
    end: int,
    log_filter: dict[str, Any],
    caps: Collection[int],
) -> CappedLogs:
    """The logs of [start, end], in block order; a reply at one of ``caps`` is split."""
    out = CappedLogs()
    todo = [(start, end)]  # a stack: the left half is read first, so the order is kept
    while todo:
        lo, hi = todo.pop()
        logs = await client.get_logs(lo, hi, log_filter)
        if len(logs) not in caps:
            out.logs += logs
            continue
        if lo < hi:
            out.splits += 1
            mid = (lo + hi) // 2
            todo += [(mid + 1, hi), (lo, mid)]
            continue
        out.capped_blocks.append(lo)
        out.logs += logs
        log.warning(
            "block %d has as many logs as an eth_getLogs result cap: it may hold more logs "
            "than the provider returns, and they cannot be read by a smaller range; storing "
            "the %d returned (use a node without a result cap to be sure)",
            lo,
            len(logs),
            extra={"block": lo, "logs": len(logs), "endpoint": client.endpoint},
        )
    return out
