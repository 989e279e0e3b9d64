"""Two operator replicas never fight: with kopf peering only the highest priority works; when
it stops, the other takes over. Each replica writes to its own database here, so what each one
did is visible."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import kmock
import pytest

from orderflow import db
from tests.operator.conftest import (
    NAMESPACE,
    TS,
    ApiServer,
    eventually,
    operator_running,
    register_peering,
)

pytestmark = pytest.mark.kmock(cls=ApiServer)
URL = f"/apis/orderflow.io/v1alpha1/namespaces/{NAMESPACE}/tradingstrategies"


async def names(dsn: str) -> list[str]:
    conn = await db.connect(dsn)
    try:
        return [r["name"] for r in await conn.fetch("SELECT name FROM orderflow_strategies")]
    finally:
        await conn.close()


def logged(caplog: pytest.LogCaptureFixture, words: str) -> bool:
    return any(words in r.getMessage() for r in caplog.records)


async def test_only_the_leader_works_and_the_standby_takes_over(
    api: kmock.KubernetesEmulator, dsn: str, second_dsn: str, caplog: pytest.LogCaptureFixture
) -> None:
    # kopf reports resuming at INFO: capture it whatever level earlier tests left.
    caplog.set_level(logging.INFO, logger="kopf")
    register_peering(api, "orderflow")

    async def peers() -> dict[str, Any]:
        return dict(
            api.objects["kopf.dev/v1/clusterkopfpeerings", None, "orderflow"].get("status") or {}
        )

    async with contextlib.AsyncExitStack() as standby:
        async with contextlib.AsyncExitStack() as leader:
            # The leader (priority 20) joins first, so the standby's very first look at the
            # peering already shows it: with mandatory peering kopf starts paused and stays so.
            # (Joining the other way round, the standby could resume for an instant and handle
            # what comes first before it notices the leader — legitimately, so not testable.)
            await leader.enter_async_context(operator_running(api, dsn, peering=("orderflow", 20)))
            await eventually(peers, lambda p: len(p) == 1, what="the leader in the peering")
            await standby.enter_async_context(
                operator_running(api, second_dsn, peering=("orderflow", 10))
            )
            await eventually(peers, lambda p: len(p) == 2, what="both replicas in the peering")

            body = {"metadata": {"name": "first", "namespace": NAMESPACE}, "spec": {}}
            async with api.post(URL, json=body) as resp:
                assert resp.status == 200

            async def handled() -> dict[str, Any]:
                return dict(api.objects[TS, NAMESPACE, "first"].get("status") or {})

            await eventually(handled, lambda s: "state" in s, what="the leader's status")
            assert await names(dsn) == ["first"]
            assert await names(second_dsn) == []  # the standby (priority 10) did nothing

        # the leader is gone: the standby resumes and handles what comes next
        body = {"metadata": {"name": "second", "namespace": NAMESPACE}, "spec": {}}
        async with api.post(URL, json=body) as resp:
            assert resp.status == 200

        async def standby_names() -> list[str]:
            return await names(second_dsn)

        found = await eventually(standby_names, lambda n: "second" in n, what="the takeover")
        assert "second" in found
        assert logged(caplog, "Resuming operations after the pause")


async def test_a_replica_taking_over_again_reports_what_the_other_one_reconciled(
    api: kmock.KubernetesEmulator, dsn: str, caplog: pytest.LogCaptureFixture
) -> None:
    """The first replica reconciles a valid spec, pauses for a higher-priority one, which
    reconciles an invalid update, and takes over again when that one stops. kopf keeps the
    first replica's memory of the object over the pause and runs no handler on its return (the
    spec is what the other replica handled): its status timer must not report its own old
    verdict (Running, observedGeneration 1) over the invalid spec's."""
    caplog.set_level(logging.INFO, logger="kopf")
    register_peering(api, "orderflow")

    async def status() -> dict[str, Any]:
        return dict(api.objects[TS, NAMESPACE, "flip"].get("status") or {})

    async with operator_running(api, dsn, peering=("orderflow", 10)):
        body = {"metadata": {"name": "flip", "namespace": NAMESPACE}, "spec": {}}
        async with api.post(URL, json=body) as resp:
            assert resp.status == 200
        await eventually(
            status, lambda s: s.get("observedGeneration") == 1, what="the first verdict"
        )
        async with operator_running(api, dsn, peering=("orderflow", 20)):
            await eventually(
                lambda: asyncio.sleep(0, logged(caplog, "Pausing operations in favour of")),
                bool,
                what="the first replica to pause",
            )
            headers = {"Content-Type": "application/merge-patch+json"}
            crossed = {"spec": {"minWhaleScore": 5, "maxFadeScore": 6}}
            async with api.patch(f"{URL}/flip", json=crossed, headers=headers) as resp:
                assert resp.status == 200
            await eventually(
                status,
                lambda s: (s.get("state"), s.get("observedGeneration")) == ("Invalid", 2),
                what="the second replica's verdict",
            )
            caplog.clear()
        await eventually(
            lambda: asyncio.sleep(0, logged(caplog, "Resuming operations after the pause")),
            bool,
            what="the first replica to resume",
        )
        # A leader heartbeat changes the Degraded condition: the first status it writes is the
        # first replica's own (its timer runs again), whatever verdict it carries.
        conn = await db.connect(dsn)
        try:
            await conn.execute(
                "INSERT INTO orderflow_executor_heartbeats (instance_id, is_leader, strategies)"
                " VALUES ('executor-0', TRUE, '{flip}')"
            )
        finally:
            await conn.close()

        def degraded(s: dict[str, Any]) -> str | None:
            found = [c for c in s.get("conditions", []) if c["type"] == "Degraded"]
            return found[0]["status"] if found else None

        st = await eventually(status, lambda s: degraded(s) == "False", what="a fresh status")
        assert (st["state"], st["observedGeneration"]) == ("Invalid", 2)
