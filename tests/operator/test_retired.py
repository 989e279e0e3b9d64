"""A retired strategy row — killed and marked deleted — is never brought back silently.

A row is retired by its resource's finalizer, by the orphan sweep (also another operator's, one
whose cluster shares the database and has no such resource), or by hand. The executor treats it
as killed: its kill switch cancels the strategy's live orders; its open positions stay.

Two ways the operator revived one, writing the spec's ``killed: false`` over the kill (the
executor then traded it again, with the positions and resting orders it had):

* the resource still exists: its status went on saying ``Running``, and its next reconcile — a
  spec change, the operator's restart (kopf's resume) — un-deleted and un-killed the row;
* a conflicted resource (the same name in another namespace) retried on its next status tick
  once the other owner's resource was deleted, and took the row over alive.

Now the resource reports ``Retired`` and writes nothing until its spec says ``killed: true``
(it takes the row over, killed), then ``false``. The real kopf runtime on kmock, a real
PostgreSQL.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import asyncpg
import kmock
import pytest

from orderflow import db
from orderflow_operator import store
from tests.operator.conftest import NAMESPACE, TS, ApiServer, eventually, operator_running

pytestmark = pytest.mark.kmock(cls=ApiServer)
OTHER = "research"


def url(namespace: str) -> str:
    return f"/apis/orderflow.io/v1alpha1/namespaces/{namespace}/tradingstrategies"


@pytest.fixture
async def conn(dsn: str) -> AsyncIterator[asyncpg.Connection]:
    c = await db.connect(dsn)
    try:
        # a fresh leader heartbeat: a live resource says Running, not Degraded
        await c.execute(
            "INSERT INTO orderflow_executor_heartbeats (instance_id, is_leader, strategies)"
            " VALUES ('executor-0', TRUE, '{whale}')"
        )
        yield c
    finally:
        await c.close()


async def create(api: kmock.KubernetesEmulator, namespace: str, **spec: Any) -> None:
    body = {
        "apiVersion": "orderflow.io/v1alpha1",
        "kind": "TradingStrategy",
        "metadata": {"name": "whale", "namespace": namespace},
        "spec": spec,
    }
    async with api.post(url(namespace), json=body) as resp:
        assert resp.status == 200, await resp.text()


async def patch_spec(api: kmock.KubernetesEmulator, namespace: str, **spec: Any) -> None:
    headers = {"Content-Type": "application/merge-patch+json"}
    async with api.patch(f"{url(namespace)}/whale", json={"spec": spec}, headers=headers) as resp:
        assert resp.status == 200, await resp.text()


async def delete(api: kmock.KubernetesEmulator, namespace: str) -> None:
    async with api.delete(f"{url(namespace)}/whale") as resp:
        assert resp.status == 200, await resp.text()


def status_of(api: kmock.KubernetesEmulator, namespace: str) -> dict[str, Any]:
    obj = api.objects[TS, namespace, "whale"]
    return {} if obj.deleted else dict(obj.get("status") or {})


def condition(status: dict[str, Any], kind: str) -> dict[str, Any]:
    return next((c for c in status.get("conditions", []) if c["type"] == kind), {})


async def wait_status(
    api: kmock.KubernetesEmulator, namespace: str, **expected: Any
) -> dict[str, Any]:
    async def probe() -> dict[str, Any]:
        return status_of(api, namespace)

    def ok(st: dict[str, Any]) -> bool:
        return all(st.get(k) == v for k, v in expected.items())

    return await eventually(probe, ok, what=f"status of {namespace}/whale with {expected}")


async def ticks(api: kmock.KubernetesEmulator, namespace: str, n: int = 3) -> None:
    """Let the status timer run ``n`` more times (each writes a new ``figuresAt``: the database
    clock, at least a second apart as printed, so this waits a few seconds)."""

    async def figures_at() -> Any:
        return status_of(api, namespace).get("figuresAt")

    for _ in range(n):
        before = await figures_at()
        await eventually(
            figures_at, _other_than(before), what=f"a status tick of {namespace}/whale"
        )


def _other_than(before: Any) -> Callable[[Any], bool]:
    return lambda value: bool(value != before)


def warnings(api: kmock.KubernetesEmulator, namespace: str, reason: str) -> list[str]:
    found = []
    for key in list(api.objects):
        obj = api.objects[key]
        if key[0].plural != "events" or obj.deleted:
            continue
        raw = obj.raw
        involved = raw.get("involvedObject", {})
        if (involved.get("name"), involved.get("namespace")) != ("whale", namespace):
            continue
        if (raw.get("type"), raw.get("reason")) == ("Warning", reason):
            found.append(str(raw.get("message")))
    return found


async def strategy(conn: asyncpg.Connection) -> asyncpg.Record:
    found = await conn.fetchrow("SELECT * FROM orderflow_strategies WHERE name = 'whale'")
    assert found is not None
    return found


async def hold_a_position(conn: asyncpg.Connection) -> None:
    await conn.execute(
        "INSERT INTO orderflow_positions (strategy, token_id, shares, cost_basis)"
        " VALUES ('whale', 7, 10, 4)"
    )


async def test_a_row_retired_under_its_resource_says_retired(
    api: kmock.KubernetesEmulator, dsn: str, conn: asyncpg.Connection
) -> None:
    """The row is retired while the resource stays (what another operator's orphan sweep, or
    the finalizer of an earlier incarnation, writes): the timer reports it, once."""
    async with operator_running(api, dsn):
        await create(api, NAMESPACE, kellyFraction=0.2)
        await wait_status(api, NAMESPACE, state="Running")
        await hold_a_position(conn)

        retired = await store.retire_strategy(conn, name="whale", source=f"k8s:{NAMESPACE}/whale")
        assert retired.outcome is store.Outcome.UPDATED

        await eventually(
            lambda: _status(api, NAMESPACE),
            lambda s: condition(s, "Killed").get("status") != "False",
            what="the timer's status after the retirement",
        )
        await ticks(api, NAMESPACE)
        st = status_of(api, NAMESPACE)
        assert st["state"] == "Retired", st
        ready = condition(st, "Ready")
        assert (ready["status"], ready["reason"]) == ("False", "Retired"), ready
        assert "1 open position and 0 live orders" in ready["message"], ready
        assert "spec.killed=true" in ready["message"], ready
        killed = condition(st, "Killed")
        assert (killed["status"], killed["reason"]) == ("True", "Retired"), killed
        posted = await eventually(
            lambda: _warnings(api, NAMESPACE, "Retired"), bool, what="a Warning event Retired"
        )
        assert len(posted) == 1, posted  # once, not on every tick
    row = await strategy(conn)
    assert row["killed"] and row["deleted_at"] is not None


async def _status(api: kmock.KubernetesEmulator, namespace: str) -> dict[str, Any]:
    return status_of(api, namespace)


async def _warnings(api: kmock.KubernetesEmulator, namespace: str, reason: str) -> list[str]:
    return warnings(api, namespace, reason)


async def test_a_row_retired_under_its_resource_is_not_revived_by_a_change_or_a_restart(
    api: kmock.KubernetesEmulator, dsn: str, conn: asyncpg.Connection
) -> None:
    """A spec change and the operator's restart (kopf's resume) leave the retired row killed;
    the spec's ``killed: true`` takes it over, ``false`` then revives it."""
    async with operator_running(api, dsn):
        await create(api, NAMESPACE, kellyFraction=0.2)
        await wait_status(api, NAMESPACE, state="Running")
        await store.retire_strategy(conn, name="whale", source=f"k8s:{NAMESPACE}/whale")

        await patch_spec(api, NAMESPACE, kellyFraction=0.3)
        st = await wait_status(api, NAMESPACE, observedGeneration=2)
        row = await strategy(conn)
        assert (row["killed"], row["deleted_at"] is not None) == (True, True), dict(row)
        assert row["settings"]["kelly_fraction"] == 0.2  # nothing written
        assert st["state"] == "Retired", st
        await ticks(api, NAMESPACE)  # kopf posts events from a queue: let it post them all
        before = len(warnings(api, NAMESPACE, "Retired"))
        assert before >= 1

    async with operator_running(api, dsn):  # the restart: kopf resumes the resource
        await eventually(
            lambda: _warnings(api, NAMESPACE, "Retired"),
            lambda found: len(found) > before,
            what="the resume's reconcile (its Warning Retired)",
        )
        await ticks(api, NAMESPACE)
        row = await strategy(conn)
        assert (row["killed"], row["deleted_at"] is not None) == (True, True), dict(row)
        assert status_of(api, NAMESPACE)["state"] == "Retired"

        # explicitly: the spec takes the killed row over, then lets it go
        await patch_spec(api, NAMESPACE, killed=True)
        await wait_status(api, NAMESPACE, observedGeneration=3, state="Killed")
        row = await strategy(conn)
        assert (row["killed"], row["deleted_at"]) == (True, None), dict(row)
        assert row["settings"]["kelly_fraction"] == 0.3
        await patch_spec(api, NAMESPACE, killed=False)
        await wait_status(api, NAMESPACE, observedGeneration=4, state="Running")
        assert not (await strategy(conn))["killed"]


