"""The real kopf runtime (KopfRunner, in a thread) against kmock's Kubernetes emulator, with a
real PostgreSQL: what `kubectl apply/patch/delete` does to the strategy row and the status.

Waiting uses ``eventually`` (poll with a generous deadline), never a fixed sleep, and asserts
what happened, not how fast.
"""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import kmock
import pytest

from orderflow_operator import reconcile
from tests.operator.conftest import (
    NAMESPACE,
    TS,
    ApiServer,
    eventually,
    operator_config,
    operator_running,
)

pytestmark = pytest.mark.kmock(cls=ApiServer)
URL = f"/apis/orderflow.io/v1alpha1/namespaces/{NAMESPACE}/tradingstrategies"


def manifest(name: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "orderflow.io/v1alpha1",
        "kind": "TradingStrategy",
        "metadata": {"name": name, "namespace": NAMESPACE},
        "spec": spec,
    }


async def apply(api: kmock.KubernetesEmulator, body: dict[str, Any]) -> None:
    async with api.post(URL, json=body) as resp:
        assert resp.status == 200, await resp.text()


async def patch_spec(api: kmock.KubernetesEmulator, name: str, **spec: Any) -> None:
    """`kubectl patch ts NAME --type merge -p '{"spec": {...}}'`"""
    headers = {"Content-Type": "application/merge-patch+json"}
    async with api.patch(f"{URL}/{name}", json={"spec": spec}, headers=headers) as resp:
        assert resp.status == 200, await resp.text()


async def delete(api: kmock.KubernetesEmulator, name: str) -> None:
    async with api.delete(f"{URL}/{name}") as resp:
        assert resp.status == 200, await resp.text()


def status_of(api: kmock.KubernetesEmulator, name: str) -> dict[str, Any]:
    obj = api.objects[TS, NAMESPACE, name]
    return {} if obj.deleted else dict(obj.get("status") or {})


def condition(status: dict[str, Any], kind: str) -> dict[str, Any]:
    return next((c for c in status.get("conditions", []) if c["type"] == kind), {})


def events(api: kmock.KubernetesEmulator, name: str) -> list[dict[str, Any]]:
    found = []
    for key in list(api.objects):
        resource, _, _ = key
        obj = api.objects[key]
        if resource.plural == "events" and not obj.deleted:
            raw = obj.raw
            if raw.get("involvedObject", {}).get("name") == name:
                found.append(raw)
    return found


async def row(conn: asyncpg.Connection, name: str) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM orderflow_strategies WHERE name = $1", name)


async def wait_status(api: kmock.KubernetesEmulator, name: str, **expected: Any) -> dict[str, Any]:
    async def probe() -> dict[str, Any]:
        return status_of(api, name)

    def ok(st: dict[str, Any]) -> bool:
        return all(st.get(k) == v for k, v in expected.items())

    return await eventually(probe, ok, what=f"status of {name} with {expected}")


async def wait_row(conn: asyncpg.Connection, name: str, **expected: Any) -> asyncpg.Record:
    async def probe() -> asyncpg.Record | None:
        return await row(conn, name)

    def ok(r: asyncpg.Record | None) -> bool:
        return r is not None and all(r[k] == v for k, v in expected.items())

    found = await eventually(probe, ok, what=f"row {name} with {expected}")
    assert found is not None
    return found


