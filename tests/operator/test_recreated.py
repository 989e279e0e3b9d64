"""A TradingStrategy deleted without its finalizer and created again under its name does not
revive its killed strategy.

docs/operator.md "Decisions": a deleted resource means "stop", and a resource created again
under the name finds the row retired (``Retired`` until its spec says ``killed: true``, then
``false``). When the finalizer was stripped by hand (the way out of a resource stuck while no
operator ran) and the resource applied again before the orphan sweep saw it gone (a GitOps tool
does so at once; here, while the operator is down), the row was never retired, and the new
resource — another object, another ``uid`` — wrote its spec over the old one's kill: the
executor traded the strategy again with whatever it still held.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import asyncpg
import kmock
import pytest

from orderflow.strategy import StrategySettings
from orderflow_operator import store
from orderflow_operator.reconcile import Target, reconcile
from tests.operator.conftest import ApiServer, operator_running
from tests.operator.test_orphans import gone, strip_finalizers
from tests.operator.test_runtime import (
    apply,
    delete,
    events,
    manifest,
    patch_spec,
    row,
    wait_row,
    wait_status,
)

pytestmark = pytest.mark.kmock(cls=ApiServer)
WHALE = Target("trading", "whale", uid="uid-1")
KW: dict[str, Any] = {"generation": 1, "previous_status": {}, "stale_after_secs": 30.0}


async def test_a_resource_created_again_after_its_finalizer_was_stripped_finds_it_retired(
    api: kmock.KubernetesEmulator, dsn: str, conn: asyncpg.Connection
) -> None:
    async with operator_running(api, dsn):
        await apply(api, manifest("whale", killed=True))
        await wait_row(conn, "whale", killed=True)
        await wait_status(api, "whale", state="Killed")
    # The operator is down: the deletion waits on its finalizer, which someone strips; the
    # manifest (which never said killed) is applied again.
    await delete(api, "whale")
    await strip_finalizers(api, "whale")
    assert gone(api, "whale")
    await apply(api, manifest("whale"))
    async with operator_running(api, dsn):
        status = await wait_status(api, "whale", observedGeneration=1)
        found = await row(conn, "whale")
        assert found is not None
        assert found["killed"], f"the killed strategy trades again: {dict(found)}, {status}"
        assert status["state"] == "Retired", status
        assert found["deleted_at"] is not None, dict(found)
        assert "Replaced" in {e["reason"] for e in events(api, "whale")}
        # its spec takes it over killed, then revives it: who revives it says so
        await patch_spec(api, "whale", killed=True)
        await wait_status(api, "whale", state="Killed")
        await patch_spec(api, "whale", killed=False)
        await wait_row(conn, "whale", killed=False, deleted_at=None)


async def test_a_row_without_a_uid_is_adopted_then_held_to_it(pool: asyncpg.Pool) -> None:
    """A row made before the uid was recorded (migration 087) is its resource's: adopted, not
    retired, with no generation; a resource of another uid then finds it retired."""
    await pool.execute(
        "INSERT INTO orderflow_strategies (name, settings, source) VALUES ('whale', $1, $2)",
        StrategySettings().model_dump(mode="json"),
        WHALE.source,
    )
    first = await reconcile(pool, WHALE, {}, **KW)
    assert first.write is not None and first.write.outcome is store.Outcome.UNCHANGED
    adopted = await pool.fetchrow("SELECT * FROM orderflow_strategies")
    assert adopted is not None
    assert (adopted["source_uid"], adopted["generation"], adopted["killed"]) == ("uid-1", 1, False)
    again = await reconcile(pool, replace(WHALE, uid="uid-2"), {}, **KW)
    assert [e.reason for e in again.events] == ["Replaced", "Retired"]
    assert again.status["state"] == "Retired"
    retired = await pool.fetchrow("SELECT * FROM orderflow_strategies")
    assert retired is not None and retired["killed"] and retired["deleted_at"] is not None
