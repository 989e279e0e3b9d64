"""A status tick that read the figures just before a kill does not put ``Running`` back.

docs/operator.md: "An object's handlers, its timer and its finalizer take turns". The status
timer's whole tick takes the object's turn (``handlers._turn``), its usual path
(``reconcile.refresh``, every tick of a resource that is applied and caught up) too, not only
its reconcile path. A kill that comes while a tick is reading waits for that tick, so its status
(``Killed``) is patched after the tick's and stands. Before, that path read the figures without
the turn: a tick that read them just before a kill and returned them after the kill's own status
put the pre-kill status back, ``Running`` with ``Killed=False`` (measured here: the status went
back to it in the 1.5 s sampled after ``Killed``) while the row was killed, until the next tick,
``OPERATOR_STATUS_INTERVAL_SECS`` (10 s by default) later.

The race is made deterministic by holding one tick between its read and its return (the read
of the database being slow); nothing else is changed.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import asyncpg
import kmock
import pytest

from orderflow_operator import reconcile
from tests.operator.conftest import (
    ApiServer,
    eventually,
    operator_config,
    operator_running,
)
from tests.operator.paper_whale import URL, running_whale, status_of

pytestmark = pytest.mark.kmock(cls=ApiServer)
INTERVAL = 2.0  # status interval (s): how long a stale status stands


def killed_condition(status: dict[str, Any]) -> str | None:
    found = [c for c in status.get("conditions", []) if c["type"] == "Killed"]
    return str(found[0]["status"]) if found else None


class HeldTick:
    """Wraps ``reconcile.refresh``: once armed, the next tick has read its figures, says so,
    and waits to be released before it returns (kopf runs in a thread of its own)."""

    def __init__(self) -> None:
        self.armed = threading.Event()
        self.read = threading.Event()
        self.release = threading.Event()
        self.original = reconcile.refresh

    async def __call__(self, *args: Any, **kw: Any) -> reconcile.Result:
        result = await self.original(*args, **kw)
        if self.armed.is_set() and not self.read.is_set():
            self.read.set()
            await asyncio.to_thread(self.release.wait, 30.0)
        return result


async def test_a_tick_read_before_a_kill_does_not_put_running_back(
    api: kmock.KubernetesEmulator,
    dsn: str,
    conn: asyncpg.Connection,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    held = HeldTick()
    monkeypatch.setattr(reconcile, "refresh", held)
    await conn.execute(
        "INSERT INTO orderflow_executor_heartbeats (instance_id, is_leader, strategies)"
        " VALUES ('executor-0', TRUE, '{whale}')"
    )
    config = operator_config(status_interval_secs=INTERVAL)
    async with operator_running(api, dsn, config):
        status = await running_whale(api)
        held.armed.set()
        assert await asyncio.to_thread(held.read.wait, 30.0), "no tick came"
        # the tick has read the figures; now `kubectl patch ts whale -p '{"spec":{"killed":true}}'`
        headers = {"Content-Type": "application/merge-patch+json"}
        patch = {"spec": {"killed": True}}
        async with api.patch(f"{URL}/whale", json=patch, headers=headers) as resp:
            assert resp.status == 200, await resp.text()
        loop = asyncio.get_running_loop()
        # The kill's handler waits for the tick's turn; were it to run meanwhile (as it did
        # before: the row killed, the status Killed), it is given up to 3 s to.
        until = loop.time() + 3.0
        while loop.time() < until and status_of(api, "whale").get("state") != "Killed":
            await asyncio.sleep(0.02)
        held.release.set()  # the tick returns what it read before the kill
        await eventually(status, lambda s: s.get("state") == "Killed", what="Killed")
        seen: list[tuple[str | None, str | None]] = []
        until = loop.time() + INTERVAL * 0.75  # the next tick comes INTERVAL after this one
        while loop.time() < until:
            st = status_of(api, "whale")
            seen.append((st.get("state"), killed_condition(st)))
            await asyncio.sleep(0.02)
        row_killed = await conn.fetchval("SELECT killed FROM orderflow_strategies")
    assert row_killed is True
    wrong = sorted({s for s in seen if s != ("Killed", "True")}, key=str)
    assert not wrong, (
        f"after the kill was applied and reported Killed, the status went back to {wrong} "
        f"(state, Killed condition) while the row stays killed; {len(seen)} samples"
    )
