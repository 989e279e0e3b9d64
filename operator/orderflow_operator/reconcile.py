"""What the operator does, as plain async functions over a pool: no kopf in here.

The kopf handlers (``orderflow_operator.handlers``) only translate: they call these functions,
patch the returned status, post the returned events and turn transient database errors into
retries. Everything here is idempotent — running it twice with the same input writes nothing the
second time — so kopf's resume-on-restart and retries are harmless.

Invalid specs. A spec the model rejects (cross-field rules, live mode without credentials, a name
the executor cannot use) is *not* applied: the previous settings stay in force, the status says
why (Ready=False) and a Warning event is posted. The one exception is stopping: ``paused: true``
or ``killed: true`` in an invalid spec are still applied to an existing row, because a person
reaching for the brakes must not be blocked by a typo elsewhere in the spec. Un-pausing or
un-killing needs a valid spec.

Retired rows. A strategy row retired while a resource still names it (killed and marked deleted
by its finalizer, by the orphan sweep — another operator's too — or by hand), or retired by the
other owner of a conflicted resource, is a killed strategy, often with open positions and
resting orders. So is a row an earlier resource of the name owned (another ``uid``): it was
deleted without its finalizer, and its row is retired first (:func:`store.retire_replaced`). No
resource brings it back by saying ``killed: false``: it reports ``Retired`` (Ready=False, state
Retired) and writes nothing, until its spec says ``killed: true`` (it takes the row over,
killed), then ``false``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import asyncpg

from orderflow_operator import store
from orderflow_operator.figures import Figures, read_figures
from orderflow_operator.spec import ParsedSpec, parse_spec
from orderflow_operator.status import Condition, build_status, plural, timestamp


@dataclass(frozen=True, slots=True)
class Event:
    """A Kubernetes Event to post on the resource."""

    type: Literal["Normal", "Warning"]
    reason: str
    message: str


@dataclass(frozen=True, slots=True)
class Result:
    status: dict[str, Any]
    events: list[Event] = field(default_factory=list)
    write: store.WriteResult | None = None
    ready: Condition | None = None


@dataclass(frozen=True, slots=True)
class Target:
    """Which resource, and the row it maps to. ``uid``: the resource's ``metadata.uid`` (None:
    not known, e.g. a resource that is gone), which tells it from an earlier one of its name."""

    namespace: str
    name: str
    uid: str | None = None

    @property
    def source(self) -> str:
        return store.source_for(self.namespace, self.name)


def _switch_events(write: store.WriteResult, paused: bool, killed: bool) -> list[Event]:
    events = []
    if killed and not write.was_killed:
        events.append(Event("Normal", "Killed", "trading stopped; live orders are cancelled"))
    if not killed and write.was_killed:
        events.append(Event("Normal", "Revived", "killed switched off"))
    if paused and not write.was_paused:
        events.append(Event("Normal", "Paused", "no new positions from now on"))
    if not paused and write.was_paused:
        events.append(Event("Normal", "Resumed", "new positions allowed again"))
    return events


_REPLACED = (
    "the strategy row was an earlier TradingStrategy's of this name, deleted without its"
    " finalizer: killed and marked deleted, as its deletion should have"
)


def _conflict(target: Target, owner: str | None) -> Condition:
    """Ready=False: the strategy row is another owner's (a CLI-made strategy, a resource of
    another namespace, or one taken with ``orderflow strategy set --force``)."""
    message = f"strategy {target.name!r} already exists, owned by {owner}"
    return Condition("Ready", "False", "NameConflict", message)


def _retired(target: Target, figures: Figures) -> Condition:
    """Ready=False: the strategy row is retired (killed, marked deleted) and this spec does not
    say ``killed: true``, so nothing is written (see :func:`store.apply_strategy`)."""
    whose = "this resource" if figures.retired_from == target.source else figures.retired_from
    message = (
        f"strategy {target.name!r} (last owned by {whose}) was retired at"
        f" {timestamp(figures.retired_at)}: killed and marked deleted, with"
        f" {plural(figures.open_positions, 'open position')} and"
        f" {plural(figures.live_orders, 'live order')};"
        " nothing is written back: set spec.killed=true to take it over (killed), then false to"
        " trade it again"
    )
    return Condition("Ready", "False", "Retired", message)


def _condition(status: Mapping[str, Any], kind: str) -> Mapping[str, Any]:
    conditions = status.get("conditions") or ()
    return next((c for c in conditions if c.get("type") == kind), {})


def status_events(previous: Mapping[str, Any], status: Mapping[str, Any]) -> list[Event]:
    """Events for what the figures changed between two statuses, whoever computed them (a
    reconcile or the timer): a Warning when the exchange starts refusing (or refuses something
    else: the key after the cancels), a Normal event when it stops."""
    before = _condition(previous, "ExchangeRefusing")
    now = _condition(status, "ExchangeRefusing")
    was, reason = before.get("status") == "True", before.get("reason")
    if now.get("status") == "True" and (not was or reason != now.get("reason")):
        return [Event("Warning", "ExchangeRefusing", str(now.get("message")))]
    if was and now.get("status") == "False":
        return [Event("Normal", "ExchangeAccepting", f"{reason} over: {now.get('message')}")]
    return []


async def reconcile(
    pool: asyncpg.Pool,
    target: Target,
    spec: Mapping[str, Any] | None,
    *,
    generation: int | None,
    previous_status: Mapping[str, Any],
    stale_after_secs: float,
    live_credentials: str | None = None,
) -> Result:
    """Create/update/resume: write the spec into ``orderflow_strategies`` and compute the status.

    ``live_credentials``: the executor's credentials Secret, which a live spec must name
    (see :func:`~orderflow_operator.spec.parse_spec`)."""
    parsed = parse_spec(target.name, spec, live_credentials=live_credentials)
    events: list[Event] = []
    ready: Condition | None
    async with pool.acquire() as conn:
        if target.uid is not None and await store.retire_replaced(
            conn, name=target.name, source=target.source, uid=target.uid
        ):
            events.append(Event("Warning", "Replaced", _REPLACED))
        if isinstance(parsed, ParsedSpec):
            write = await store.apply_strategy(
                conn,
                name=target.name,
                source=target.source,
                settings=parsed.settings.model_dump(mode="json"),
                paused=parsed.paused,
                killed=parsed.killed,
                uid=target.uid,
            )
            if write.outcome is store.Outcome.CONFLICT:
                ready = _conflict(target, write.owner)
                events.append(Event("Warning", "NameConflict", ready.message))
            elif write.outcome is store.Outcome.RETIRED:
                ready = None  # from the figures, below
            else:
                ready = Condition(
                    "Ready", "True", "Applied", f"settings generation {write.generation} stored"
                )
                if write.outcome is store.Outcome.CREATED:
                    events.append(Event("Normal", "Created", f"strategy {target.name} created"))
                elif write.outcome is store.Outcome.UPDATED:
                    events.append(
                        Event("Normal", "Applied", f"settings generation {write.generation} stored")
                    )
                if write.outcome is not store.Outcome.UNCHANGED:
                    events += _switch_events(
                        write,
                        parsed.paused or "paused" in write.held,
                        parsed.killed or "killed" in write.held,
                    )
                if write.held:
                    held = " and ".join(write.held)
                    events.append(
                        Event(
                            "Warning",
                            "HeldOutsideResource",
                            f"{held} by `orderflow strategy` outside this resource: kept;"
                            f" set spec.{write.held[0]}=true to take it over, then false",
                        )
                    )
        else:
            write = None
            if parsed.paused or parsed.killed:
                write = await store.stop_strategy(
                    conn,
                    name=target.name,
                    source=target.source,
                    pause=parsed.paused,
                    kill=parsed.killed,
                )
                if write.outcome is store.Outcome.UPDATED:
                    events.append(
                        Event("Normal", "Stopped", "invalid spec, but its pause/kill was applied")
                    )
            ready = Condition("Ready", "False", parsed.reason, parsed.message)
            events.append(Event("Warning", parsed.reason, f"not applied: {parsed.message}"))
        figures = await read_figures(conn, name=target.name, source=target.source)
    if ready is None:
        ready = _retired(target, figures)
        events.append(Event("Warning", "Retired", ready.message))
    status = build_status(
        name=target.name,
        ready=ready,
        figures=figures,
        previous=previous_status,
        observed_generation=generation,
        stale_after_secs=stale_after_secs,
    )
    return Result(status, events, write, ready)


async def refresh(
    pool: asyncpg.Pool,
    target: Target,
    *,
    ready: Condition | None,
    generation: int | None,
    previous_status: Mapping[str, Any],
    stale_after_secs: float,
) -> Result:
    """The timer's job: re-read the figures and switches; ``ready`` is the last reconcile's
    verdict, which stands — unless it says the row is applied while another owner now holds
    it (``orderflow strategy set --force``): then ``NameConflict``; or while the row has been
    retired (killed, marked deleted) under the resource: then ``Retired``. Either with a
    Warning event, and the caller keeps it as the verdict. Before, the status went on saying
    ``Running`` for a row the resource no longer controls, whose kill it could not apply, or
    for a retired strategy nothing trades."""
    async with pool.acquire() as conn:
        figures = await read_figures(conn, name=target.name, source=target.source)
    events = []
    if ready is not None and ready.status == "True" and figures.owner not in (None, target.source):
        ready = _conflict(target, figures.owner)
        events.append(Event("Warning", "NameConflict", f"taken over: {ready.message}"))
    elif ready is not None and ready.status == "True" and figures.retired_at is not None:
        ready = _retired(target, figures)
        events.append(Event("Warning", "Retired", ready.message))
    status = build_status(
        name=target.name,
        ready=ready,
        figures=figures,
        previous=previous_status,
        observed_generation=generation,
        stale_after_secs=stale_after_secs,
    )
    return Result(status, events, None, ready)


async def finalize(pool: asyncpg.Pool, target: Target) -> Result:
    """Deletion: kill the strategy and mark its row deleted before the resource goes."""
    async with pool.acquire() as conn:
        write = await store.retire_strategy(conn, name=target.name, source=target.source)
    events = []
    if write.outcome is store.Outcome.UPDATED:
        message = "strategy killed and marked deleted; its history is kept"
        events.append(Event("Normal", "Retired", message))
    return Result({}, events, write)


async def orphaned(
    pool: asyncpg.Pool,
    *,
    exists: Callable[[Target], bool],
    watched: Callable[[str], bool],
) -> list[Target]:
    """The resources of every live row a resource in a ``watched`` namespace owns while that
    resource does not ``exist`` (as far as the caller knows): its finalizer was removed by hand
    (or it vanished while no operator ran), so nothing retired it."""
    found = []
    async with pool.acquire() as conn:
        for name, source in await store.managed_rows(conn):
            owner = store.managed_by(source)
            if owner is None or not watched(owner[0]):
                continue
            target = Target(namespace=owner[0], name=owner[1])
            if target.name == name and not exists(target):
                found.append(target)
    return found


async def retire(
    pool: asyncpg.Pool, targets: Iterable[Target], *, exists: Callable[[Target], bool]
) -> list[Target]:
    """Kill and mark deleted, like :func:`finalize`, the rows of these resources, which are
    gone (the executor kept trading them with nobody managing them; a deleted resource means
    "stop") — but one that does ``exist`` by now, asked just before its write. The targets
    retired."""
    retired = []
    async with pool.acquire() as conn:
        for target in targets:
            if exists(target):
                continue
            write = await store.retire_strategy(conn, name=target.name, source=target.source)
            if write.outcome is store.Outcome.UPDATED:
                retired.append(target)
    return retired