async def test_a_conflicted_resource_does_not_revive_the_row_its_other_owner_retired(
    api: kmock.KubernetesEmulator, dsn: str, conn: asyncpg.Connection
) -> None:
    """The same name in another namespace waits (Conflict); the owner's resource is deleted (its
    finalizer kills and retires the row, which keeps an open position): the waiting resource
    reports ``Retired`` and leaves the row killed, tick after tick, until its spec says
    ``killed: true``; it then owns the row, killed, and ``killed: false`` revives it."""
    async with operator_running(api, dsn):
        await create(api, NAMESPACE, kellyFraction=0.2)
        await wait_status(api, NAMESPACE, state="Running")
        await hold_a_position(conn)
        await create(api, OTHER, kellyFraction=0.4)
        await wait_status(api, OTHER, state="Conflict")

        await delete(api, NAMESPACE)
        await eventually(
            lambda: _gone(api, NAMESPACE), bool, what="the owner's resource finalized and gone"
        )
        await eventually(
            lambda: _status(api, OTHER),
            lambda s: s.get("state") != "Conflict",
            what="the waiting resource's next verdict",
        )
        await ticks(api, OTHER)
        row = await strategy(conn)
        assert (row["killed"], row["deleted_at"] is not None) == (True, True), dict(row)
        assert row["source"] == f"k8s:{NAMESPACE}/whale", dict(row)
        st = status_of(api, OTHER)
        assert st["state"] == "Retired", st
        ready = condition(st, "Ready")
        assert (ready["status"], ready["reason"]) == ("False", "Retired"), ready
        assert f"last owned by k8s:{NAMESPACE}/whale" in ready["message"], ready
        assert "1 open position" in ready["message"], ready
        posted = await eventually(
            lambda: _warnings(api, OTHER, "Retired"), bool, what="a Warning event Retired"
        )
        assert len(posted) == 1, posted

        await patch_spec(api, OTHER, killed=True)
        await wait_status(api, OTHER, observedGeneration=2, state="Killed")
        row = await strategy(conn)
        assert (row["source"], row["killed"], row["deleted_at"]) == (
            f"k8s:{OTHER}/whale",
            True,
            None,
        ), dict(row)
        await patch_spec(api, OTHER, killed=False)
        st = await wait_status(api, OTHER, observedGeneration=3, state="Running")
        assert st["openPositions"] == 1  # the position comes with it, now knowingly
        assert not (await strategy(conn))["killed"]


async def _gone(api: kmock.KubernetesEmulator, namespace: str) -> bool:
    key = (TS, namespace, "whale")
    return key not in api.objects or api.objects[key].deleted
