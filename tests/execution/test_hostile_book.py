"""A market's rules as ``GET /book`` states them, from a broken or hostile exchange: a tick that
is none of the CLOB's, a minimum order size that is not positive or is absurd. Such a book is not
believed (the strategy's settings apply, as when the book cannot be read): an order was priced
on a tick of 0.3 (at 0.30 for a 0.25 ask), and a minimum of 10⁹ shares held every position to
resolution (``exit_below_min_size``)."""

from __future__ import annotations

from decimal import Decimal

import asyncpg
import pytest

from orderflow.execution.live import LiveBroker
from tests.execution.conftest import TOKEN_YES, follow
from tests.execution.fake_clob import FakeClob
from tests.execution.livekit import live_executor, live_strategy

HOSTILE = [
    {"tick_size": "0.3"},
    {"tick_size": "-0.01"},
    {"tick_size": "1000000000"},
    {"tick_size": "0.0000001"},
    {"min_order_size": "1000000000"},
    {"min_order_size": "-5"},
    {"min_order_size": "0"},
]


async def book_rules(live: LiveBroker, token_id: int) -> tuple[Decimal | None, Decimal | None]:
    """The book's rules the broker believes (minimum size, tick; None: not known). The market's
    fee schedule, read apart, is known either way (the stand-in's states none)."""
    rules = await live.market_rules(token_id)
    return (None, None) if rules is None else (rules.min_order_size, rules.tick_size)


@pytest.mark.parametrize("patch", HOSTILE, ids=lambda p: ",".join(f"{k}={v}" for k, v in p.items()))
async def test_a_book_stating_impossible_rules_is_not_believed(
    clob: FakeClob, live: LiveBroker, patch: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    clob.book_patch = patch
    assert await book_rules(live, TOKEN_YES) == (None, None)
    [refused] = [r for r in caplog.records if r.getMessage() == "exchange reply refused"]
    assert refused.__dict__["what"] == "market rules"
    clob.book_patch = {}
    assert await book_rules(live, TOKEN_YES) == (None, None)  # not asked again at once


async def test_the_book_s_good_rules_are_still_read(clob: FakeClob, live: LiveBroker) -> None:
    clob.markets[TOKEN_YES].tick = Decimal("0.001")
    clob.book_patch = {"min_order_size": "15"}
    rules = await live.market_rules(TOKEN_YES)
    assert rules is not None
    assert (rules.min_order_size, rules.tick_size) == (Decimal(15), Decimal("0.001"))


async def test_no_decision_is_priced_on_a_tick_the_clob_does_not_have(
    pool: asyncpg.Pool, dsn: str, clob: FakeClob, live: LiveBroker
) -> None:
    await live_strategy(pool)
    clob.book_patch = {"tick_size": "0.3"}
    ex = live_executor(pool, dsn, live)
    await follow(pool, ex, token_id=TOKEN_YES, price="0.25")
    inputs = await pool.fetchval("SELECT inputs FROM orderflow_signals")
    # Priced 0.30 (and skipped no_edge) on the tick of 0.3; on the strategy's tick, 0.26.
    assert Decimal(inputs["sizing"]["price"]) < Decimal("0.3"), inputs["sizing"]
