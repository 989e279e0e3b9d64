"""A resource whose strategy row is taken from it while its spec stays the same: the status
must stop saying the resource runs it.

`orderflow strategy set NAME --force` (its ``--force``: "also overwrite a strategy managed by a
TradingStrategy resource") makes the row the command line's (``source = 'cli'``). The resource
no longer controls anything: its kill would not reach the row (a name conflict). Its status,
refreshed by the timer, kept the last reconcile's ``Ready=True, Applied`` and so said
``Running`` until its spec next changed. The real kopf runtime on kmock, a real PostgreSQL.
"""

from __future__ import annotations

from typing import Any

import asyncpg
import kmock
import pytest

from orderflow.execution import strategy_queries
from tests.operator.conftest import NAMESPACE, TS, ApiServer, eventually, operator_running

pytestmark = pytest.mark.kmock(cls=ApiServer)
URL = f"/apis/orderflow.io/v1alpha1/namespaces/{NAMESPACE}/tradingstrategies"


def status_of(api: kmock.KubernetesEmulator, name: str) -> dict[str, Any]:
    return dict(api.objects[TS, NAMESPACE, name].get("status") or {})


def condition(status: dict[str, Any], kind: str) -> dict[str, Any]:
    return next((c for c in status.get("conditions", []) if c["type"] == kind), {})


def reasons(api: kmock.KubernetesEmulator, name: str) -> list[str]:
    found = []
    for key in list(api.objects):
        obj = api.objects[key]
        if key[0].plural != "events" or obj.deleted:
            continue
        if obj.raw.get("involvedObject", {}).get("name") == name:
            found.append(str(obj.raw.get("reason")))
    return found


async def test_a_row_taken_over_from_the_command_line_is_reported_as_a_conflict(
    api: kmock.KubernetesEmulator, dsn: str, conn: asyncpg.Connection
) -> None:
    await conn.execute(
        "INSERT INTO orderflow_executor_heartbeats (instance_id, is_leader, strategies)"
        " VALUES ('executor-0', TRUE, '{whale}')"
    )
    body = {
        "apiVersion": "orderflow.io/v1alpha1",
        "kind": "TradingStrategy",
        "metadata": {"name": "whale", "namespace": NAMESPACE},
        "spec": {"kellyFraction": 0.2},
    }

    async def status() -> dict[str, Any]:
        return status_of(api, "whale")

    async with operator_running(api, dsn):
        async with api.post(URL, json=body) as resp:
            assert resp.status == 200, await resp.text()
        await eventually(status, lambda s: s.get("state") == "Running", what="whale Running")

        # what `orderflow strategy set whale --force --set kelly_fraction=0.5` writes
        settings = dict(await conn.fetchval("SELECT settings FROM orderflow_strategies"))
        settings["kelly_fraction"] = 0.5
        await strategy_queries.upsert_strategy(conn, "whale", settings, source="cli")

        # the timer has seen the row go (its switches are no longer this resource's) ...
        st = await eventually(
            status,
            lambda s: condition(s, "Killed").get("reason") == "NotApplied",
            what="the timer's status after the takeover",
        )
        # ... and the status says so: not Running on a row the resource does not control
        assert st["state"] == "Conflict", st
        ready = condition(st, "Ready")
        assert (ready["status"], ready["reason"]) == ("False", "NameConflict"), ready
        assert "owned by cli" in ready["message"]

        async def posted() -> list[str]:  # kopf posts events from a background task
            return reasons(api, "whale")

        await eventually(posted, lambda found: "NameConflict" in found, what="event NameConflict")
    row = await conn.fetchrow("SELECT source, settings FROM orderflow_strategies")
    assert row is not None and row["source"] == "cli"  # nothing written back over the takeover
    assert row["settings"]["kelly_fraction"] == 0.5
