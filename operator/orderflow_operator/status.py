"""The TradingStrategy status, computed from facts: pure functions, no I/O.

Conditions (Kubernetes style, ``lastTransitionTime`` only moves when ``status`` flips):

* ``Ready``    the current spec generation is written to the database (False: InvalidSpec,
               MissingCredentials, InvalidName, NameConflict, Retired, Deleting);
* ``Paused``   / ``Killed``: the switches *as stored in the database*, i.e. as the executor sees
               them, not as the spec asks; a retired row (deleted: the executor treats it as
               killed) is ``Killed`` with reason ``Retired``;
* ``Degraded`` the executor has not heartbeated for longer than the configured threshold (or
               never did), or its leader does not run this strategy (``EXECUTOR_STRATEGIES``
               leaves it out);
* ``ExchangeRefusing`` the exchange refuses the executor's API key for the strategy's mode
               (KeyRefused: no order of the mode is sent) or the cancels of the strategy's live
               orders (CancelsRefused: a killed strategy's orders still at the exchange), as the
               executor records them (migrations 054, 062); also ``status.exchange``.

``state`` is the one word ``kubectl get ts`` shows, most serious first:
Retired > Killed > Paused > Invalid/Conflict > Degraded > Running (Pending before the first
reconcile).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Literal

from orderflow_operator.figures import Figures, Refusals

Truth = Literal["True", "False", "Unknown"]
CONDITION_TYPES = ("Ready", "Paused", "Killed", "Degraded", "ExchangeRefusing")
_INVALID = {"InvalidSpec", "MissingCredentials", "InvalidName"}


@dataclass(frozen=True, slots=True)
class Condition:
    type: str
    status: Truth
    reason: str
    message: str = ""


def timestamp(value: datetime | None) -> str | None:
    """RFC 3339 in UTC with a Z, as Kubernetes writes times."""
    if value is None:
        return None
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def usd(value: Decimal) -> str:
    """Exact decimal text, at least cents, never rounded (and never through float)."""
    exponent = value.normalize().as_tuple().exponent
    if isinstance(exponent, int) and exponent < -2:
        return f"{value.normalize():f}"
    return str(value.quantize(Decimal("0.01")))


def merge_conditions(
    previous: Iterable[Mapping[str, Any]],
    current: Iterable[Condition],
    *,
    now: datetime,
    generation: int | None,
) -> list[dict[str, Any]]:
    """New condition dicts, keeping each one's lastTransitionTime unless its status changed."""
    before = {c.get("type"): c for c in previous}
    result: list[dict[str, Any]] = []
    for cond in current:
        old = before.get(cond.type)
        changed = old is None or old.get("status") != cond.status
        since = timestamp(now) if changed or old is None else old.get("lastTransitionTime")
        item: dict[str, Any] = {
            "type": cond.type,
            "status": cond.status,
            "reason": cond.reason,
            "message": cond.message,
            "lastTransitionTime": since,
        }
        if generation is not None:
            item["observedGeneration"] = generation
        result.append(item)
    return result


def switch_conditions(figures: Figures) -> list[Condition]:
    if figures.retired_at is not None:
        why = (
            f"the strategy row (last owned by {figures.retired_from}) was retired at"
            f" {timestamp(figures.retired_at)}: killed, nothing trades it"
        )
        return [
            Condition("Paused", "Unknown", "Retired", why),
            Condition("Killed", "True", "Retired", why),
        ]
    if not figures.owned:
        why = "not applied: the strategy row is not this resource's"
        return [
            Condition("Paused", "Unknown", "NotApplied", why),
            Condition("Killed", "Unknown", "NotApplied", why),
        ]
    outside = (
        "set outside this resource (orderflow strategy {}): kept until spec.{}=true, then false"
    )
    return [
        Condition("Paused", "True", "PausedOutsideResource", outside.format("pause", "paused"))
        if figures.paused and figures.pause_held
        else Condition("Paused", "True", "PausedBySpec", "no new positions are opened")
        if figures.paused
        else Condition("Paused", "False", "Running", "new positions allowed"),
        Condition("Killed", "True", "KilledOutsideResource", outside.format("kill", "killed"))
        if figures.killed and figures.kill_held
        else Condition(
            "Killed", "True", "KilledBySpec", "all trading stopped, live orders cancelled"
        )
        if figures.killed
        else Condition("Killed", "False", "Alive", "trading allowed"),
    ]


