"""The executor's own pacing under the CLOB's per-signer order bucket, against the stand-in's
buckets under enforcement (``tests/execution/clob_signer_limits.py``): an entry the bucket is
known not to admit is held until it refills, not sent to be refused; one refused 429 anyway is
sent once more after its Retry-After while useful; one that would wait past its signal's use is
dropped with a clear reason, unsent.

Before (until 7 Dec 2026) every entry went out as it came: an entry over the bucket was refused
429 and its signal SKIPPED ``order_rejected: http 429: rate limited`` — a signal lost."""

from __future__ import annotations

import asyncpg

from orderflow.execution.live import LiveBroker
from tests.execution.clob_signer_limits import SignerLimits
from tests.execution.conftest import add_trade, leading, now_true, running, wait_for
from tests.execution.fake_clob import FakeClob
from tests.execution.livekit import (
    buys_in_new_markets,
    live_executor,
    live_strategy,
    new_market,
)

PLACED = "SELECT count(*) FROM orderflow_orders WHERE exchange_order_id IS NOT NULL"


async def _reasons(pool: asyncpg.Pool) -> list[str]:
    rows = await pool.fetch(
        "SELECT coalesce(reason, '') AS reason FROM orderflow_signals"
        " WHERE status = 'SKIPPED' ORDER BY id"
    )
    return [r["reason"] for r in rows]


async def _placed(pool: asyncpg.Pool, n: int) -> bool:
    return bool(await pool.fetchval(PLACED) == n)


def _posts(clob: FakeClob) -> int:
    return clob.requests.count(("POST", "/order"))


async def test_entries_over_the_bucket_are_held_until_it_refills_not_refused(
    pool: asyncpg.Pool, dsn: str, clob: FakeClob, live: LiveBroker
) -> None:
    """Five entries at once, an order bucket of two refilling one a second: each is placed,
    none refused (an answer showing the bucket empty holds the next order until a token is
    back). Failed before: entries over the bucket refused 429, their signals ``order_rejected``,
    never placed (``AssertionError: condition not reached``)."""
    clob.signer_limits = SignerLimits(order=(2, 1.0), cancel=(50, 5), enforce=True)
    await live_strategy(pool)
    ex = live_executor(pool, dsn, live)
    async with running(ex):
        await leading(ex)
        await buys_in_new_markets(pool, clob, 5)
        await wait_for(lambda: _placed(pool, 5), timeout=60.0)
    assert clob.signer_limits.refused == 0
    assert _posts(clob) == 5
    assert not any("429" in r for r in await _reasons(pool))


async def test_an_entry_refused_429_is_sent_once_more_and_the_next_held(
    pool: asyncpg.Pool, dsn: str, clob: FakeClob, live: LiveBroker
) -> None:
    """A bucket of one refilling a token in 10 s, its rate not known yet: the second entry, let
    out to learn it, is refused 429 — and sent once more after the Retry-After (its signal
    still useful); its Reset taught the rate, so the third is held until its token is there.
    Three placed, one refusal. Failed before: the second SKIPPED ``order_rejected: http 429:
    rate limited``, never placed (``AssertionError: condition not reached``)."""
    clob.signer_limits = SignerLimits(order=(1, 0.1), cancel=(50, 5), enforce=True)
    await live_strategy(pool)
    ex = live_executor(pool, dsn, live)
    async with running(ex):
        await leading(ex)
        await buys_in_new_markets(pool, clob, 3)
        await wait_for(lambda: _placed(pool, 3), timeout=60.0)
    assert clob.signer_limits.refused == 1  # the one that taught the rate
    assert _posts(clob) == 4  # three placed, one of them sent twice
    assert await _reasons(pool) == []


