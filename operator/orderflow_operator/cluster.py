"""What the operator asks the Kubernetes API itself, outside kopf's watch: which TradingStrategies
exist right now, and whether kopf's peering has this replica stand by.

The orphan sweep (:mod:`orphans`) runs operator-wide, from a task a startup handler starts, so it
also runs with no resource at all. kopf gives such a task its index but no guarantee that the
index is complete: indices are "fully pre-populated before any other resource-related handlers
are invoked", while startup handlers and what they start see them "empty or partially populated"
(kopf's docs, "Indexing", "Guarantees"), and kopf tells nobody when its initial listing is done.
Nor does it tell such a task that it paused the operator for a peer: a standby replica never
lists at all, so its index stays empty. Before it retires anything the sweep therefore lists the
resources (``list`` on ``tradingstrategies``, which kopf's watch needs anyway) and reads the
peering object (``list``, which kopf's peering needs) — only when some row has no resource in
the index, i.e. rarely.

The client is ``kubernetes``' (blocking, run in a thread), logged in like kopf's
``login_via_client``: the pod's service account, else the kubeconfig.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from kubernetes import client

from orderflow_operator.crd import GROUP, PLURAL, VERSION
from orderflow_operator.kube import list_items
from orderflow_operator.scope import needs_scanning

PEERING_GROUP, PEERING_VERSION = "kopf.dev", "v1"


class Cluster:
    """Reads through a client from ``connect`` (a new one per use, closed after it)."""

    def __init__(self, connect: Callable[[], client.ApiClient]) -> None:
        self.connect = connect

    def _list(self, plural: str, group: str, version: str, namespace: str | None) -> list[Any]:
        api = self.connect()
        try:
            return list_items(client.CustomObjectsApi(api), group, version, plural, namespace)
        finally:
            api.close()  # type: ignore[no-untyped-call]

    async def resources(self, namespaces: Iterable[str]) -> set[tuple[str, str]]:
        """``(namespace, name)`` of every TradingStrategy in these namespaces, now."""
        found = set()
        for namespace in sorted(set(namespaces)):
            items = await asyncio.to_thread(self._list, PLURAL, GROUP, VERSION, namespace)
            found |= {(namespace, str(item["metadata"]["name"])) for item in items}
        return found

    async def standing_by(self, peering: Any, namespaces: Sequence[str]) -> bool:
        """Whether kopf's peering pauses this replica: kopf's own rule (it pauses an operator
        that sees a live peer of higher or equal priority), read from the peering object(s)
        of its scope (cluster-wide, or one per namespace with ``-n``). A mandatory peering
        object that is missing pauses it too; namespace patterns cannot be enumerated here, so
        with peering they count as standing by. ``peering``: kopf's ``settings.peering``
        (standalone, clusterwide, mandatory, name, priority)."""
        if peering.standalone:
            return False
        if peering.clusterwide:
            scopes: list[str | None] = [None]
        elif needs_scanning(namespaces):
            return True
        else:
            scopes = list(namespaces)
        for scope in scopes:
            plural = "clusterkopfpeerings" if scope is None else "kopfpeerings"
            items = await asyncio.to_thread(
                self._list, plural, PEERING_GROUP, PEERING_VERSION, scope
            )
            mine = [i for i in items if i.get("metadata", {}).get("name") == peering.name]
            if not mine:
                if peering.mandatory:
                    return True
                continue
            if outranked(mine[0].get("status") or {}, peering.priority):
                return True
        return False


def outranked(peers: Mapping[str, Any], priority: int, now: datetime | None = None) -> bool:
    """kopf's rule over a peering object's ``status`` (``{id: {priority, lifetime, lastseen}}``,
    one entry per replica, ours among them once it has announced itself): a live peer of
    higher priority, or another of the same (two entries with ours)."""
    now = now or datetime.now(UTC)
    live = []
    for info in peers.values():
        if not isinstance(info, Mapping):
            continue
        seen = info.get("lastseen")
        lastseen = datetime.fromisoformat(seen) if isinstance(seen, str) else now
        if lastseen.tzinfo is None:
            lastseen = lastseen.replace(tzinfo=UTC)
        if lastseen + timedelta(seconds=int(info.get("lifetime", 60))) > now:
            live.append(int(info.get("priority", 0)))
    return any(p > priority for p in live) or live.count(priority) > 1
