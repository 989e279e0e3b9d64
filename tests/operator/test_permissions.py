"""The operator's Kubernetes API calls, recorded by kmock while kopf runs a whole lifecycle
(create with its events, status, pause, delete through the finalizer), are exactly the grants of
``tests/operator/permissions.py``, which the chart's RBAC must match (``tests/chart``)."""

from __future__ import annotations

import asyncpg
import kmock
import pytest

from orderflow import db
from orderflow_operator.scope import needs_scanning
from tests.operator.conftest import (
    NAMESPACE,
    TS,
    ApiServer,
    eventually,
    operator_running,
    register_peering,
)
from tests.operator.permissions import needed, requested
from tests.operator.test_runtime import (
    apply,
    delete,
    events,
    manifest,
    patch_spec,
    wait_row,
    wait_status,
)

pytestmark = pytest.mark.kmock(cls=ApiServer)


async def lifecycle(api: kmock.KubernetesEmulator, conn: asyncpg.Connection) -> None:
    """Create (events, status), pause (update), delete (finalizer)."""
    await apply(api, manifest("whale"))
    await wait_status(api, "whale", state="Degraded", observedGeneration=1)
    await patch_spec(api, "whale", paused=True)
    await wait_row(conn, "whale", paused=True)

    async def reasons() -> list[str]:
        return sorted(e["reason"] for e in events(api, "whale"))

    await eventually(reasons, lambda r: "Paused" in r, what="the Paused event")
    await delete(api, "whale")
    await wait_row(conn, "whale", killed=True)

    async def gone() -> bool:
        return bool(api.objects[TS, NAMESPACE, "whale"].deleted)

    await eventually(gone, bool, what="the finalizer to let the resource go")


@pytest.mark.parametrize(
    ("clusterwide", "peering"),
    [(True, True), (False, True), (True, False)],
    ids=["all-namespaces", "namespaced", "standalone"],
)
async def test_the_operator_calls_exactly_the_permissions_it_needs(
    api: kmock.KubernetesEmulator, dsn: str, clusterwide: bool, peering: bool
) -> None:
    if peering:
        register_peering(api, "orderflow", None if clusterwide else NAMESPACE)
    conn = await db.connect(dsn)
    try:
        async with operator_running(
            api,
            dsn,
            peering=("orderflow", 10) if peering else None,
            namespaces=() if clusterwide else (NAMESPACE,),
        ):
            await lifecycle(api, conn)
    finally:
        await conn.close()
    assert requested(api) == needed(clusterwide=clusterwide, peering=peering)


@pytest.mark.parametrize(
    ("namespaces", "scanning"),
    [((), False), (("trading",), False), (("trading", "research"), False)]
    + [((pattern,), True) for pattern in ("trading-*", "tr?ding", "!kube-system", "a,b")],
)
def test_kopf_scans_the_cluster_only_for_namespace_patterns(
    namespaces: tuple[str, ...], scanning: bool
) -> None:
    assert needs_scanning(namespaces) is scanning
