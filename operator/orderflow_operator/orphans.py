"""Strategy rows whose TradingStrategy is gone, and nobody retired them.

A resource's finalizer kills its strategy and marks the row deleted before the resource goes.
A finalizer removed by hand (the way out of a resource stuck while no operator ran,
docs/deploy.md) lets the resource go without that: its row stayed live and the executor kept
trading a strategy nothing managed any more. The operator therefore keeps an index of the
resources it sees (kopf fills it from its list and watch before any handler runs) and retires
every live row a resource in a namespace it watches owns while no such resource exists:

* at start-up (each resource's resume handler: the first one does it),
* from the status timer (at most once per ``OPERATOR_STATUS_INTERVAL_SECS``).

Retiring is the finalizer's write (killed, marked deleted; history kept), logged as a warning:
there is no resource left to post an Event on. Both run per resource (kopf has no
operator-wide timer that sees a filled index): with no resource left in scope at all, nothing
notices until the next one is created.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from typing import Any

import asyncpg
import kopf

from orderflow_operator import reconcile
from orderflow_operator.crd import RESOURCE
from orderflow_operator.scope import watches

# The kopf index of the resources seen, and the keyword it is passed to handlers as.
INDEX = "strategy_resources"


class Sweeper:
    """Retires orphaned rows (module doc) for an operator watching ``namespaces`` (empty:
    every namespace), at most once per ``interval`` seconds (each resource's timer asks)."""

    def __init__(self, namespaces: Sequence[str], interval: float) -> None:
        self.namespaces = tuple(namespaces)
        self.interval = interval
        self._last: float | None = None
        self._lock = asyncio.Lock()

    def watched(self, namespace: str) -> bool:
        return watches(self.namespaces, namespace)

    async def sweep(
        self,
        pool: asyncpg.Pool,
        index: Resources,
        logger: logging.Logger | logging.LoggerAdapter[Any],
    ) -> None:
        loop = asyncio.get_running_loop()
        async with self._lock:
            if self._last is not None and loop.time() - self._last < self.interval:
                return
            retired = await reconcile.retire_orphans(
                pool,
                exists=lambda target: (target.namespace, target.name) in index,
                watched=self.watched,
            )
            self._last = loop.time()
        for target in retired:
            logger.warning(
                f"strategy {target.name} killed and marked deleted: its TradingStrategy "
                f"{target.namespace}/{target.name} no longer exists (finalizer removed by hand?)"
            )


Resources = kopf.Index[tuple[str, str], None]


def index_of(kwargs: Mapping[str, Any]) -> Resources:
    """The index among a handler's keyword arguments (kopf passes indices by their id)."""
    index: Resources = kwargs[INDEX]
    return index


def register_index(registry: kopf.OperatorRegistry) -> None:
    """The index :class:`Sweeper` reads: ``(namespace, name)`` of every resource seen."""

    @kopf.index(*RESOURCE, id=INDEX, registry=registry)
    def strategy_resources(namespace: str | None, name: str, **_: Any) -> dict[Any, None]:
        return {(namespace or "", name): None}
