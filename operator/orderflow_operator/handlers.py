"""kopf wiring: a registry whose handlers call ``orderflow_operator.reconcile``.

* create / update / resume -> :func:`reconcile.reconcile` (idempotent, so all three share it);
* delete -> :func:`reconcile.finalize` behind kopf's finalizer ``orderflow.io/finalizer``: the
  resource cannot disappear before its strategy is killed and marked deleted;
* a timer per resource -> :func:`reconcile.refresh` (live figures, Degraded, ExchangeRefusing;
  :func:`reconcile.status_events` for what they changed);
* rows whose resource is gone without its finalizer (removed by hand) -> :mod:`orphans`, one
  operator-wide task (started at startup, stopped at cleanup) that looks every status interval;
* the pool is opened (and the schema migrated) at startup if the database answers, else by the
  first handler that needs it: startup never waits for the database, because kopf serves the
  liveness endpoint only after its startup handlers have finished, and a pod whose probes do not
  answer is restarted into a crash loop whose back-off would delay every switch once the
  database is back; a liveness probe reports the database.

Transient database trouble becomes :class:`kopf.TemporaryError` with exponential backoff and
jitter; kopf then retries the handler. kopf's own state (progress, last-handled spec) lives in
``orderflow.io/*`` annotations, so the status carries only what this operator writes.

The registry is built by a function (not module-level decorators) so the CLI and the tests each
get a fresh one bound to their own settings and database.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import asyncpg
import kopf
from kubernetes import client

from orderflow import db
from orderflow.errors import DatabaseError
from orderflow.migrate import migrate
from orderflow_operator import kube, orphans, reconcile, store
from orderflow_operator.cluster import Cluster
from orderflow_operator.config import OperatorSettings
from orderflow_operator.crd import GROUP, RESOURCE
from orderflow_operator.scope import needs_scanning

FINALIZER = f"{GROUP}/finalizer"

_TRANSIENT = (
    OSError,
    asyncio.TimeoutError,
    DatabaseError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.SerializationError,
    asyncpg.DeadlockDetectedError,
    asyncpg.TooManyConnectionsError,
    asyncpg.CannotConnectNowError,
    asyncpg.AdminShutdownError,
)


log = logging.getLogger(__name__)

# Verdicts the status timer reconciles again on each tick: the row is not the resource's to
# write until its other owner lets go, or until the spec takes a retired row over.
_RETRIED = ("NameConflict", "Retired")

# The liveness probe's database check gives up after this long (kubelet's probe timeout is 5 s).
PROBE_TIMEOUT_SECS = 3.0


class Database:
    """The operator's pool, opened and migrated on first use and again after a failed attempt.

    :meth:`pool` raises one of ``_TRANSIENT`` while the database cannot be reached, which the
    handlers turn into :class:`kopf.TemporaryError` like any other database outage.
    """

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        self.opened: asyncpg.Pool | None = None
        self._lock = asyncio.Lock()

    async def pool(self) -> asyncpg.Pool:
        if self.opened is not None:
            return self.opened
        async with self._lock:
            if self.opened is None:
                pool = await db.create_pool(self.dsn, min_size=1, max_size=4)
                try:
                    async with pool.acquire() as conn:
                        await migrate(conn)
                except BaseException:
                    await pool.close()
                    raise
                self.opened = pool
        return self.opened

    async def close(self) -> None:
        if self.opened is not None:
            await self.opened.close()
            self.opened = None


def backoff(retry: int, cap: float) -> float:
    """Exponential (1, 2, 4 … seconds) capped, with jitter so replicas and resources spread."""
    return float(min(cap, 2.0**retry) * random.uniform(0.5, 1.0))


def configure_kopf(settings: kopf.OperatorSettings, *, scanning: bool = False) -> None:
    """kopf settings; ``scanning`` from :func:`needs_scanning`."""
    settings.scanning.disabled = not scanning
    settings.persistence.finalizer = FINALIZER
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=GROUP)
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
        prefix=GROUP, key="last-handled-configuration"
    )
    settings.posting.level = logging.WARNING  # only our own events, not every kopf log line
    settings.posting.reporting_component = "orderflow-operator"
    # A deletion waits for a status tick under way; kopf looks again after this long (default
    # 60 s, which held a resource's deletion and the uninstall hook a minute).
    settings.background.cancellation_polling = 1.0
    settings.watching.server_timeout = 300
    settings.watching.client_timeout = 330


def _target(meta: Mapping[str, Any]) -> reconcile.Target:
    uid = meta.get("uid")
    return reconcile.Target(
        namespace=str(meta.get("namespace") or ""),
        name=str(meta["name"]),
        uid=str(uid) if uid else None,
    )


def _turn(memo: kopf.Memo) -> asyncio.Lock:
    """The object's lock (in its memo) that its handlers and its timer reconcile under."""
    lock: asyncio.Lock | None = getattr(memo, "lock", None)
    if lock is None:  # no await between the look-up and the assignment: one lock per memo
        lock = memo.lock = asyncio.Lock()
    return lock


