"""A stop (task cancellation: SIGTERM in ``orderflow execute``) is never lost, whenever it lands.

Python 3.11's ``asyncio.wait_for`` returns the result instead of raising CancelledError when
the caller is cancelled in the loop turn its awaitable completes (CPython gh-86296): the trading
loop's wait for a wake-up and every exchange call went through it, so a stop landing as the
executor was woken, or as the exchange answered, was swallowed and the executor traded on. Each
test makes the stop land at exactly such a moment; each failed before the fix.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from types import SimpleNamespace

import asyncpg

from orderflow.execution.engine import Executor
from orderflow.execution.orders import OrderDesk
from tests.execution.conftest import add_strategy, leading, running


async def test_a_stop_landing_with_a_wake_up_stops_the_executor(
    pool: asyncpg.Pool, make_executor: Callable[..., Executor]
) -> None:
    async with pool.acquire() as conn:
        await add_strategy(conn, "alpha")
    # nothing due for minutes: the trading loop waits for a wake-up
    ex = make_executor(EXECUTOR_POLL_INTERVAL_SECS=600.0, EXECUTOR_STRATEGY_REFRESH_SECS=600.0)
    async with running(ex) as task:
        await leading(ex)
        await asyncio.sleep(1.5)  # past the first rounds: waiting
        ex._wake.set()  # a trade notified ...
        task.cancel()  # ... in the same loop turn as SIGTERM
        done, _ = await asyncio.wait({task}, timeout=30)
        assert task in done, "the executor ignored its stop"
        assert task.cancelled()


async def test_a_stop_landing_as_the_exchange_answers_is_not_lost() -> None:
    manager = SimpleNamespace(call_timeout=10.0)
    answer: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    call = asyncio.create_task(OrderDesk._call(manager, answer))  # type: ignore[arg-type]
    await asyncio.sleep(0)  # the call waits for the exchange
    answer.set_result("order accepted")
    call.cancel()  # the stop, in the same loop turn as the answer
    done, _ = await asyncio.wait({call}, timeout=10)
    assert call in done and call.cancelled()
