"""Retire every TradingStrategy before the operator goes: ``orderflow operator retire``.

``helm uninstall`` deletes a release's objects by kind, kinds it does not know last, and never
the CRD (``crds/``): the operator's Deployment, its RBAC and the Secrets go before any
TradingStrategy. A resource left (the chart's example, or any a user made) keeps the operator's
finalizer, which nobody removes any more: it stays, its namespace cannot be deleted, and its
strategy row was never killed, so its live orders rest at the exchange with nobody managing them
once the executor is gone too. The chart runs this command as a pre-delete hook, which Helm runs
before it deletes anything:

1. delete every TradingStrategy in the operator's scope: its namespace, all with ``-A``, or
   what its kopf pattern covers (``-n '!research'``: every namespace but one another release
   manages; the chart's ``operator.excludeNamespaces``);
2. wait until they are gone: the operator's finalizer killed each strategy and marked its row
   deleted (``reconcile.finalize``);
3. kill the executor's own strategy (``--kill-strategy``, the chart passes the executor's
   ``STRATEGY_NAME`` when the executor runs it): seeded from its environment, it is no
   TradingStrategy and nothing else stops it before the executor goes;
4. wait until the executor's kill switch has cancelled their live orders (``INTENT``/``OPEN``
   live orders of killed or deleted strategies owned by resources in scope, or named in 3).

Whatever is not done within the timeout fails the command, naming what is left: the hook fails
and Helm stops the uninstall with everything still running (``helm uninstall --no-hooks`` skips
it on purpose). Every step is idempotent, so running it again after a failure is safe.

Kubernetes calls: list and delete TradingStrategies, nothing else (the chart's hook Role;
``tests/operator/permissions.py: retire_needed``). The client is ``kubernetes``' (blocking, run
in a thread), logged in like kubectl: the in-cluster service account, else the kubeconfig.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from orderflow import db
from orderflow.errors import OrderflowError
from orderflow_operator import kube, store
from orderflow_operator.crd import GROUP, PLURAL, VERSION
from orderflow_operator.scope import needs_scanning, watches

log = logging.getLogger(__name__)

# The User-Agent of its Kubernetes requests (tests tell them from the operator's by it).
RETIRE_AGENT = "orderflow-retire"


class RetireError(OrderflowError):
    """Not everything was retired in time, or the Kubernetes API refused a call."""


def connect() -> client.CustomObjectsApi:
    """A client logged in like kubectl: the pod's service account, else the kubeconfig; one
    error line (:class:`kube.KubernetesUnavailable`) when there is none or its API server does
    not answer, as the operator's start-up gives."""
    kube.check_reachable(RETIRE_AGENT)
    return client.CustomObjectsApi(kube.api_client(RETIRE_AGENT))


@dataclass(frozen=True, slots=True)
class Scope:
    """The operator's namespaces as it takes them (``-n`` values, kopf patterns allowed; empty:
    every namespace, ``-A``), and the strategies no resource owns that are retired with them
    (``--kill-strategy``)."""

    namespaces: tuple[str, ...] = ()
    unmanaged: tuple[str, ...] = ()

    @property
    def exact(self) -> bool:
        """Namespace names to list one by one (else: list cluster-wide, keep what it covers)."""
        return bool(self.namespaces) and not needs_scanning(self.namespaces)

    def covers(self, namespace: str) -> bool:
        return watches(self.namespaces, namespace)

    def sources(self) -> list[str]:
        """LIKE patterns of ``orderflow_strategies.source`` for resources in scope. With kopf
        patterns, every resource's: the database is this release's, and whatever its
        executor must cancel before it goes is waited for."""
        names = self.namespaces if self.exact else ("%",)
        return [store.source_for(ns, "%") for ns in names]


def _refused(exc: ApiException, what: str) -> RetireError:
    return RetireError(f"Kubernetes refused to {what}: {exc.status} {exc.reason} {exc.body or ''}")


