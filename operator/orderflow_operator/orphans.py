"""Strategy rows whose TradingStrategy is gone, and nobody retired them.

A resource's finalizer kills its strategy and marks the row deleted before the resource goes.
A finalizer removed by hand (the way out of a resource stuck while no operator ran,
docs/deploy.md) lets the resource go without that: its row stayed live and the executor kept
trading a strategy nothing managed any more. The operator therefore retires every live row a
resource in a namespace it watches owns while no such resource exists — at start-up and then
once per ``OPERATOR_STATUS_INTERVAL_SECS``, from one operator-wide task a startup handler
starts, so also while no resource at all is left in its namespaces (it used to run from each
resource's handlers: with none left, nothing noticed).

Such a task has no guarantee from kopf that its index is complete, nor that kopf has not paused
this replica for a peer (:mod:`cluster`). So the index only says which rows need a look (those
with no resource in it: normally none, and then nothing else is asked); for those, the task
asks the API itself whether kopf's peering has this replica stand by (then it does nothing) and
which of their resources exist now, and retires the rest — each unless its resource has
appeared in the index meanwhile (a resource created since, whose handler may have applied the
row again; one whose handler comes later applies it again after the retirement).

Retiring is the finalizer's write (killed, marked deleted; history kept), logged as a warning:
there is no resource left to post an Event on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

import asyncpg
import kopf

from orderflow_operator import reconcile
from orderflow_operator.cluster import Cluster
from orderflow_operator.crd import RESOURCE
from orderflow_operator.scope import watches

log = logging.getLogger(__name__)

# The kopf index of the resources seen, and the keyword it is passed to handlers as.
INDEX = "strategy_resources"

Resources = kopf.Index[tuple[str, str], None]


class Sweeper:
    """Retires orphaned rows (module doc) for an operator watching ``namespaces`` (empty:
    every namespace)."""

    def __init__(self, namespaces: Sequence[str], interval: float, cluster: Cluster) -> None:
        self.namespaces = tuple(namespaces)
        self.interval = interval
        self.cluster = cluster
        self._task: asyncio.Task[None] | None = None

    def watched(self, namespace: str) -> bool:
        return watches(self.namespaces, namespace)

    async def sweep(
        self, pool: asyncpg.Pool, index: Resources, settings: kopf.OperatorSettings
    ) -> list[reconcile.Target]:
        """One look; the targets retired."""

        def indexed(target: reconcile.Target) -> bool:
            return (target.namespace, target.name) in index

        candidates = await reconcile.orphaned(pool, exists=indexed, watched=self.watched)
        if not candidates or await self.cluster.standing_by(settings.peering, self.namespaces):
            return []
        existing = await self.cluster.resources(t.namespace for t in candidates)
        gone = [t for t in candidates if (t.namespace, t.name) not in existing]
        retired = await reconcile.retire(pool, gone, exists=indexed)
        for target in retired:
            log.warning(
                f"strategy {target.name} killed and marked deleted: its TradingStrategy "
                f"{target.namespace}/{target.name} no longer exists (finalizer removed by hand?)"
            )
        return retired

    async def _run(
        self,
        pool: Callable[[], Awaitable[asyncpg.Pool]],
        index: Resources,
        settings: kopf.OperatorSettings,
    ) -> None:
        while True:
            try:
                await self.sweep(await pool(), index, settings)
            except Exception as exc:  # the database or the API: the next round tries again
                log.warning(f"orphaned strategies not checked, again in {self.interval}s: {exc}")
            await asyncio.sleep(self.interval)

    def start(
        self,
        pool: Callable[[], Awaitable[asyncpg.Pool]],
        index: Resources,
        settings: kopf.OperatorSettings,
    ) -> None:
        """Sweep now and every ``interval`` seconds until :meth:`stop` (once: a startup
        handler run again starts no second task)."""
        if self._task is not None:
            return
        self._task = asyncio.create_task(self._run(pool, index, settings), name="orphan sweep")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None


def index_of(kwargs: Mapping[str, Any]) -> Resources:
    """The index among a handler's keyword arguments (kopf passes indices by their id)."""
    index: Resources = kwargs[INDEX]
    return index


def register_index(registry: kopf.OperatorRegistry) -> None:
    """The index :class:`Sweeper` reads: ``(namespace, name)`` of every resource seen."""

    @kopf.index(*RESOURCE, id=INDEX, registry=registry)
    def strategy_resources(namespace: str | None, name: str, **_: Any) -> dict[Any, None]:
        return {(namespace or "", name): None}
