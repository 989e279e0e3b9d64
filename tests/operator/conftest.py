"""Fixtures for the operator: a Kubernetes API stand-in (kmock) and the operator running on it.

kmock's ``KubernetesEmulator`` keeps objects in memory and serves discovery, list, watch, create,
patch and delete. :class:`ApiServer` adds the few things a real API server does that kopf and our
status rely on: names for ``generateName`` objects (kopf's Events); ``uid``, ``creationTimestamp``
and ``metadata.generation`` on create, the generation bumped whenever the spec changes and when the
object is marked for deletion; a new ``resourceVersion`` on every write, and HTTP 422 when a JSON
patch's ``test`` of the resourceVersion fails (kopf's optimistic concurrency for finalizers).
Without fresh resource versions kopf cannot tell its own stale events from new ones and runs
handlers twice. Lists carry the current resourceVersion and a watch started from it streams only
what changed since (kmock 0.8 replays every object as ADDED, so kopf saw each object's first
version again after acting on it); the watch also takes its snapshot and its position in the event
stream atomically, so no change made in between is lost.
"""

from __future__ import annotations

import asyncio
import itertools
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
import kmock
import kopf
import pytest
import yaml
from kopf.testing import KopfRunner
from kubernetes import client

from orderflow import db
from orderflow_operator.config import OperatorSettings
from orderflow_operator.handlers import build_registry

ROOT = Path(__file__).resolve().parents[2]
CRD_FILE = ROOT / "charts" / "orderflow" / "crds" / "tradingstrategies.yaml"
TS = "orderflow.io/v1alpha1/tradingstrategies"
NAMESPACE = "trading"
T = TypeVar("T")
_VERSIONS = itertools.count(1)
_LATEST = [0]  # the last resourceVersion handed out


def _merge(base: Mapping[str, Any], patch: Mapping[str, Any]) -> dict[str, Any]:
    """RFC 7386 merge patch."""
    out = dict(base)
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        elif isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