async def test_an_entry_that_would_wait_past_its_use_is_dropped_unsent(
    pool: asyncpg.Pool, dsn: str, clob: FakeClob, live: LiveBroker
) -> None:
    """A bucket of one refilling one token in 20 s, signals useful for 10 s: the second entry
    is refused (the rate not known yet) and not sent again — its Retry-After is past its use,
    its refusal saying so —, the third is dropped unsent, SKIPPED ``rate_limited``, without
    waiting for a token that comes too late. Failed before: the second ``order_rejected: http
    429: rate limited`` with no word of why it was not tried again; the third held by the 429's
    Retry-After and SKIPPED ``stale``."""
    clob.signer_limits = SignerLimits(order=(1, 0.05), cancel=(50, 5), enforce=True)
    await live_strategy(pool, max_signal_age_secs=10)
    ex = live_executor(pool, dsn, live)
    async with running(ex):
        await leading(ex)
        await buys_in_new_markets(pool, clob, 3)
        await wait_for(lambda: _placed(pool, 1))

        async def decided() -> bool:
            return len(await _reasons(pool)) == 2

        await wait_for(decided)
    refused, dropped = await _reasons(pool)
    assert refused.startswith("order_rejected: http 429")
    assert "not tried again" in refused and "past the signal's use" in refused
    assert dropped.startswith("rate_limited: the signer's order bucket admits no order")
    assert _posts(clob) == 2 and clob.signer_limits.refused == 1  # the third never sent


async def test_a_kill_s_cancels_go_as_the_cancel_bucket_admits_them(
    pool: asyncpg.Pool, dsn: str, clob: FakeClob, live: LiveBroker
) -> None:
    """Five resting orders, a cancel bucket of two refilling two a second: the kill's first
    request of five can never be admitted (refused 429 without a Retry-After: split it); after
    it, each request is sized to the tokens the answers showed, held while the bucket is empty,
    none refused. Failed before: the halved requests went out together into the empty bucket,
    refused 429 again and again (``assert [5.0, 2.0, 1.0, 1.0] == [5]``)."""
    from tests.execution.test_kill import _kill, _resting

    await live_strategy(pool)
    clob.signer_limits = SignerLimits(order=(100, 100), cancel=(2, 2), enforce=True)
    ex = live_executor(pool, dsn, live)
    async with running(ex):
        await leading(ex)
        await buys_in_new_markets(pool, clob, 5)
        ids = await _resting(pool, clob, 5)
        await _kill(pool, "live-one")
        await wait_for(
            lambda: pool.fetchval(
                "SELECT count(*) = 5 FROM orderflow_orders WHERE status = 'CANCELED'"
            ),
            timeout=60.0,
        )
    assert all(clob.orders[i]["status"] == "CANCELED" for i in ids)
    assert clob.signer_limits.refused_costs == [5]  # the first request, whole; none after


async def test_the_halved_cancel_size_grows_back_when_the_bucket_holds_more(
    pool: asyncpg.Pool, dsn: str, clob: FakeClob, live: LiveBroker
) -> None:
    """A kill split to two ids a request by a cancel bucket of two; the limit raised to ten
    afterwards (a higher tier, say): the next kill's answers show the bucket holding ten, and
    the cancels go out ten at a time again. Failed before: the halved size for the rest of the
    process (the last ``wait_for``: ``AssertionError: condition not reached``)."""
    from tests.execution.test_kill import _kill, _resting

    await live_strategy(pool)
    clob.signer_limits = SignerLimits(order=(100, 100), cancel=(2, 2), enforce=True)
    ex = live_executor(pool, dsn, live)
    canceled = "SELECT count(*) FROM orderflow_orders WHERE status = 'CANCELED'"
    async with running(ex):
        await leading(ex)
        await buys_in_new_markets(pool, clob, 3)
        await _resting(pool, clob, 3)
        await _kill(pool, "live-one")
        await wait_for(lambda: _count_is(pool, canceled, 3), timeout=60.0)
        assert ex.desk.cancels.batch["live"] <= 2  # split: more than the bucket holds
        refused = clob.signer_limits.refused
        clob.signer_limits.cancel = (10, 10)
        clob.signer_limits.buckets.clear()
        await pool.execute(
            "UPDATE orderflow_strategies SET killed = false, generation = generation + 1"
        )
        async with pool.acquire() as conn:
            for n in range(4, 7):
                market, token = await new_market(clob, conn, n)
                await add_trade(conn, token_id=token, market=market, price="0.30")
        await _resting(pool, clob, 3)
        await _kill(pool, "live-one")
        await wait_for(lambda: _count_is(pool, canceled, 6), timeout=60.0)
        # its first request of one showed the bucket holding ten: the batch follows it
        await wait_for(lambda: now_true(ex.desk.cancels.batch["live"] == 10))
    assert clob.signer_limits.refused == refused  # none refused under the raised limit


async def _count_is(pool: asyncpg.Pool, query: str, n: int) -> bool:
    return bool(await pool.fetchval(query) == n)
