"""The handlers' logic as plain async functions against a real PostgreSQL (no Kubernetes)."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import pytest

from orderflow_operator import store
from orderflow_operator.reconcile import Result, Target, finalize, reconcile, refresh

WHALE = Target("trading", "whale")
WHALE_WALLET = "0x" + "a1" * 20


async def run(
    pool: asyncpg.Pool, spec: dict[str, Any], target: Target = WHALE, **kw: Any
) -> Result:
    kw.setdefault("generation", 1)
    kw.setdefault("previous_status", {})
    return await reconcile(pool, target, spec, stale_after_secs=30.0, **kw)


def cond(status: dict[str, Any], kind: str) -> tuple[str, str]:
    c = next(c for c in status["conditions"] if c["type"] == kind)
    return c["status"], c["reason"]


async def strategy(pool: asyncpg.Pool, name: str = "whale") -> asyncpg.Record:
    row = await pool.fetchrow(
        "SELECT *, xmin::text AS version FROM orderflow_strategies WHERE name = $1", name
    )
    assert row is not None
    return row


async def test_create_writes_the_row_and_notifies_the_executor(pool: asyncpg.Pool) -> None:
    listener = await pool.acquire()
    got: asyncio.Queue[str] = asyncio.Queue()

    def heard(*args: Any) -> None:
        got.put_nowait(args[3])  # (connection, pid, channel, payload)

    await listener.add_listener("orderflow_strategies", heard)
    try:
        result = await run(pool, {"kellyFraction": 0.2, "enableDegenFading": True})
        assert await asyncio.wait_for(got.get(), timeout=10) == "whale"
    finally:
        await listener.remove_listener("orderflow_strategies", heard)
        await pool.release(listener)
    assert result.write is not None and result.write.outcome is store.Outcome.CREATED
    row = await strategy(pool)
    assert row["settings"]["kelly_fraction"] == 0.2
    assert row["settings"]["enable_degen_fading"] is True
    assert (row["paused"], row["killed"], row["source"]) == (False, False, "k8s:trading/whale")
    assert cond(result.status, "Ready") == ("True", "Applied")
    assert result.status["observedGeneration"] == 1
    assert [e.reason for e in result.events] == ["Created"]


async def test_reconcile_is_idempotent(pool: asyncpg.Pool) -> None:
    spec = {"kellyFraction": 0.2, "paused": True}
    first = await run(pool, spec)
    before = await strategy(pool)
    again = await run(pool, spec, previous_status=first.status)
    after = await strategy(pool)
    assert again.write is not None and again.write.outcome is store.Outcome.UNCHANGED
    assert after["version"] == before["version"]  # no write at all, hence no NOTIFY
    assert after["generation"] == before["generation"] == 1
    assert again.events == []
    # the conditions did not flip, so their transition times stay
    assert again.status["conditions"] == first.status["conditions"]


async def test_update_pause_resume_kill(pool: asyncpg.Pool) -> None:
    await run(pool, {})
    r = await run(pool, {"maxOpenPositions": 2}, generation=2)
    assert (await strategy(pool))["settings"]["max_open_positions"] == 2
    assert [e.reason for e in r.events] == ["Applied"]

    r = await run(pool, {"maxOpenPositions": 2, "paused": True}, generation=3)
    assert (await strategy(pool))["paused"] is True
    assert r.status["state"] == "Paused" and cond(r.status, "Paused") == ("True", "PausedBySpec")
    assert "Paused" in [e.reason for e in r.events]

    r = await run(pool, {"maxOpenPositions": 2}, generation=4)
    assert (await strategy(pool))["paused"] is False
    assert "Resumed" in [e.reason for e in r.events]

    r = await run(pool, {"maxOpenPositions": 2, "killed": True}, generation=5)
    row = await strategy(pool)
    assert row["killed"] is True and row["generation"] == 5
    assert r.status["state"] == "Killed" and "Killed" in [e.reason for e in r.events]


async def test_invalid_spec_is_not_applied_but_its_pause_is(pool: asyncpg.Pool) -> None:
    await run(pool, {"kellyFraction": 0.2})
    r = await run(pool, {"kellyFraction": 0.9, "minWhaleScore": 2, "paused": True}, generation=2)
    row = await strategy(pool)
    assert row["settings"]["kelly_fraction"] == 0.2  # old settings stay in force
    assert row["paused"] is True
    assert cond(r.status, "Ready") == ("False", "InvalidSpec")
    assert r.status["state"] == "Paused"
    assert [(e.type, e.reason) for e in r.events] == [
        ("Normal", "Stopped"),
        ("Warning", "InvalidSpec"),
    ]
    # un-pausing needs a valid spec
    r = await run(pool, {"minWhaleScore": 2}, generation=3)
    assert (await strategy(pool))["paused"] is True
    assert r.status["state"] == "Paused"


async def test_invalid_new_strategy_writes_nothing(pool: asyncpg.Pool) -> None:
    r = await run(pool, {"mode": "live", "paused": True}, Target("trading", "yolo"))
    assert await pool.fetchval("SELECT count(*) FROM orderflow_strategies") == 0
    assert cond(r.status, "Ready") == ("False", "MissingCredentials")
    assert r.status["state"] == "Invalid"
    assert cond(r.status, "Paused") == ("Unknown", "NotApplied")


async def test_name_owned_elsewhere_is_not_overwritten(pool: asyncpg.Pool) -> None:
    await pool.execute(
        "INSERT INTO orderflow_strategies (name, settings, source) VALUES ('whale', '{}', 'cli')"
    )
    r = await run(pool, {"kellyFraction": 0.2})
    assert cond(r.status, "Ready") == ("False", "NameConflict")
    assert r.status["state"] == "Conflict"
    assert (await strategy(pool))["settings"] == {}
    # the same name in another namespace is a conflict too
    await pool.execute("DELETE FROM orderflow_strategies")
    await run(pool, {})
    other = await run(pool, {}, Target("research", "whale"))
    assert cond(other.status, "Ready") == ("False", "NameConflict")
    assert "k8s:trading/whale" in other.events[0].message


async def test_finalize_kills_marks_deleted_keeps_history_and_allows_reuse(
    pool: asyncpg.Pool,
) -> None:
    await run(pool, {})
    await pool.execute(
        "INSERT INTO orderflow_positions (strategy, token_id, shares, cost_basis)"
        " VALUES ('whale', 7, 10, 4)"
    )
    done = await finalize(pool, WHALE)
    assert done.write is not None and done.write.outcome is store.Outcome.UPDATED
    row = await strategy(pool)
    assert row["killed"] is True and row["deleted_at"] is not None
    assert await pool.fetchval("SELECT count(*) FROM orderflow_positions") == 1
    again = await finalize(pool, WHALE)
    assert again.write is not None and again.write.outcome is store.Outcome.ABSENT
    assert (await strategy(pool))["version"] == row["version"]
    # a deleted row may be taken over, by anyone, but only killed: a spec that does not say
    # killed leaves it retired (it is a killed strategy, here with an open position) ...
    for target in (WHALE, Target("research", "whale")):
        r = await run(pool, {"kellyFraction": 0.3}, target)
        assert r.write is not None and r.write.outcome is store.Outcome.RETIRED
        assert (await strategy(pool))["version"] == row["version"]  # nothing written
        assert cond(r.status, "Ready") == ("False", "Retired")
        assert cond(r.status, "Killed") == ("True", "Retired")
        assert r.status["state"] == "Retired"
        assert [(e.type, e.reason) for e in r.events] == [("Warning", "Retired")]
        assert "1 open position" in r.events[0].message
    # ... and the spec's killed: true takes it over, killed; false then revives it
    r = await run(pool, {"kellyFraction": 0.3, "killed": True}, Target("research", "whale"))
    row = await strategy(pool)
    assert (row["killed"], row["deleted_at"], row["source"]) == (True, None, "k8s:research/whale")
    assert (cond(r.status, "Ready"), r.status["state"]) == (("True", "Applied"), "Killed")
    r = await run(pool, {"kellyFraction": 0.3}, Target("research", "whale"), generation=2)
    assert not (await strategy(pool))["killed"]
    assert (cond(r.status, "Killed"), r.status["state"]) == (("False", "Alive"), "Degraded")


async def test_live_orders_are_the_orders_resting_or_in_doubt(pool: asyncpg.Pool) -> None:
    """Orders that may still trade — resting on the exchange (paper orders rest too) or sent
    and in doubt — are shown beside the open positions; closed ones are not."""
    first = await run(pool, {})
    assert first.status["liveOrders"] == 0
    for n, (strategy, status) in enumerate(
        [("whale", "OPEN"), ("whale", "INTENT"), ("whale", "FILLED"), ("whale", "CANCELED"),
         ("other", "OPEN")]
    ):  # fmt: skip
        signal = await pool.fetchval(
            """
            INSERT INTO orderflow_signals (strategy, signal_type, chain_id, tx_hash, log_index,
                wallet_address, token_id, trigger_price, trade_time)
            VALUES ($1, 'FOLLOW_WHALE', 137, $2, $3, $4, 1, 0.5, now()) RETURNING id
            """,
            strategy,
            "0x" + f"{n:064x}",
            n,
            WHALE_WALLET,
        )
        await pool.execute(
            """
            INSERT INTO orderflow_orders (strategy, signal_id, mode, client_order_id, token_id,
                side, price, shares, status)
            VALUES ($1, $2, 'paper', $3, 1, 'BUY', 0.5, 10, $4)
            """,
            strategy,
            signal,
            f"paper-{n}",
            status,
        )
    refreshed = (
        await refresh(
            pool, WHALE, ready=None, generation=1, previous_status=first.status, stale_after_secs=30
        )
    ).status
    assert refreshed["liveOrders"] == 2


async def test_figures_positions_pnl_signals_heartbeat(pool: asyncpg.Pool) -> None:
    first = await run(pool, {})
    assert first.status["openPositions"] == 0
    assert first.status["todayPnlUsd"] == "0.00"
    assert cond(first.status, "Degraded") == ("True", "NoExecutorHeartbeat")
    await pool.execute(
        """
        INSERT INTO orderflow_positions
            (strategy, token_id, status, shares, cost_basis, realized_pnl, unrealized_pnl,
             opened_at, closed_at)
        VALUES ('whale', 1, 'OPEN', 10, 5, 0.50, -1.25, now(), NULL),
               ('whale', 2, 'CLOSED', 0, 0, 3.10, 0, now() - interval '3 days', now()),
               ('whale', 3, 'CLOSED', 0, 0, 100, 0, now() - interval '3 days',
                date_trunc('day', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'
                    - interval '1 second'),
               ('other', 4, 'OPEN', 10, 5, 0, 50, now(), NULL)
        """
    )
    await pool.execute(
        "INSERT INTO orderflow_executor_heartbeats (instance_id, is_leader, last_seen) VALUES"
        " ('standby', FALSE, now()), ('leader', TRUE, now() - interval '5 seconds')"
    )
    status = (
        await refresh(
            pool, WHALE, ready=None, generation=1, previous_status=first.status, stale_after_secs=30
        )
    ).status
    assert status["openPositions"] == 1 and status["liveOrders"] == 0
    # 0.50 realized + 3.10; yesterday's 100 is not today's, nor is the stored unrealized -1.25
    # (the executor's mark: the token's last trade, none here; test_mode_pnl.py)
    assert status["todayPnlUsd"] == "3.60"
    assert cond(status, "Degraded") == ("False", "ExecutorAlive")
    assert 4 <= status["executorHeartbeatAgeSecs"] <= 30

    # the performance row (both modes) is not the mode's figure
    await pool.execute(
        "INSERT INTO orderflow_performance (day, strategy, total_pnl)"
        " VALUES ((now() AT TIME ZONE 'UTC')::date, 'whale', -12.345)"
    )
    await pool.execute(
        "UPDATE orderflow_executor_heartbeats SET last_seen = now() - interval '1 minute'"
        " WHERE is_leader"
    )
    status = (
        await refresh(
            pool, WHALE, ready=None, generation=1, previous_status=status, stale_after_secs=30
        )
    ).status
    assert status["todayPnlUsd"] == "3.60"
    # a fresh standby does not hide a stale leader
    assert cond(status, "Degraded") == ("True", "ExecutorHeartbeatStale")
    assert status["state"] == "Degraded"


@pytest.mark.parametrize("kill", [False, True])
async def test_stop_on_a_missing_row_is_a_no_op(pool: asyncpg.Pool, kill: bool) -> None:
    async with pool.acquire() as conn:
        r = await store.stop_strategy(
            conn, name="nothing", source="k8s:x/nothing", pause=True, kill=kill
        )
    assert r.outcome is store.Outcome.UNCHANGED


def _strict(schema: dict[str, Any]) -> dict[str, Any]:
    """The CRD's schema with unknown keys forbidden: the API server would prune them."""
    out = dict(schema)
    if "properties" in out:
        out["properties"] = {k: _strict(v) for k, v in out["properties"].items()}
        out["additionalProperties"] = False
    if "items" in out:
        out["items"] = _strict(out["items"])
    return out


async def test_the_status_written_fits_the_crd_status_schema(pool: asyncpg.Pool) -> None:
    import jsonschema

    from orderflow_operator.crd import status_schema

    await pool.execute(
        "INSERT INTO orderflow_executor_heartbeats (instance_id, is_leader) VALUES ('l', TRUE)"
    )
    for spec in ({}, {"paused": True}, {"maxFadeScore": 9}):
        status = (await run(pool, spec)).status
        present = {k: v for k, v in status.items() if v is not None}  # None = delete the key
        jsonschema.Draft4Validator(_strict(status_schema())).validate(present)
