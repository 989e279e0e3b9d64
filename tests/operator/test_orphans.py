"""A strategy row whose TradingStrategy no longer exists is retired by the operator.

Stripping a resource's finalizer by hand (docs/deploy.md: the way out of a resource stuck while
the operator was gone) removes the resource without its finalizer running: its row stayed live,
the executor kept trading it, and nothing managed it any more. The operator now notices such a
row (a ``k8s:`` source in a namespace it watches, no such resource) at start-up and from its
status timer, and kills it and marks it deleted like the finalizer would: a deleted resource
means "stop".
"""

from __future__ import annotations

import asyncpg
import kmock
import pytest

from orderflow import db
from orderflow_operator.store import source_for
from tests.operator.conftest import NAMESPACE, TS, ApiServer, operator_running
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