def _status_at(version: str | None, status: Mapping[str, Any]) -> Callable[[Any], None]:
    """A status patch that applies only to the object at ``version``, for kopf's ``patch.fns``.

    kopf sends a function's changes as a JSON patch with a ``test`` of the ``resourceVersion`` it
    knows; the function changes nothing once kopf knows a newer one. So a status computed while
    the object was at ``version`` is refused (HTTP 422, kopf drops it; the next tick writes
    afresh) once anything wrote the object since, a kill's status above all. ``None`` values
    remove their key, as in a merge patch."""

    def apply(body: Any) -> None:
        if body.get("metadata", {}).get("resourceVersion") != version:
            return
        current = body.setdefault("status", {})
        for key, value in status.items():
            if value is None:
                current.pop(key, None)
            else:
                current[key] = value

    return apply


def _post(body: kopf.Body, events: list[reconcile.Event]) -> None:
    for event in events:
        kopf.event(body, type=event.type, reason=event.reason, message=event.message)


def build_registry(
    config: OperatorSettings,
    dsn: str,
    *,
    namespaces: Sequence[str] = (),
    login: bool = True,
    kubernetes: Callable[[], client.ApiClient] | None = None,
) -> kopf.OperatorRegistry:
    """All handlers, bound to ``config`` and the database at ``dsn``.

    ``namespaces``: what the operator is started with (empty: cluster-wide); patterns among them
    switch on kopf's cluster scanning (:func:`needs_scanning`).

    ``login``: authenticate like kubectl (in-cluster service account, else the kubeconfig).
    A registry made here does not get kopf's implicit fallback logins (only kopf's global default
    registry has them), so we register the same one explicitly; tests pass ``login=False`` and
    add their own.

    ``kubernetes``: a client for what the operator asks the API outside kopf (:mod:`cluster`);
    by default logged in like kubectl too. Tests pass one for their API server.
    """
    registry = kopf.OperatorRegistry()
    cap = config.retry_max_delay_secs

    if login:

        @kopf.on.login(registry=registry)
        def kubernetes_login(**kwargs: Any) -> kopf.ConnectionInfo | None:
            info: kopf.ConnectionInfo | None = kopf.login_via_client(**kwargs)
            return info

    database = Database(dsn)
    scanning = needs_scanning(namespaces)
    connect = kubernetes or (lambda: kube.api_client(kube.OPERATOR_AGENT))
    sweeper = orphans.Sweeper(namespaces, config.status_interval_secs, Cluster(connect))
    orphans.register_index(registry)

    @kopf.on.startup(registry=registry)
    async def open_database(settings: kopf.OperatorSettings, **kw: Any) -> None:
        """One attempt, never a wait: handlers open the pool themselves while it is closed.
        Then the orphan sweep starts (it opens the pool itself too)."""
        configure_kopf(settings, scanning=scanning)
        try:
            await database.pool()
        except _TRANSIENT as exc:
            log.warning(f"database not reachable at start-up, handlers retry: {exc}")
        sweeper.start(database.pool, orphans.index_of(kw), settings)

    @kopf.on.cleanup(registry=registry)
    async def close_database(**_: Any) -> None:
        await sweeper.stop()
        await database.close()

    @kopf.on.probe(id="database", registry=registry)
    async def database_probe(**_: Any) -> str:
        """Reported on /healthz; never raises and never waits long, so a database outage does
        not restart us. It does not open the pool (a handler does)."""
        pool = database.opened
        if pool is None:
            return "failing: not connected"
        try:
            async with asyncio.timeout(PROBE_TIMEOUT_SECS), pool.acquire() as conn:
                return "ok" if await store.ping(conn) else "failing"
        except Exception as exc:
            return f"failing: {type(exc).__name__}"

    async def reconcile_into_memo(
        meta: kopf.Meta, spec: kopf.Spec, status: kopf.Status, memo: kopf.Memo
    ) -> reconcile.Result | None:
        """Reconcile the object's spec and remember the verdict and the generation it was for
        in the object's memo, which kopf shares between its handlers and its timer. The caller
        holds the object's turn (:func:`_turn`).

        Handlers, timer and finalizer take turns, and the spec and generation are read once the
        turn is taken: the timer's body is kopf's live view of the object, so a timer that
        waited for a handler reconciles what that handler did, never an older spec after it.
        None, writing nothing, once the object is being deleted: the strategy is the
        finalizer's to retire, and a write now would bring its row back (kopf stops the timer
        on deletion, but a tick already under way goes on)."""
        if meta.get("deletionTimestamp") is not None:
            return None
        generation = meta.get("generation")
        result = await reconcile.reconcile(
            await database.pool(),
            _target(meta),
            dict(spec),
            generation=generation,
            previous_status=dict(status),
            stale_after_secs=config.heartbeat_stale_secs,
            live_credentials=config.live_credentials_secret,
        )
        memo.ready = result.ready
        memo.generation = generation
        return result

    # One reconcile for create, update and resume (operator restart): kopf registers the same
    # function under three handler ids.
    @kopf.on.resume(*RESOURCE, id="reconcile-resume", registry=registry)
    @kopf.on.create(*RESOURCE, id="reconcile-create", registry=registry)
    @kopf.on.update(*RESOURCE, id="reconcile-update", registry=registry)
    async def apply(
        body: kopf.Body,
        meta: kopf.Meta,
        spec: kopf.Spec,
        status: kopf.Status,
        patch: kopf.Patch,
        memo: kopf.Memo,
        retry: int,
        logger: logging.Logger | logging.LoggerAdapter[Any],
        **_: Any,
    ) -> None:
        try:
            async with _turn(memo):
                result = await reconcile_into_memo(meta, spec, status, memo)
        except _TRANSIENT as exc:
            delay = backoff(retry, cap)
            logger.warning(f"transient error, retry in {delay:.1f}s: {exc}")
            raise kopf.TemporaryError(str(exc), delay=delay) from exc
        if result is None:  # being deleted (kopf runs no resume, create or update then)
            return
        patch.status.update(result.status)
        _post(body, result.events + reconcile.status_events(status, result.status))
        outcome = result.write.outcome.value if result.write else "not-applied"
        name = meta["name"]
        logger.info(f"reconciled strategy {name}: {outcome}, state {result.status['state']}")

    @kopf.on.delete(*RESOURCE, id="finalize", registry=registry)
    async def on_delete(
        body: kopf.Body, meta: kopf.Meta, memo: kopf.Memo, retry: int, logger: Any, **_: Any
    ) -> None:
        target = _target(meta)
        try:
            async with _turn(memo):  # after a timer's tick under way, never before it
                result = await reconcile.finalize(await database.pool(), target)
        except _TRANSIENT as exc:
            raise kopf.TemporaryError(str(exc), delay=backoff(retry, cap)) from exc
        _post(body, result.events)
        outcome = result.write.outcome.value if result.write else "none"
        logger.info(f"finalized strategy {target.name}: {outcome}")

    @kopf.timer(
        *RESOURCE,
        id="refresh-status",
        interval=config.status_interval_secs,
        initial_delay=config.status_interval_secs,
        registry=registry,
    )
    async def refresh_status(
        body: kopf.Body,
        meta: kopf.Meta,
        spec: kopf.Spec,
        status: kopf.Status,
        patch: kopf.Patch,
        memo: kopf.Memo,
        logger: logging.Logger | logging.LoggerAdapter[Any],
        **_: Any,
    ) -> None:
        """Live figures; waits for this process's first reconcile of the object (resume or
        create), whose Ready verdict and generation it then repeats.

        It reconciles the spec itself when that verdict may be out of date: a resource blocked
        by a name conflict, so it takes over as soon as the other owner lets go (deletes its
        row); and a spec whose generation this process has not reconciled. The latter happens
        when another replica led meanwhile (kopf peering): kopf keeps this process's memo over
        the pause and, the spec being the one the other replica handled, runs no handler when
        this one takes over again, so the memo's verdict is the one from before the pause. Of a
        reconcile's events only the Normal ones are posted from here (the handler that met a
        spec posted its Warning); the figures' own (:func:`reconcile.status_events`) are.

        A verdict ``Applied`` whose row another owner has taken since (``orderflow strategy set
        --force``) becomes ``NameConflict``, one whose row was retired under it ``Retired``
        (:func:`reconcile.refresh`, one Warning event), and from then on the resource retries
        like any conflicted one. A retry whose verdict changes (a conflicted resource whose
        other owner retired the row: ``Retired``) posts its Warning too, once.

        Nothing at all once the object is being deleted (its row is the finalizer's: a tick
        under way would report the retirement it is making).

        The whole tick takes the object's turn, its read of the figures too: a tick that read
        the figures just before a handler's switch (a kill) and returned them after that
        handler's status put the old figures back (``Running``, ``Killed=False`` for a killed
        row) until the next tick. A tick that waited for a handler reads what that handler
        wrote, and repeats its verdict. kopf sends the tick's patch only after it returns, i.e.
        after the turn, so it can still reach the API server after the status of a kill that
        waited for the turn: it is therefore a patch of the object as the tick found it
        (:func:`_status_at`, the ``resourceVersion`` read under the turn), which the API server
        refuses once anything wrote the object since; the next tick writes afresh."""
        try:
            async with _turn(memo):
                version = meta.get("resourceVersion")  # what the figures will be read against
                ready = getattr(memo, "ready", None)
                if ready is None or meta.get("deletionTimestamp") is not None:
                    return
                caught_up = memo.generation == meta.get("generation")
                if ready.reason in _RETRIED or not caught_up:
                    result = await reconcile_into_memo(meta, spec, status, memo)
                    if result is None:
                        return
                    changed = result.ready is not None and result.ready.reason != ready.reason
                    warn = caught_up and changed  # a catch-up's Warnings: the other replica's
                    _post(body, [e for e in result.events if e.type == "Normal" or warn])
                else:
                    result = await reconcile.refresh(
                        await database.pool(),
                        _target(meta),
                        ready=ready,
                        generation=memo.generation,
                        previous_status=dict(status),
                        stale_after_secs=config.heartbeat_stale_secs,
                    )
                    memo.ready = result.ready  # NameConflict once another owner took the row
                    _post(body, result.events)
                fresh = result.status
        except _TRANSIENT as exc:
            raise kopf.TemporaryError(str(exc), delay=backoff(1, cap)) from exc
        patch.fns.append(_status_at(version, fresh))
        _post(body, reconcile.status_events(status, fresh))

    return registry
