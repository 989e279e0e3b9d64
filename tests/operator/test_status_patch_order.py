"""A status tick's patch that reaches the API server after a kill's status does not put
``Running`` back.

docs/operator.md, "Status". kopf sends a timer's status patch after the timer returns, i.e.
after the object's turn (``handlers._turn``): a kill that waited for the tick then writes the
database and has kopf send its ``Killed`` while the tick's patch (``Running``, read before the
kill) is still on its way. Two requests in flight: an API server that applied the kill's first
and the tick's second showed ``Running`` with ``Killed=False`` for a killed row until the next
tick (measured here before the fix: the states applied were ``Killed``, then ``Running``).

The reordering is made deterministic at the API server: once armed, it holds the next status
patch (the tick's: nothing else writes the status then) until a status patch has left the
object ``Killed`` (or ``HOLD_SECS`` have passed). What is checked is what the server holds after
both: the tick's patch must not apply over a status written after the figures it carries.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import asyncpg
import kmock
import pytest

from tests.operator.conftest import ApiServer, eventually, operator_config, operator_running
from tests.operator.paper_whale import URL, running_whale, status_of

HOLD_SECS = 10.0  # a safety net: the kill's status comes within a second here


class ReorderingApiServer(ApiServer):
    """Records the state each status patch leaves (``refused`` for one it refuses); once armed,
    holds the next status patch until one has left the object ``Killed``."""

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.applied: list[str] = []
        self.armed = False
        self.holding = asyncio.Event()
        self.released = asyncio.Event()
        self.killed = asyncio.Event()

    async def _handle(self, request: kmock.Request) -> Any:
        if request.subresource != "status" or request.name is None:
            return await super()._handle(request)
        held = self.armed and not self.holding.is_set()
        if held:
            self.holding.set()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.killed.wait(), HOLD_SECS)
        try:
            reply = await super()._handle(request)
        except kmock.KubernetesError:
            self.applied.append("refused")
            raise
        finally:
            if held:
                self.released.set()
        state = str(status_of(self, request.name).get("state"))
        self.applied.append(state)
        if state == "Killed":
            self.killed.set()
        return reply


pytestmark = pytest.mark.kmock(cls=ReorderingApiServer)


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
        await asyncio.wait_for(api.holding.wait(), 30.0)  # a tick has sent its patch
        # now `kubectl patch ts whale -p '{"spec":{"killed":true}}'`
        headers = {"Content-Type": "application/merge-patch+json"}
        async with api.patch(
            f"{URL}/whale", json={"spec": {"killed": True}}, headers=headers
        ) as resp:
            assert resp.status == 200, await resp.text()
        await asyncio.wait_for(api.released.wait(), 30.0)
        after_both = status_of(api, "whale")
        order = list(api.applied)

        async def status() -> dict[str, Any]:
            return status_of(api, "whale")

        await eventually(status, lambda s: s.get("state") == "Killed", what="Killed")
        row_killed = await conn.fetchval("SELECT killed FROM orderflow_strategies")
    assert row_killed is True
    assert "Killed" in order, order
    assert after_both.get("state") == "Killed", (
        f"the tick's patch, read before the kill, applied after the kill's status: states "
        f"applied {order}, the status left {after_both.get('state')!r} for a killed row"
    )
