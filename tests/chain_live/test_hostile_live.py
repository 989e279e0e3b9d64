"""Hostile values and provider failures through the live listener (anvil + a WebSocket stand-in).

The stand-in (``standin.py``) forwards everything between the listener and anvil, and after
every real log — on the subscription and in eth_getLogs replies — sends a copy carrying one
hostile value (``tests/chain/hostile.py``). The listener must store every real fill, keep each
hostile copy as one dead letter (or store it, when the value sits in a field nobody reads),
and keep running; a restart must not die on the same logs.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import asyncpg
import pytest

from orderflow.chain.listener import Listener
from tests.chain.hostile import CASES, Hostile
from tests.chain_live.anvil_node import Anvil
from tests.chain_live.listener_runs import make_settings, running, streaming
from tests.chain_live.logs import order_filled_v2, wait_until
from tests.chain_live.standin import StandIn

pytestmark = pytest.mark.anvil


def hostile_copy(case: Hostile) -> Any:
    def mutate(raw: dict[str, Any]) -> list[str]:
        if raw.get("logIndex") is None or not isinstance(raw.get("topics"), list):
            return []  # our own injected copies come back through here: do not recurse
        copy = {**raw, "logIndex": hex(int(raw["logIndex"], 16) + 1000)}
        return [case.line(copy)]

    return mutate


async def counts(pool: asyncpg.Pool) -> tuple[int, int]:
    trades = await pool.fetchval("SELECT count(*) FROM orderflow_trades")
    letters = await pool.fetchval("SELECT count(*) FROM orderflow_dead_letters")
    return int(trades), int(letters)


async def test_hostile_values_on_the_subscription_cost_only_their_own_log(
    anvil: Anvil, standin: StandIn, pool: asyncpg.Pool
) -> None:
    listener = Listener(pool, make_settings(standin.url))
    async with running(listener) as task:
        await wait_until(streaming(listener), what="streaming")
        expected_trades = expected_letters = 0
        for i, case in enumerate(CASES):
            standin.mutate = hostile_copy(case)
            await anvil.emit(order_filled_v2(order_hash=5000 + i))
            expected_trades += 2 if case.stored else 1
            # A copy claiming another block hash than the canonical one is an orphan to the
            # live listener (dropped and logged, like a reorged log), not a dead letter.
            orphan = case.field == "blockHash"
            expected_letters += 0 if case.stored or orphan else 1
            want = (expected_trades, expected_letters)

            async def arrived(want: tuple[int, int] = want) -> bool:
                return await counts(pool) == want

            await wait_until(arrived, what=f"{case.name}: fill stored, copy dead-lettered")
            assert not task.done(), f"the listener stopped on {case.name}"
        standin.mutate = None
        await anvil.emit(order_filled_v2(order_hash=9999))
        await wait_until(
            lambda: _at_least(pool, expected_trades + 1), what="a later fill is still stored"
        )
        assert not task.done()
    reasons = [r[0] for r in await pool.fetch("SELECT reason FROM orderflow_dead_letters")]
    assert any("logIndex 0x80000000 exceeds" in r for r in reasons)
    assert any("blockNumber 0x8000000000000000 exceeds" in r for r in reasons)


async def _at_least(pool: asyncpg.Pool, n: int) -> bool:
    return (await counts(pool))[0] >= n


async def test_hostile_values_in_getlogs_replies_survive_a_restart(
    anvil: Anvil, standin: StandIn, pool: asyncpg.Pool
) -> None:
    """Backfill path: every log of every eth_getLogs reply is followed by hostile copies of
    itself (all cases at once). The listener stores the real fills, dead-letters the copies,
    moves its checkpoint past them, and a second start runs normally."""
    for i in range(3):
        await anvil.emit(order_filled_v2(order_hash=7000 + i))
    last_block = await anvil.head()

    def mutate(raw: dict[str, Any]) -> list[str]:
        copy = {**raw, "logIndex": hex(int(raw["logIndex"], 16) + 1000)}
        return [case.line(copy) for case in CASES]

    standin.mutate = mutate
    for _run in range(2):
        listener = Listener(pool, make_settings(standin.url))
        async with running(listener) as task:
            await wait_until(streaming(listener), what="streaming after the backfill")
            await asyncio.sleep(0.2)
            assert not task.done()
    trades, letters = await counts(pool)
    # 3 real fills, plus one row per real fill for its "stored" copies (they all share the
    # copy's identity: same transaction, logIndex + 1000).
    # The 3 real fills only. Every copy sits at the real log's place less its log index + 1000,
    # and the copies there disagree with one another: a reply holding two versions of one log
    # is not trusted, so none of them is stored (orderflow.chain.reply_versions; until 6 Dec
    # 2026 the last storable copy was, one row per real fill).
    assert trades == 3
    reasons = [r[0] for r in await pool.fetch("SELECT reason FROM orderflow_dead_letters")]
    torn = [r for r in reasons if "the node's reply itself held 8 versions" in r]
    # at each of the 3 places: the storable copies are one version (they differ only in fields
    # nobody reads), the hostile copies whose block and log index parse the other seven
    assert len(torn) == 3 * 8, reasons
    assert letters > len(torn)  # the copies whose place does not parse: decoded, dead letters
    # The checkpoint moved past them in the first run: the restart does not trip over them.
    checkpoint = await pool.fetchval(
        "SELECT block_number FROM orderflow_sync_checkpoints WHERE stream = 'listener'"
    )
    assert checkpoint >= last_block
    assert standin.injected > 0


async def test_removed_logs_naming_absurd_blocks_are_ignored(
    anvil: Anvil, standin: StandIn, pool: asyncpg.Pool
) -> None:
    """``removed: true`` with a block number far above the head (2**62) or below every block
    we hold: no walk down from an absurd height, no rollback, the listener keeps running."""
    listener = Listener(pool, make_settings(standin.url))
    async with running(listener) as task:
        await wait_until(streaming(listener), what="streaming")
        await anvil.emit(order_filled_v2(order_hash=1))
        await wait_until(lambda: _at_least(pool, 1), what="first fill")
        for bad in (2**62, 0):

            def mutate(raw: dict[str, Any], bad: int = bad) -> list[str]:
                return [json.dumps({**raw, "removed": True, "blockNumber": hex(bad)})]

            standin.mutate = mutate
            await anvil.emit(order_filled_v2(order_hash=10 + bad % 7))
            standin.mutate = None
        await anvil.emit(order_filled_v2(order_hash=99))
        await wait_until(lambda: _at_least(pool, 4), what="every real fill, none rolled back")
        assert not task.done()
        assert listener.state.reorgs == 0