class ApiServer(kmock.KubernetesEmulator):
    """kmock's emulator plus the metadata bookkeeping of a real API server (see module doc)."""

    def _current(self, request: kmock.Request) -> dict[str, Any] | None:
        if request.resource is None or request.name is None:
            return None  # no object has such a key
        try:
            obj = self.objects[request.resource, request.namespace, request.name]
        except KeyError:
            return None
        return None if obj.deleted else dict(obj.raw)

    async def _serve_list(self, request: kmock.Request) -> Any:
        payload = await super()._serve_list(request)
        assert isinstance(payload, dict)  # kmock's list reply is a JSON object
        payload["metadata"]["resourceVersion"] = str(_LATEST[0])
        return payload

    async def _serve_watch(self, request: kmock.Request) -> AsyncIterator[Any]:
        yield b""  # start the stream (as kmock does)
        assert request.resource is not None  # a watch is always of one resource
        bus = self._buses[request.resource]
        since = request.params.get("resourceVersion", "")
        since_version = int(since) if since.isdigit() else -1
        async with self._lock:  # writers publish under this lock: snapshot + mark are atomic
            current = [
                obj.raw
                for (resource, _, _), obj in self.objects.items()
                if resource == request.resource
                and not obj.deleted
                and int(obj.raw.get("metadata", {}).get("resourceVersion") or 0) > since_version
            ]
            mark = await bus.mark()
        try:
            for raw in current:
                if self._watched(request, raw):
                    yield {"type": "ADDED", "object": raw}
            async for event in bus.stream(since=mark):
                if self._watched(request, event.get("object", {})):
                    yield event
        finally:
            await bus.unmark(mark)

    @staticmethod
    def _watched(request: kmock.Request, raw: Mapping[str, Any]) -> bool:
        meta = raw.get("metadata", {})
        return (request.namespace is None or meta.get("namespace") == request.namespace) and (
            request.name is None or meta.get("name") == request.name
        )

    async def _handle(self, request: kmock.Request) -> Any:
        data = request.data
        _LATEST[0] = next(_VERSIONS)
        version = str(_LATEST[0])
        if request.resource is not None and isinstance(data, list):  # JSON patch
            current = self._current(request) or {}
            seen = current.get("metadata", {}).get("resourceVersion")
            for op in data:
                is_test = op.get("op") == "test" and op.get("path") == "/metadata/resourceVersion"
                if is_test and op.get("value") != seen:
                    raise kmock.KubernetesError(422, "Invalid", "resourceVersion mismatch")
            data.append({"op": "add", "path": "/metadata/resourceVersion", "value": version})
        if request.resource is not None and isinstance(data, dict):
            if request.action in (kmock.action.CREATE, kmock.action.UPDATE):
                data.setdefault("metadata", {})["resourceVersion"] = version
            if request.action == kmock.action.CREATE:
                meta = data.setdefault("metadata", {})
                if not meta.get("name") and meta.get("generateName"):
                    meta["name"] = meta["generateName"] + uuid.uuid4().hex[:5]
                meta.setdefault("uid", str(uuid.uuid4()))
                meta.setdefault("generation", 1)
                now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
                meta.setdefault("creationTimestamp", now)
            elif (
                request.action == kmock.action.UPDATE
                and request.subresource is None
                and isinstance(data.get("spec"), Mapping)
            ):
                stored = self._current(request)
                if stored is not None:
                    spec = stored.get("spec") or {}
                    if _merge(spec, data["spec"]) != spec:
                        generation = stored.get("metadata", {}).get("generation", 1) + 1
                        data.setdefault("metadata", {})["generation"] = generation
        if request.action == kmock.action.DELETE and request.name is not None:
            stored = self._current(request)
            meta = (stored or {}).get("metadata", {})
            if meta.get("finalizers") and not meta.get("deletionTimestamp"):
                # Marking an object for deletion bumps its generation, as the API server does.
                assert request.resource is not None  # the object was found under it
                key = (request.resource, request.namespace, request.name)
                self.objects[key].patch({"metadata": {"generation": meta.get("generation", 1) + 1}})
        return await super()._handle(request)


def register_resources(server: kmock.KubernetesEmulator) -> None:
    """Discovery entries kopf needs, the namespace, and our CRD as an object."""
    info = kmock.ResourceInfo
    verbs = {"list", "watch", "get", "patch", "create", "update", "delete"}
    server.resources[TS] = info(
        kind="TradingStrategy",
        singular="tradingstrategy",
        shortnames={"ts"},
        namespaced=True,
        subresources={"status"},
        verbs=verbs,
    )
    server.resources["v1/namespaces"] = info(
        kind="Namespace", namespaced=False, verbs={"list", "watch", "get"}
    )
    server.resources["apiextensions.k8s.io/v1/customresourcedefinitions"] = info(
        kind="CustomResourceDefinition", namespaced=False, verbs={"list", "watch", "get"}
    )
    server.resources["v1/events"] = info(
        kind="Event", namespaced=True, verbs={"create", "list", "watch", "get"}
    )
    server.objects["v1/namespaces", None, NAMESPACE] = {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": NAMESPACE},
    }
    crd = next(yaml.safe_load_all(CRD_FILE.read_text()))
    server.objects[
        "apiextensions.k8s.io/v1/customresourcedefinitions", None, crd["metadata"]["name"]
    ] = crd


@pytest.fixture
def api(kmock: kmock.KubernetesEmulator) -> kmock.KubernetesEmulator:
    register_resources(kmock)
    return kmock


@pytest.fixture
async def conn(dsn: str) -> AsyncIterator[asyncpg.Connection]:
    """A connection to the test's database (what the operator wrote)."""
    c = await db.connect(dsn)
    try:
        yield c
    finally:
        await c.close()