async def test_create_update_pause_kill_delete(
    api: kmock.KubernetesEmulator, dsn: str, conn: asyncpg.Connection
) -> None:
    loop = asyncio.get_running_loop()
    figures: dict[str, float] = {}  # printed (with -s), never asserted
    async with operator_running(api, dsn):
        await apply(api, manifest("whale", mode="paper", kellyFraction=0.2))
        st = await wait_status(api, "whale", observedGeneration=1)
        assert condition(st, "Ready")["status"] == "True"
        assert st["settingsGeneration"] == 1
        r = await wait_row(conn, "whale", paused=False, killed=False)
        assert r["settings"]["kelly_fraction"] == 0.2
        assert r["source"] == f"k8s:{NAMESPACE}/whale"

        # update: the new settings are written, generation moves on
        await patch_spec(api, "whale", kellyFraction=0.1, maxOpenPositions=3)
        st = await wait_status(api, "whale", observedGeneration=2)
        r = await wait_row(conn, "whale", generation=2)
        assert r["settings"]["kelly_fraction"] == 0.1
        assert r["settings"]["max_open_positions"] == 3

        # pause
        started = loop.time()
        await patch_spec(api, "whale", paused=True)
        await wait_row(conn, "whale", paused=True, killed=False)
        figures["pause: patch -> row"] = loop.time() - started
        st = await wait_status(api, "whale", state="Paused", observedGeneration=3)
        assert condition(st, "Paused")["status"] == "True"

        # unpause resumes
        await patch_spec(api, "whale", paused=False)
        await wait_row(conn, "whale", paused=False)
        st = await wait_status(api, "whale", observedGeneration=4)
        assert st["state"] != "Paused"
        assert condition(st, "Paused")["status"] == "False"

        # kill
        started = loop.time()
        await patch_spec(api, "whale", killed=True)
        await wait_row(conn, "whale", killed=True)
        figures["kill: patch -> row"] = loop.time() - started
        st = await wait_status(api, "whale", state="Killed")
        assert condition(st, "Killed")["reason"] == "KilledBySpec"
        expected = {"Created", "Applied", "Paused", "Resumed", "Killed"}

        async def reasons() -> set[str]:  # kopf posts events from a background task
            return {e["reason"] for e in events(api, "whale")}

        await eventually(reasons, lambda found: expected <= found, what=f"events {expected}")

        # delete goes through the finalizer: row killed + deleted_at, history kept
        await conn.execute(
            "INSERT INTO orderflow_signals (strategy, signal_type, chain_id, tx_hash, log_index,"
            " wallet_address, token_id, trigger_price, trade_time)"
            " VALUES ('whale', 'FOLLOW_WHALE', 137, '0x' || repeat('a', 64), 0,"
            " '0x' || repeat('b', 40), 1, 0.5, now())"
        )
        assert api.objects[TS, NAMESPACE, "whale"]["metadata"]["finalizers"] == [
            "orderflow.io/finalizer"
        ]
        await delete(api, "whale")

        async def gone() -> bool:
            return bool(api.objects[TS, NAMESPACE, "whale"].deleted)

        await eventually(gone, bool, what="the resource to go after its finalizer")
        r = await row(conn, "whale")
        assert r is not None and r["killed"] and r["deleted_at"] is not None
        kept = await conn.fetchval("SELECT count(*) FROM orderflow_signals WHERE strategy='whale'")
        assert kept == 1
    for what, secs in figures.items():  # after the runner: kopf's CLI captures stdout meanwhile
        print(f"{what}: {secs * 1000:.0f} ms (kopf on kmock, loaded machine)")


