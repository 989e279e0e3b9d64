"""What `kubectl get/describe ts` shows of a strategy the exchange refuses, end to end: kopf's
real runtime on kmock, the executor trading the strategy live against the CLOB stand-in.

The executor records both refusals in the database since migration 054 (`orderflow strategy
status` shows them): the exchange refusing its API key (``orderflow_exchange_keys``) and a
killed strategy's live order whose cancels the exchange refuses (``orderflow_orders``
``cancel_refusals``). The resource said nothing of either: ``Running`` / ``Killed`` and no Event
while no order could be sent, or while a killed strategy's order stayed at the exchange. Now the
status timer reads them: condition ``ExchangeRefusing`` (KeyRefused / CancelsRefused, with counts
and since when), the ``EXCHANGE`` column, a Warning Event when it starts and a Normal one when it
ends.
"""

from __future__ import annotations

from typing import Any

import asyncpg
import kmock
import pytest

from tests.execution.conftest import TOKEN_NO, add_trade, leading, running
from tests.execution.livekit import live_executor
from tests.operator.conftest import ApiServer, eventually, operator_running
from tests.operator.live_whale import clob_and_whale, rest_a_live_order
from tests.operator.test_runtime import (
    apply,
    condition,
    events,
    manifest,
    patch_spec,
    status_of,
    wait_row,
)

pytestmark = pytest.mark.kmock(cls=ApiServer)


def refusing(api: kmock.KubernetesEmulator, name: str) -> dict[str, Any]:
    return condition(status_of(api, name), "ExchangeRefusing")


async def wait_refusing(
    api: kmock.KubernetesEmulator, name: str, status: str, reason: str | None = None
) -> dict[str, Any]:
    async def probe() -> dict[str, Any]:
        return refusing(api, name)

    def ok(cond: dict[str, Any]) -> bool:
        return cond.get("status") == status and (reason is None or cond.get("reason") == reason)

    return await eventually(probe, ok, what=f"ExchangeRefusing={status} {reason or ''}")


def posted(api: kmock.KubernetesEmulator, name: str, reason: str) -> list[dict[str, Any]]:
    return [e for e in events(api, name) if e.get("reason") == reason]


async def wait_posted(
    api: kmock.KubernetesEmulator, name: str, reason: str
) -> list[dict[str, Any]]:
    """The Events of ``reason`` once there is one: kopf posts Events from a queue of its own,
    after the status patch that a test sees first."""

    async def probe() -> list[dict[str, Any]]:
        return posted(api, name, reason)

    return await eventually(probe, bool, what=f"a {reason} Event on {name}")


async def test_a_killed_strategy_whose_cancels_the_exchange_refuses_says_so(
    api: kmock.KubernetesEmulator, dsn: str, pool: asyncpg.Pool
) -> None:
    async with clob_and_whale(dsn) as (clob, broker, conn), operator_running(api, dsn):
        await apply(api, manifest("whale", mode="live", credentialsSecret="poly-creds"))
        await wait_row(conn, "whale", killed=False)
        ex = live_executor(pool, dsn, broker)
        async with running(ex):
            order_id = await rest_a_live_order(ex, conn, clob)
            await wait_refusing(api, "whale", "False")
            assert status_of(api, "whale")["exchange"] == "OK"
            clob.report(order_id, "UNMATCHED")  # its cancels answered not_canceled
            await patch_spec(api, "whale", killed=True)
            cond = await wait_refusing(api, "whale", "True", "CancelsRefused")
            message = cond["message"]
            assert "1 live order still at the exchange" in message, message
            assert "not_canceled" in message and "since 20" in message, message
            status = status_of(api, "whale")
            assert status["state"] == "Killed" and status["exchange"] == "CancelsRefused"
            [warning] = await wait_posted(api, "whale", "ExchangeRefusing")
            assert warning["type"] == "Warning", warning
            assert "1 live order still at the exchange" in warning["message"], warning

            clob.report(order_id, "LIVE")  # the exchange lets it go: the kill cancels it
            cond = await wait_refusing(api, "whale", "False")
            assert status_of(api, "whale")["exchange"] == "OK"
            [ended] = await wait_posted(api, "whale", "ExchangeAccepting")
            assert ended["type"] == "Normal", ended
            assert len(posted(api, "whale", "ExchangeRefusing")) == 1  # once, not per tick


async def test_a_live_strategy_whose_api_key_the_exchange_refuses_says_so(
    api: kmock.KubernetesEmulator, dsn: str, pool: asyncpg.Pool
) -> None:
    async with clob_and_whale(dsn) as (clob, broker, conn), operator_running(api, dsn):
        await apply(api, manifest("whale", mode="live", credentialsSecret="poly-creds"))
        await apply(api, manifest("paper-whale"))
        await wait_row(conn, "whale", killed=False)
        ex = live_executor(pool, dsn, broker)
        async with running(ex):
            await leading(ex)

            async def known() -> bool:
                return "whale" in ex.registry.states

            await eventually(known, bool, what="the executor to run the strategy")
            keys = dict(clob.creds)
            clob.revoke_keys()
            # the book (a public read) asks what the whale paid: the follow is sent
            clob.book_patch = {"asks": [{"price": "0.30", "size": "1000"}]}
            await add_trade(conn, token_id=TOKEN_NO, outcome_index=1, price="0.30")
            cond = await wait_refusing(api, "whale", "True", "KeyRefused")
            message = cond["message"]
            assert "refuses the executor's live API key since 20" in message, message
            assert "1 request refused" in message and "401" in message, message
            assert status_of(api, "whale")["exchange"] == "KeyRefused"
            [warning] = await wait_posted(api, "whale", "ExchangeRefusing")
            assert warning["type"] == "Warning", warning
            # A paper strategy sends nothing with the key: not concerned.
            assert refusing(api, "paper-whale")["status"] == "False"
            assert not posted(api, "paper-whale", "ExchangeRefusing")

            clob.creds.update(keys)  # the key is accepted again (the next check says so)
            await wait_refusing(api, "whale", "False")
            assert await wait_posted(api, "whale", "ExchangeAccepting")