def degraded_condition(name: str, figures: Figures, stale_after_secs: float) -> Condition:
    age = figures.heartbeat_age_secs
    if age is None:
        return Condition(
            "Degraded",
            "True",
            "NoExecutorHeartbeat",
            "no executor has heartbeated for this strategy",
        )
    if age > stale_after_secs:
        return Condition(
            "Degraded",
            "True",
            "ExecutorHeartbeatStale",
            f"last executor heartbeat {int(age)}s ago (threshold {int(stale_after_secs)}s)",
        )
    only = figures.executor_runs_only
    if only and name not in only:
        return Condition(
            "Degraded",
            "True",
            "NotRunByExecutor",
            f"the executor runs only EXECUTOR_STRATEGIES={','.join(only)}: this strategy is "
            "never traded",
        )
    return Condition("Degraded", "False", "ExecutorAlive", f"executor heartbeat {int(age)}s ago")


def plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _cancels_refused(r: Refusals) -> str:
    return (
        f"{plural(r.cancel_refused_orders, 'live order')} still at the exchange, which"
        f" refuses to cancel {'it' if r.cancel_refused_orders == 1 else 'them'} since"
        f" {timestamp(r.cancel_refused_since)} ({plural(r.cancel_refusals, 'refusal')}, the"
        f" last at {timestamp(r.cancel_last_refused_at)}: {r.cancel_last_why or '-'}); the"
        " executor keeps asking, at most a minute apart"
    )


def exchange_condition(figures: Figures) -> Condition:
    """``ExchangeRefusing``: the key refused (the cause of everything else) before cancels; for a
    retired row too (the kill switch cancels its orders)."""
    if not figures.owned and figures.retired_at is None:
        return Condition(
            "ExchangeRefusing", "Unknown", "NotApplied", "the strategy row is not this resource's"
        )
    r = figures.refusals
    mode = r.mode
    if r.key_refused_since is not None:
        message = (
            f"the exchange refuses the executor's {mode} API key since"
            f" {timestamp(r.key_refused_since)} ({plural(r.key_refusals, 'request')} refused,"
            f" the last at {timestamp(r.key_last_refused_at)}: {r.key_last_error or '-'}): no"
            f" {mode} order is sent; see the executor's log for what to check"
        )
        if r.cancel_refused_orders:
            message += f"; {_cancels_refused(r)}"
        return Condition("ExchangeRefusing", "True", "KeyRefused", message)
    if r.cancel_refused_orders:
        return Condition("ExchangeRefusing", "True", "CancelsRefused", _cancels_refused(r))
    return Condition("ExchangeRefusing", "False", "Accepting", "the exchange refuses nothing")


def state_of(conditions: Sequence[Condition]) -> str:
    by_type = {c.type: c for c in conditions}
    ready = by_type.get("Ready")
    killed = by_type.get("Killed", Condition("", "False", ""))
    if killed.status == "True":
        return "Retired" if killed.reason == "Retired" else "Killed"
    if by_type.get("Paused", Condition("", "False", "")).status == "True":
        return "Paused"
    if ready is not None and ready.status == "False":
        if ready.reason in _INVALID:
            return "Invalid"
        if ready.reason == "NameConflict":
            return "Conflict"
        return ready.reason or "NotReady"
    if by_type.get("Degraded", Condition("", "False", "")).status == "True":
        return "Degraded"
    if ready is not None and ready.status == "True":
        return "Running"
    return "Pending"


def build_status(
    *,
    name: str,
    ready: Condition | None,
    figures: Figures,
    previous: Mapping[str, Any],
    observed_generation: int | None,
    stale_after_secs: float,
) -> dict[str, Any]:
    """The whole ``status`` to merge-patch (None values delete stale keys)."""
    conditions = [
        ready or Condition("Ready", "Unknown", "Pending", "not reconciled yet"),
        *switch_conditions(figures),
        degraded_condition(name, figures, stale_after_secs),
        refusing := exchange_condition(figures),
    ]
    age = figures.heartbeat_age_secs
    return {
        "observedGeneration": observed_generation,
        "state": state_of(conditions),
        "strategy": name,
        "settingsGeneration": figures.generation if figures.owned else None,
        "openPositions": figures.open_positions,
        "liveOrders": figures.live_orders,
        "exchange": {"True": refusing.reason, "False": "OK"}.get(refusing.status),
        "todayPnlUsd": usd(figures.today_pnl),
        "lastSignalAt": timestamp(figures.last_signal_at),
        "executorHeartbeatAt": timestamp(figures.heartbeat_at),
        "executorHeartbeatAgeSecs": None if age is None else int(age),
        "figuresAt": timestamp(figures.now),
        "conditions": merge_conditions(
            previous.get("conditions") or (),
            conditions,
            now=figures.now,
            generation=observed_generation,
        ),
    }