async def test_invalid_specs_are_reported_not_applied(
    api: kmock.KubernetesEmulator, dsn: str, conn: asyncpg.Connection
) -> None:
    async with operator_running(api, dsn):
        # cross-field rule the schema cannot express: fade threshold above the whale threshold
        await apply(api, manifest("crossed", minWhaleScore=5, maxFadeScore=6))
        st = await wait_status(api, "crossed", state="Invalid")
        ready = condition(st, "Ready")
        assert (ready["status"], ready["reason"]) == ("False", "InvalidSpec")
        assert "max_fade_score" in ready["message"]
        assert await row(conn, "crossed") is None

        async def warnings() -> list[dict[str, Any]]:
            return [e for e in events(api, "crossed") if e["type"] == "Warning"]

        found = await eventually(warnings, bool, what="a Warning event")
        assert found[0]["reason"] == "InvalidSpec"

        # live mode without credentials
        await apply(api, manifest("yolo", mode="live"))
        st = await wait_status(api, "yolo", state="Invalid")
        assert condition(st, "Ready")["reason"] == "MissingCredentials"
        assert await row(conn, "yolo") is None

        # a running strategy broken by an update keeps its settings, but its pause is honoured
        await apply(api, manifest("steady", kellyFraction=0.3))
        await wait_row(conn, "steady", paused=False)
        await patch_spec(api, "steady", maxPositionUsd=50_000, paused=True)
        r = await wait_row(conn, "steady", paused=True)
        assert r["settings"]["max_position_usd"] == 1000.0
        st = await wait_status(api, "steady", state="Paused", observedGeneration=2)
        assert condition(st, "Ready")["reason"] == "InvalidSpec"

        # fixing the spec applies it
        await patch_spec(api, "steady", maxPositionUsd=500, paused=False)
        r = await wait_row(conn, "steady", paused=False)
        assert r["settings"]["max_position_usd"] == 500
        await wait_status(api, "steady", observedGeneration=3)


async def test_switches_hold_across_operator_restart(
    api: kmock.KubernetesEmulator, dsn: str, conn: asyncpg.Connection
) -> None:
    async with operator_running(api, dsn):
        await apply(api, manifest("fader", enableDegenFading=True, paused=True))
        await wait_row(conn, "fader", paused=True)
        await wait_status(api, "fader", state="Paused")
    generation = (await row(conn, "fader"))["generation"]  # type: ignore[index]

    # the operator is down: the pause holds (the executor reads the row, not the operator)
    r = await row(conn, "fader")
    assert r is not None and r["paused"]

    # a restart resumes without rewriting anything
    async with operator_running(api, dsn):

        async def resumed() -> list[dict[str, Any]]:
            return [c for c in status_of(api, "fader").get("conditions", []) if c["type"]]

        await wait_status(api, "fader", state="Paused")
        await eventually(resumed, bool, what="status after resume")
        r = await row(conn, "fader")
        assert r is not None and r["paused"] and r["generation"] == generation

    # a kill made while the operator is down is applied when it comes back
    await patch_spec(api, "fader", killed=True)
    async with operator_running(api, dsn):
        await wait_row(conn, "fader", killed=True, paused=True)
        await wait_status(api, "fader", state="Killed", observedGeneration=2)


async def test_status_figures_and_degraded(
    api: kmock.KubernetesEmulator, dsn: str, conn: asyncpg.Connection
) -> None:
    async with operator_running(api, dsn):
        await apply(api, manifest("busy"))
        st = await wait_status(api, "busy", state="Degraded")
        assert condition(st, "Degraded")["reason"] == "NoExecutorHeartbeat"

        await conn.execute(
            "INSERT INTO orderflow_executor_heartbeats (instance_id, is_leader, strategies)"
            " VALUES ('executor-0', TRUE, '{busy}')"
        )
        await conn.execute(
            "INSERT INTO orderflow_positions (strategy, token_id, shares, cost_basis,"
            " realized_pnl, unrealized_pnl) VALUES ('busy', 42, 10, 5, 1.25, 0)"
        )
        st = await wait_status(api, "busy", state="Running", openPositions=1)
        assert st["todayPnlUsd"] == "1.25"
        assert condition(st, "Degraded")["status"] == "False"

        # the leader restarts with EXECUTOR_STRATEGIES leaving the strategy out: never traded
        await conn.execute("UPDATE orderflow_executor_heartbeats SET runs_only = '{other}'")
        st = await wait_status(api, "busy", state="Degraded")
        assert condition(st, "Degraded")["reason"] == "NotRunByExecutor"
        await conn.execute("UPDATE orderflow_executor_heartbeats SET runs_only = '{other,busy}'")
        await wait_status(api, "busy", state="Running")

        # the heartbeat goes stale: Degraded again, from the timer alone
        await conn.execute(
            "UPDATE orderflow_executor_heartbeats SET last_seen = now() - interval '10 minutes'"
        )
        st = await wait_status(api, "busy", state="Degraded")
        assert condition(st, "Degraded")["reason"] == "ExecutorHeartbeatStale"


