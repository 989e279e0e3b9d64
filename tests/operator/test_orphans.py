"""A strategy row whose TradingStrategy no longer exists is retired by the operator.

Stripping a resource's finalizer by hand (docs/deploy.md: the way out of a resource stuck while
the operator was gone) removes the resource without its finalizer running: its row stayed live,
the executor kept trading it, and nothing managed it any more. The operator now notices such a
row (a ``k8s:`` source in a namespace it watches, no such resource) at start-up and then every
status interval, and kills it and marks it deleted like the finalizer would: a deleted resource
means "stop". The look is operator-wide: it used to run from each resource's handlers, so with no
resource left in the operator's namespaces nothing noticed. It never retires a row whose resource
exists (kopf's index may not be complete yet: the API is asked), and a standby replica under
kopf peering does nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import asyncpg
import kmock
import pytest

from orderflow import db
from orderflow_operator.store import source_for
from tests.operator.conftest import (
    NAMESPACE,
    TS,
    ApiServer,
    eventually,
    operator_running,
    register_peering,
)
from tests.operator.test_runtime import URL, apply, delete, manifest, row, wait_row

pytestmark = pytest.mark.kmock(cls=ApiServer)


async def strip_finalizers(api: kmock.KubernetesEmulator, name: str) -> None:
    """`kubectl patch ts NAME --type merge -p '{"metadata":{"finalizers":null}}'`"""
    headers = {"Content-Type": "application/merge-patch+json"}
    body = {"metadata": {"finalizers": None}}
    async with api.patch(f"{URL}/{name}", json=body, headers=headers) as resp:
        assert resp.status == 200, await resp.text()


def gone(api: kmock.KubernetesEmulator, name: str) -> bool:
    try:
        return bool(api.objects[TS, NAMESPACE, name].deleted)
    except KeyError:
        return True


async def test_a_strategy_whose_finalizer_was_stripped_is_retired_at_start_up(
    api: kmock.KubernetesEmulator, dsn: str
) -> None:
    conn = await db.connect(dsn)
    try:
        async with operator_running(api, dsn):
            for name in ("whale", "fader"):
                await apply(api, manifest(name))
                await wait_row(conn, name, killed=False)
        # The operator is down: the deletion waits on its finalizer, which someone strips.
        await delete(api, "whale")
        await strip_finalizers(api, "whale")
        assert gone(api, "whale")
        assert (await row(conn, "whale"))["deleted_at"] is None  # type: ignore[index]
        async with operator_running(api, dsn):
            found = await wait_row(conn, "whale", killed=True)
            assert found["deleted_at"] is not None, dict(found)
            # The strategy that still has its resource is left alone.
            fader = await row(conn, "fader")
            assert fader is not None
            assert not fader["killed"] and fader["deleted_at"] is None, dict(fader)
    finally:
        await conn.close()


async def test_the_status_timer_retires_rows_without_a_resource_in_its_namespaces(
    api: kmock.KubernetesEmulator, dsn: str
) -> None:
    """Only namespaces the operator watches: a row of another namespace's resource is another
    operator's business."""
    conn = await db.connect(dsn)
    try:
        async with operator_running(api, dsn, namespaces=[NAMESPACE]):
            await apply(api, manifest("fader"))
            await wait_row(conn, "fader", killed=False)
            # Rows left behind by resources that vanished unseen (here and elsewhere).
            for name, namespace in (("ghost", NAMESPACE), ("elsewhere", "research")):
                await conn.execute(
                    "INSERT INTO orderflow_strategies (name, settings, source)"
                    " VALUES ($1, '{}', $2)",
                    name,
                    source_for(namespace, name),
                )
            found = await wait_row(conn, "ghost", killed=True)
            assert found["deleted_at"] is not None, dict(found)
            other: asyncpg.Record | None = await row(conn, "elsewhere")
            assert other is not None
            assert not other["killed"] and other["deleted_at"] is None, dict(other)
            fader = await row(conn, "fader")
            assert fader is not None and not fader["killed"], dict(fader or {})
    finally:
        await conn.close()


async def leave_rows(dsn: str, *rows: tuple[str, str]) -> None:
    """Rows left behind by resources that vanished unseen: ``(name, namespace)``."""
    conn = await db.connect(dsn)
    try:
        for name, namespace in rows:
            await conn.execute(
                "INSERT INTO orderflow_strategies (name, settings, source) VALUES ($1, '{}', $2)",
                name,
                source_for(namespace, name),
            )
    finally:
        await conn.close()


