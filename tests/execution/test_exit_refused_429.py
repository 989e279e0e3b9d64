"""An exit refused 429 by the CLOB's per-signer rate limit (enforcing) goes out again as soon as
the order bucket admits it, from the order worker, not after the exit machinery's pause.

The executor's pacing cannot hold what it does not know: another client on the key (the site, a
second process) took the bucket's token, so the leader's sell meets a 429 with its
``Retry-After``. An entry so refused is sent once more after the wait (test_signer_pacing.py);
before 7 Dec 2026 an exit was not — a leader's sell, money at risk, was SKIPPED ``order_rejected:
http 429`` and waited for its own pause (5 s doubling) and the next maintenance pass.
"""

from __future__ import annotations

import asyncpg
from eth_account import Account

from orderflow.execution.live import LiveBroker
from orderflow.execution.order_pacing import EXIT_RETRIES
from tests.execution.clob_signer_limits import SignerLimits
from tests.execution.conftest import TOKEN_YES, add_trade, signal_outcomes
from tests.execution.fake_clob import FakeClob
from tests.execution.livekit import KEY, holding_yes


def drained_by_another_client(clob: FakeClob, rate: float) -> SignerLimits:
    """Enforcing, a bucket of one token refilling at ``rate`` a second, its token just taken by
    another client of the key (no answer of ours showed it)."""
    limits = SignerLimits(order=(1, rate), cancel=(50, 5), enforce=True)
    limits.bucket(Account.from_key(KEY).address, "order").tokens = 0.0
    clob.signer_limits = limits
    return limits


async def test_an_exit_refused_429_goes_out_again_when_the_bucket_admits_it(
    pool: asyncpg.Pool, dsn: str, clob: FakeClob, live: LiveBroker
) -> None:
    ex = await holding_yes(pool, dsn, clob, live)
    limits = drained_by_another_client(clob, rate=0.5)  # a token back in 2 s
    async with pool.acquire() as conn:
        await add_trade(conn, side="SELL", token_id=TOKEN_YES, price="0.49")
    await ex.catch_up()  # no maintenance pass: the exit machinery's retry does not come into it
    outcomes = await signal_outcomes(pool)
    assert outcomes[-1] == ("SELL", "EXECUTED", "filled"), outcomes
    assert limits.refused == 1  # sent again once, after the Retry-After: admitted


async def test_an_exit_refused_again_and_again_is_left_to_the_exit_retries(
    pool: asyncpg.Pool, dsn: str, clob: FakeClob, live: LiveBroker
) -> None:
    """The other side: a limit that outlasts the worker's tries (another client taking every
    token as it comes back) ends in the refusal, to be tried again by the exit machinery —
    not an order worker held for ever on one exit."""
    ex = await holding_yes(pool, dsn, clob, live)
    limits = drained_by_another_client(clob, rate=1.0)
    taken = limits.bucket(Account.from_key(KEY).address, "order")
    refill = taken.refill

    def stolen() -> float:  # every token taken by the other client before ours comes
        refill()
        taken.tokens = 0.0
        return 0.0

    taken.refill = stolen  # type: ignore[method-assign]
    async with pool.acquire() as conn:
        await add_trade(conn, side="SELL", token_id=TOKEN_YES, price="0.49")
    await ex.catch_up()
    [*_, (side, status, reason)] = await signal_outcomes(pool)
    assert (side, status) == ("SELL", "SKIPPED") and reason.startswith("order_rejected: http 429")
    assert limits.refused == 1 + EXIT_RETRIES