async def test_transient_database_errors_are_retried(
    api: kmock.KubernetesEmulator,
    dsn: str,
    conn: asyncpg.Connection,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The first attempt of the update meets a dropped connection (what asyncpg raises when
    PostgreSQL restarts under a query); kopf retries it after a backoff and it goes through."""
    real = reconcile.reconcile
    failures = [asyncpg.ConnectionDoesNotExistError("connection was closed in the middle")]

    async def flaky(*args: Any, **kwargs: Any) -> reconcile.Result:
        if args[2].get("paused") and failures:
            raise failures.pop()
        return await real(*args, **kwargs)

    monkeypatch.setattr(reconcile, "reconcile", flaky)
    async with operator_running(api, dsn):
        await apply(api, manifest("sturdy"))
        await wait_row(conn, "sturdy", paused=False)
        await patch_spec(api, "sturdy", paused=True)
        await wait_row(conn, "sturdy", paused=True)
        await wait_status(api, "sturdy", state="Paused", observedGeneration=2)
    assert not failures
    retried = [r for r in caplog.records if "transient error, retry in" in r.getMessage()]
    assert len(retried) == 1


async def test_a_name_conflict_resolves_when_the_other_owner_lets_go(
    api: kmock.KubernetesEmulator, dsn: str, conn: asyncpg.Connection
) -> None:
    await conn.execute(
        "INSERT INTO orderflow_strategies (name, settings, source) VALUES ('taken', '{}', 'cli')"
    )
    async with operator_running(api, dsn):
        await apply(api, manifest("taken", kellyFraction=0.15))
        st = await wait_status(api, "taken", state="Conflict")
        assert condition(st, "Ready")["reason"] == "NameConflict"
        assert (await row(conn, "taken"))["settings"] == {}  # type: ignore[index]

        # the other owner retires its row (killed, deleted_at set): the resource does not take
        # a killed strategy over alive (test_retired.py) ...
        await conn.execute(
            "UPDATE orderflow_strategies SET killed = TRUE, deleted_at = now() WHERE name = 'taken'"
        )
        st = await wait_status(api, "taken", state="Retired")
        assert condition(st, "Ready")["reason"] == "Retired"
        # ... until its spec says killed: it then takes it over, killed
        await patch_spec(api, "taken", killed=True)
        r = await wait_row(conn, "taken", source=f"k8s:{NAMESPACE}/taken")
        assert r["settings"]["kelly_fraction"] == 0.15 and r["deleted_at"] is None
        assert r["killed"]
        st = await wait_status(api, "taken", settingsGeneration=2, state="Killed")
        assert condition(st, "Ready")["reason"] == "Applied"


async def test_live_without_the_executors_credentials_is_refused(
    api: kmock.KubernetesEmulator, dsn: str, conn: asyncpg.Connection
) -> None:
    """The chart tells the operator which credentials Secret the executor holds (none by
    default); a live spec naming any other is refused, and a running paper strategy switched to
    it keeps trading paper, while its kill still goes through."""
    config = operator_config(live_credentials_secret="")
    async with operator_running(api, dsn, config):
        await apply(api, manifest("yolo", mode="live", credentialsSecret="made-up"))
        st = await wait_status(api, "yolo", state="Invalid")
        assert condition(st, "Ready")["reason"] == "MissingCredentials"
        assert await row(conn, "yolo") is None

        await apply(api, manifest("calm"))
        await wait_row(conn, "calm", killed=False)
        await patch_spec(api, "calm", mode="live", credentialsSecret="made-up", killed=True)
        r = await wait_row(conn, "calm", killed=True)
        assert r["settings"]["mode"] == "paper"
        st = await wait_status(api, "calm", state="Killed", observedGeneration=2)
        assert condition(st, "Ready")["reason"] == "MissingCredentials"
