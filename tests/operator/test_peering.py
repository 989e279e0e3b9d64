"""Two operator replicas never fight: with kopf peering only the highest priority works; when
it stops, the other takes over. Each replica writes to its own database here, so what each one
did is visible."""

from __future__ import annotations

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
