"""A status tick's patch that reaches the API server after a kill's does not put ``Running`` back.

docs/operator.md, "Status": the tick sends its status patch inside the object's turn. Before, it
read the figures under the turn but returned them to kopf, which sent the patch after the turn
had ended, while the kill's handler (waiting for the turn) wrote the database and had kopf send
its own status. Two requests in flight: an API server that applied the handler's (``Killed``)
first and the tick's (``Running``, read before the kill) second showed ``Running`` with
``Killed=False`` for a killed row until the next tick (measured here before the fix: the
status patches applied were ``Running``, ``Killed``, ``Running``).

The reordering is made deterministic at the fake API server: once armed, it holds the next
``Running`` status patch before applying it, until a ``Killed`` status has been applied or a
few seconds have passed (what a handler blocked by the tick's turn needs). Nothing is measured:
the test checks the order in which the server applied the status patches.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import kmock
import pytest

from orderflow import db
from tests.operator.conftest import (
    ApiServer,
    eventually,
    operator_config,
    operator_running,
)
from tests.operator.paper_whale import URL, running_whale, status_of

HOLD_SECS = 3.0  # how long a held tick's patch waits for a kill's status that may never come


class ReorderingApiServer(ApiServer):
    """Records the ``state`` of every status patch it applies; once armed, holds the next
    ``Running`` one (a tick's) until a ``Killed`` one has been applied (or ``HOLD_SECS``)."""

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.applied: list[str] = []
        self.armed = False
        self.held = asyncio.Event()
        self.killed = asyncio.Event()

    async def _handle(self, request: kmock.Request) -> Any:
        state = None
        if request.subresource == "status" and isinstance(request.data, dict):
            state = (request.data.get("status") or {}).get("state")
        if state == "Running" and self.armed and not self.held.is_set():
            self.held.set()
            # no Killed meanwhile: the kill's handler waits for this tick, nothing to reorder
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.killed.wait(), HOLD_SECS)
        if state is not None:
            self.applied.append(str(state))
            if state == "Killed":
                self.killed.set()
        return await super()._handle(request)


pytestmark = pytest.mark.kmock(cls=ReorderingApiServer)


@pytest.fixture
async def conn(dsn: str) -> AsyncIterator[asyncpg.Connection]:
    c = await db.connect(dsn)
    try:
        yield c
    finally:
        await c.close()


async def test_a_tick_patch_landing_after_a_kill_does_not_put_running_back(
    api: ReorderingApiServer, dsn: str, conn: asyncpg.Connection
) -> None:
    await conn.execute(
        "INSERT INTO orderflow_executor_heartbeats (instance_id, is_leader, strategies)"
        " VALUES ('executor-0', TRUE, '{whale}')"
    )
    async with operator_running(api, dsn, operator_config(status_interval_secs=0.5)):
        await running_whale(api)
        api.applied.clear()
        api.armed = True
        await asyncio.wait_for(api.held.wait(), 30.0)  # a safety net, not a measure
        # the tick has read the figures and sent them; now the kill
        headers = {"Content-Type": "application/merge-patch+json"}
        patch = {"spec": {"killed": True}}
        async with api.patch(f"{URL}/whale", json=patch, headers=headers) as resp:
            assert resp.status == 200, await resp.text()

        async def applied() -> list[str]:
            return list(api.applied)

        # both landed: the held tick's patch and the kill's status
        await eventually(
            applied, lambda a: "Running" in a and "Killed" in a, what="both status patches"
        )
        order = list(api.applied)
        final = status_of(api, "whale")
        row_killed = await conn.fetchval("SELECT killed FROM orderflow_strategies")
    assert row_killed is True
    after_kill = order[order.index("Killed") :]
    assert "Running" not in after_kill, (
        f"a tick's Running status was applied after the kill's Killed: {order}"
    )
    assert final.get("state") == "Killed", final