async def live(dsn: str, name: str) -> bool:
    conn = await db.connect(dsn)
    try:
        found = await row(conn, name)
        assert found is not None
        return not found["killed"] and found["deleted_at"] is None
    finally:
        await conn.close()


async def test_with_no_resource_left_rows_without_one_are_retired(
    api: kmock.KubernetesEmulator, dsn: str
) -> None:
    """No TradingStrategy at all in the operator's namespace: the row left at start-up and the
    one left while it runs are both retired (neither was, nothing looked); another namespace's
    row is not."""
    await leave_rows(dsn, ("ghost", NAMESPACE), ("elsewhere", "research"))
    async with operator_running(api, dsn, namespaces=[NAMESPACE]):

        async def ghost_live() -> bool:
            return await live(dsn, "ghost")

        await eventually(ghost_live, lambda alive: not alive, what="ghost retired at start-up")
        await leave_rows(dsn, ("later", NAMESPACE))

        async def later_live() -> bool:
            return await live(dsn, "later")

        await eventually(later_live, lambda alive: not alive, what="later retired")
        assert await live(dsn, "elsewhere")
    assert not [key for key in api.objects if key[0] == TS]  # there never was a resource


async def test_a_standby_replica_retires_nothing(
    api: kmock.KubernetesEmulator, dsn: str, second_dsn: str
) -> None:
    """Two replicas under kopf peering, each with its own database holding a row whose resource
    is gone, and no resource at all: the leader retires its row; the standby, whose kopf is
    paused (its index never filled), leaves its own alone until the leader goes."""
    register_peering(api, "orderflow")
    await leave_rows(dsn, ("ghost", NAMESPACE))
    await leave_rows(second_dsn, ("ghost", NAMESPACE))

    async def peers() -> dict[str, Any]:
        return dict(
            api.objects["kopf.dev/v1/clusterkopfpeerings", None, "orderflow"].get("status") or {}
        )

    async def leaders_ghost() -> bool:
        return await live(dsn, "ghost")

    async def standbys_ghost() -> bool:
        return await live(second_dsn, "ghost")

    async with contextlib.AsyncExitStack() as standby:
        async with operator_running(api, dsn, peering=("orderflow", 20)):
            await eventually(peers, lambda p: len(p) == 1, what="the leader in the peering")
            await standby.enter_async_context(
                operator_running(api, second_dsn, peering=("orderflow", 10))
            )
            await eventually(peers, lambda p: len(p) == 2, what="both replicas in the peering")
            await eventually(leaders_ghost, lambda alive: not alive, what="the leader's sweep")
            await asyncio.sleep(1.5)  # five of the standby's sweep intervals
            assert await standbys_ghost(), "the standby retired a row"
        # the leader is gone: the standby resumes, and its sweep with it
        await eventually(standbys_ghost, lambda alive: not alive, what="the standby's sweep")


class SlowListing(ApiServer):
    """An API server whose lists of TradingStrategies take a while (a big or busy cluster)."""

    list_delay = 0.0

    async def _serve_list(self, request: kmock.Request) -> Any:
        if request.resource is not None and request.resource.plural == "tradingstrategies":
            await asyncio.sleep(self.list_delay)
        return await super()._serve_list(request)


@pytest.mark.kmock(cls=SlowListing)
async def test_rows_of_resources_kopf_has_not_listed_yet_are_kept(
    api: SlowListing, dsn: str
) -> None:
    """At start-up the operator looks before kopf's index is filled (kopf lists the resources
    first, here slowly): a resource it has not seen yet is not a resource gone. Not even for
    a moment: the resume handler would apply the row again, but the executor, told of the kill,
    would have cancelled the strategy's live orders meanwhile. The row is not written at all."""
    conn = await db.connect(dsn)
    try:
        async with operator_running(api, dsn):
            await apply(api, manifest("fader"))
            before = await wait_row(conn, "fader", killed=False)
        api.list_delay = 1.5
        async with operator_running(api, dsn):
            await asyncio.sleep(3.0)  # the first looks, the slow listing, the resume handler
            fader = await row(conn, "fader")
            assert fader is not None
            assert not fader["killed"] and fader["deleted_at"] is None, dict(fader)
            assert fader["generation"] == before["generation"], "the row was written"
    finally:
        await conn.close()
