"""When each mode's fills were last known complete (``orderflow_fill_watermarks``, migration 065).

A reconciliation pass over all of a mode's orders that may fill (open, in doubt, closed short of
their size not yet read for :data:`~orderflow.execution.settlement.LATE_FILLS` after their close)
whose read of the account's trades succeeded, and whose fills were booked, moves the mode's
watermark to the time it started: every trade listed by then of every such order is booked. A
closed order is asked about until a pass has read the trades ``LATE_FILLS`` after its close, the
window running back from this watermark rather than from now
(:func:`~orderflow.execution.late_fill_queries.order_may_fill`): an executor down for an hour, or
an exchange whose trade listing failed for an hour, asks at the restart about what was closed
before the outage, and each fill is booked once (by its trade id). A mode with no order that may
fill is complete as it is. A pass over one strategy's orders (a kill's) moves nothing.
"""

from __future__ import annotations

from datetime import datetime

import asyncpg

from orderflow.execution.broker import Mode

_ADVANCE = """
INSERT INTO orderflow_fill_watermarks AS w (mode, complete_at) VALUES ($1, $2)
ON CONFLICT (mode) DO UPDATE
   SET complete_at = GREATEST(w.complete_at, EXCLUDED.complete_at), updated_at = now()
"""


async def advance(conn: asyncpg.Connection, mode: Mode, started: datetime) -> None:
    """``mode``'s fills are complete as of ``started`` (never moved back)."""
    await conn.execute(_ADVANCE, mode, started)
