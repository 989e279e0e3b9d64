"""Start kopf with our registry: namespaces, peering (one active replica), liveness endpoint."""

from __future__ import annotations

import asyncio
import logging
import random
import threading
from collections.abc import Sequence

import kopf

from orderflow_operator import kube
from orderflow_operator.config import OperatorSettings
from orderflow_operator.handlers import build_registry

# The User-Agent of the start-up check and the orphan sweep (kopf's own requests carry kopf's).
OPERATOR_AGENT = kube.OPERATOR_AGENT


class KopfRecordFilter(logging.Filter):
    """kopf attaches its whole OperatorSettings (and a posting flag) to every per-object log
    record, for its Event poster, which runs first (it hangs on the ``kopf.objects`` logger). Our
    JSON lines keep the object reference (``k8s_ref``) and drop the rest."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.__dict__.pop("settings", None)
        record.__dict__.pop("k8s_skip", None)
        return True


def quiet_kopf_records() -> None:
    """Install :class:`KopfRecordFilter` on the root handlers (idempotent)."""
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, KopfRecordFilter) for f in handler.filters):
            handler.addFilter(KopfRecordFilter())


def liveness_url(port: int) -> str | None:
    """kopf's liveness endpoint on HEALTH_PORT (0 disables it)."""
    return f"http://0.0.0.0:{port}/healthz" if port else None


async def run(
    config: OperatorSettings,
    dsn: str,
    *,
    namespaces: Sequence[str] = (),
    clusterwide: bool = False,
    standalone: bool = False,
    stop_flag: threading.Event | None = None,
) -> None:
    """Run until SIGTERM/SIGINT.

    Peering: replicas share the (Cluster)KopfPeering object ``config.peering_name``; kopf pauses
    every operator that sees a live peer of higher *or equal* priority, so each process takes a
    distinct random priority unless one is configured: the highest works, the others stand by
    and take over within the peering lifetime when it stops heartbeating.

    Credentials: in-cluster service account, else the kubeconfig (kopf's own login handlers).
    ``stop_flag`` stops it from another thread (tests; signals only work in the main thread).

    First the credentials and the API server are checked: without a cluster it raises
    :class:`kube.KubernetesUnavailable` at once (kopf would retry on, docs/operator.md).
    """
    await asyncio.to_thread(kube.check_reachable, OPERATOR_AGENT)
    quiet_kopf_records()
    priority = config.priority if config.priority is not None else random.randint(1, 2**30)
    await kopf.operator(
        registry=build_registry(config, dsn, namespaces=namespaces),
        clusterwide=clusterwide,
        namespaces=list(namespaces),
        standalone=standalone,
        peering_name=None if standalone else config.peering_name,
        priority=priority,
        liveness_endpoint=liveness_url(config.health_port),
        stop_flag=stop_flag,
    )