def _list(api: client.CustomObjectsApi, scope: Scope) -> list[dict[str, Any]]:
    scopes: tuple[str | None, ...] = tuple(scope.namespaces) if scope.exact else (None,)
    try:
        items = [item for ns in scopes for item in kube.list_items(api, GROUP, VERSION, PLURAL, ns)]
    except ApiException as exc:
        raise _refused(exc, f"list {PLURAL}") from exc
    return [item for item in items if scope.covers(item["metadata"].get("namespace", ""))]


def _delete(api: client.CustomObjectsApi, namespace: str, name: str) -> None:
    try:
        api.delete_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, name)
    except ApiException as exc:
        if exc.status != 404:  # gone meanwhile: what we wanted
            raise _refused(exc, f"delete {PLURAL} {namespace}/{name}") from exc


def _key(item: dict[str, Any]) -> str:
    meta = item["metadata"]
    return f"{meta.get('namespace', '')}/{meta['name']}"


async def delete_all(
    api: client.CustomObjectsApi, scope: Scope, *, deadline: float, poll: float
) -> list[str]:
    """Delete every TradingStrategy in scope and wait until all are gone (the operator's
    finalizer retired them); the ``namespace/name`` of those seen. One made meanwhile is
    deleted too."""
    loop = asyncio.get_running_loop()
    seen: set[str] = set()
    while True:
        items = await asyncio.to_thread(_list, api, scope)
        if not items:
            return sorted(seen)
        for item in items:
            if item["metadata"].get("deletionTimestamp") is None:
                meta = item["metadata"]
                await asyncio.to_thread(_delete, api, meta["namespace"], meta["name"])
                log.info(f"deleted TradingStrategy {_key(item)}; waiting for its finalizer")
            seen.add(_key(item))
        if loop.time() > deadline:
            left = ", ".join(sorted(_key(i) for i in items))
            raise RetireError(
                f"TradingStrategies still there: {left}. Their finalizer is the operator's: "
                "is it running? (kubectl describe ts; the operator's logs)"
            )
        await asyncio.sleep(poll)


async def wait_for_cancels(dsn: str, scope: Scope, *, deadline: float, poll: float) -> None:
    """Wait until no killed or deleted strategy of a resource in scope has a live order left."""
    loop = asyncio.get_running_loop()
    conn = await db.connect(dsn)
    try:
        while True:
            left = await store.live_orders_of_retired(conn, scope.sources(), scope.unmanaged)
            if not left:
                return
            if loop.time() > deadline:
                counts = ", ".join(f"{name}: {n}" for name, n in sorted(left.items()))
                raise RetireError(
                    f"live orders not cancelled yet ({counts}): the executor's kill switch "
                    "cancels them; is the executor running and the exchange answering? "
                    "(orderflow strategy status)"
                )
            log.info(f"waiting for the executor to cancel live orders: {left}")
            await asyncio.sleep(poll)
    finally:
        await conn.close()


async def kill_unmanaged(dsn: str, scope: Scope) -> None:
    """Step 3: kill the strategies of ``scope.unmanaged`` (a resource's is left to its
    finalizer)."""
    if not scope.unmanaged:
        return
    conn = await db.connect(dsn)
    try:
        killed = await store.kill_unmanaged(conn, scope.unmanaged)
    finally:
        await conn.close()
    log.info(f"killed strategies: {', '.join(killed) or 'none (already killed or absent)'}")


async def retire(
    api: client.CustomObjectsApi,
    dsn: str,
    namespaces: Sequence[str] = (),
    *,
    within: float,
    kill: Sequence[str] = (),
    poll: float = 1.0,
) -> list[str]:
    """Steps 1-4 of the module doc within ``within`` seconds; the resources retired."""
    scope = Scope(tuple(namespaces), tuple(kill))
    deadline = asyncio.get_running_loop().time() + within
    retired = await delete_all(api, scope, deadline=deadline, poll=poll)
    await kill_unmanaged(dsn, scope)
    await wait_for_cancels(dsn, scope, deadline=deadline, poll=poll)
    log.info(f"retired {len(retired)} TradingStrategies: {', '.join(retired) or 'none'}")
    return retired