def operator_config(**overrides: Any) -> OperatorSettings:
    values: dict[str, Any] = {"status_interval_secs": 0.3, "heartbeat_stale_secs": 60.0}
    values.update(overrides)
    return OperatorSettings(**values)


PEERINGS = "kopf.dev/v1/clusterkopfpeerings"
NAMESPACED_PEERINGS = "kopf.dev/v1/kopfpeerings"


def register_peering(
    server: kmock.KubernetesEmulator, name: str, namespace: str | None = None
) -> None:
    """kopf's peering resource and one peering object (what the chart installs): cluster-wide,
    or a KopfPeering in ``namespace``."""
    resource, kind = (PEERINGS, "ClusterKopfPeering")
    if namespace is not None:
        resource, kind = (NAMESPACED_PEERINGS, "KopfPeering")
    server.resources[resource] = kmock.ResourceInfo(
        kind=kind,
        namespaced=namespace is not None,
        verbs={"list", "watch", "get", "patch", "create", "update", "delete"},
    )
    metadata = {"name": name, "resourceVersion": "1"}
    if namespace is not None:
        metadata["namespace"] = namespace
    server.objects[resource, namespace, name] = {
        "apiVersion": "kopf.dev/v1",
        "kind": kind,
        "metadata": metadata,
    }


@pytest.fixture
async def second_dsn(pg_server_dsn: str, pg_template: str) -> AsyncIterator[str]:
    """Another fresh migrated database (to tell apart what each operator replica wrote)."""
    from tests.conftest import scratch_database

    async with scratch_database(pg_server_dsn, template=pg_template) as url:
        yield url


def client_of(server: kmock.KubernetesEmulator) -> client.ApiClient:
    """A ``kubernetes`` client for kmock (the operator's own reads, outside kopf)."""
    configuration = client.Configuration(host=str(server.url).rstrip("/"))
    return client.ApiClient(configuration)


@asynccontextmanager
async def operator_running(
    server: kmock.KubernetesEmulator,
    dsn: str,
    config: OperatorSettings | None = None,
    *,
    peering: tuple[str, int] | None = None,
    namespaces: Sequence[str] = (),
) -> AsyncIterator[KopfRunner]:
    """The real kopf runtime in a thread, logged in to kmock: ``kopf run -A --standalone``, or
    with ``peering=(name, priority)`` as one of several replicas; ``namespaces``: ``-n`` each
    instead of ``-A``.

    Entering and leaving happen in a worker thread: the kmock server lives on this test's event
    loop, which must keep serving while kopf starts and stops.
    """
    registry = build_registry(
        config or operator_config(),
        dsn,
        namespaces=namespaces,
        login=False,
        kubernetes=lambda: client_of(server),
    )

    @kopf.on.login(registry=registry)
    def login(**_: Any) -> kopf.ConnectionInfo:
        return kopf.ConnectionInfo(server=str(server.url).rstrip("/"))

    if peering is None:
        scope = ["--standalone"]
    else:
        scope = ["--peering", peering[0], "--priority", str(peering[1])]
    where = [arg for ns in namespaces for arg in ("-n", ns)] or ["-A"]
    args = ["run", *where, *scope, "--verbose"]
    runner = KopfRunner(args, registry=registry, timeout=60)
    await asyncio.to_thread(runner.__enter__)
    try:
        yield runner
    finally:
        await asyncio.to_thread(runner.__exit__, None, None, None)


async def eventually(
    probe: Callable[[], Awaitable[T]],
    accept: Callable[[T], bool],
    *,
    what: str,
    timeout: float = 30.0,
) -> T:
    """Poll ``probe`` until ``accept`` says yes; fail naming ``what`` and the last value seen.

    The timeout is a generous safety net for a loaded machine, not an assertion about speed.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        value = await probe()
        if accept(value):
            return value
        if loop.time() > deadline:
            pytest.fail(f"timed out waiting for {what}; last value: {value!r}")
        await asyncio.sleep(0.05)
