"""A paper strategy ``whale`` created through the API server, and its status as the server
holds it: what the status tests start from (the tick's race with a kill's status)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import kmock

from tests.operator.conftest import NAMESPACE, TS, eventually

URL = f"/apis/orderflow.io/v1alpha1/namespaces/{NAMESPACE}/tradingstrategies"


def status_of(api: kmock.KubernetesEmulator, name: str) -> dict[str, Any]:
    """The resource's status as stored (empty once deleted)."""
    obj = api.objects[TS, NAMESPACE, name]
    return {} if obj.deleted else dict(obj.get("status") or {})


async def running_whale(api: kmock.KubernetesEmulator) -> Callable[[], Awaitable[dict[str, Any]]]:
    """Create the paper strategy ``whale`` and wait for the operator to report it Running; a
    reader of its status."""
    body = {
        "apiVersion": "orderflow.io/v1alpha1",
        "kind": "TradingStrategy",
        "metadata": {"name": "whale", "namespace": NAMESPACE},
        "spec": {"mode": "paper"},
    }
    async with api.post(URL, json=body) as resp:
        assert resp.status == 200, await resp.text()

    async def status() -> dict[str, Any]:
        return status_of(api, "whale")

    await eventually(status, lambda s: s.get("state") == "Running", what="Running")
    return status
