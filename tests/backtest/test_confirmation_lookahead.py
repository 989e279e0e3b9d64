"""A decision reads only the fills the executor can have stored (a strict xfail before).

The default latency, 8.008 s, is (orderflow/backtest/latency.py, docs/backtest.md "Latency"):
the listener stores a log once CONFIRMATIONS (3) Polygon blocks of ~2 s bury it (6 s), seen ~1 s
after the block's timestamp; the executor decides 8 ms later; the order reaches the CLOB ~1 s
after that. So when the executor decides on a buy (~7 s after it), the newest block it has
stored is the buy's own: a later block is stored only once it too is buried under three
(orderflow/chain/settings.py ``confirmations``: "Blocks a log's block must be buried under
before it is stored"). Until this change the backtest's decision at buy + 8.008 s read the tape
up to that very moment: four blocks the executor has not seen. Here the leader sells in the
next block (2 s after its buy): the backtest skipped the buy ``leader_exited``; the executor
cannot know of the sale before ~9 s, follows, its order is at the exchange at 8 s and meets an
ask revealed at 10 s, before the leader-exit cancel (the engine's own model of it: the sale +
the latency, 10.008 s), and holds a token that then loses. The backtest reported nothing lost.
Now the decision reads the tape as of its time less the listener's visibility delay
(``orderflow.backtest.latency.Execution.horizon``: 7 s, so the buy's own block) and follows.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

import asyncpg

from orderflow.backtest import BacktestOptions, run_backtest
from orderflow.backtest.latency import DEFAULT_LATENCY_SECS, DEFAULT_VISIBILITY_SECS
from orderflow.chain.settings import ListenerSettings
from orderflow.signals.views import WalletView
from orderflow.strategy.settings import StrategySettings
from tests.backtest.factory import History, addr

T0 = datetime(2026, 5, 1, tzinfo=UTC)
T = T0 + timedelta(hours=1)  # the leader's buy (its block's timestamp)
WHALE = addr("whale")
SETTINGS = StrategySettings(order_ttl_secs=1800)


async def whale_scores(conn: asyncpg.Connection, as_of: datetime) -> Mapping[str, WalletView]:
    return {WHALE: WalletView(WHALE, 9.0, "WHALE", edge=0.30, edge_se=0.01, resolved_buys=50)}


async def test_a_sale_in_a_block_not_yet_stored_does_not_stop_the_entry(
    pool: asyncpg.Pool,
) -> None:
    h = History()
    market = h.market("next-block-sale")
    h.trade(WHALE, market, 0, "BUY", "0.40", "500", T)
    # The next Polygon block: stored by the listener at ~T + 9 s (buried under 3 blocks).
    h.trade(WHALE, market, 0, "SELL", "0.40", "500", T + timedelta(seconds=2))
    # Our order is at the exchange from T + 8.008 s; this ask comes before the leader-exit
    # cancel (the sale + the latency: T + 10.008 s).
    h.ask(market, 0, "0.40", "5000", T + timedelta(seconds=10))
    h.resolve(market, 1, T + timedelta(hours=1))  # the followed token loses
    await h.store(pool)
    options = BacktestOptions(start=T0, end=T0 + timedelta(days=1), step_secs=86_400)
    async with pool.acquire() as conn:
        report = await run_backtest(conn, SETTINGS, options, whale_scores)
    assert report is not None
    entries = [s for s in report.result.runs[0].book.signals if s.is_entry]
    assert entries, "no entry signal at all"
    entry = entries[0]
    assert entry.status == "EXECUTED", (
        f"the whale's buy was decided {entry.status} {entry.reason!r} with the sale of the next "
        f"block (stored ~9 s after the buy) already known at the decision (8.008 s); the "
        f"executor's order fills at the ask of T + 10 s and loses; backtest P&L "
        f"{report.strategy.pnl}"
    )


async def test_a_sale_stored_before_a_slower_decision_stops_the_entry(pool: asyncpg.Pool) -> None:
    """The same history with orders 10 s after their leader: the decision reads the blocks
    stored 7 s before it (up to T + 3 s), the sale's among them: SKIPPED ``leader_exited``."""
    h = History()
    market = h.market("next-block-sale")
    h.trade(WHALE, market, 0, "BUY", "0.40", "500", T)
    h.trade(WHALE, market, 0, "SELL", "0.40", "500", T + timedelta(seconds=2))
    h.ask(market, 0, "0.40", "5000", T + timedelta(seconds=12))
    await h.store(pool)
    options = BacktestOptions(start=T0, end=T0 + timedelta(days=1), latency_secs=10)
    async with pool.acquire() as conn:
        report = await run_backtest(conn, SETTINGS, options, whale_scores)
    assert report is not None
    entries = [s for s in report.result.runs[0].book.signals if s.is_entry]
    assert [(s.status, s.reason, s.order_close) for s in entries] == [
        ("SKIPPED", "leader_exited", None)
    ]


def test_the_visibility_is_the_listener_s_confirmations_and_at_most_the_latency() -> None:
    """7 s: CONFIRMATIONS (the listener's setting's default) Polygon blocks of 2 s and its 1 s
    lag; the default latency adds the signal and the order's trip. A latency shorter than that
    (CONFIRMATIONS=0, a co-located node) stored the fill within it: the visibility is cut to
    it, and a decision never reads before its trigger."""
    confirmations = ListenerSettings.model_fields["confirmations"].default
    assert DEFAULT_VISIBILITY_SECS == confirmations * 2.0 + 1.0 == 7.0
    assert abs(DEFAULT_LATENCY_SECS - 8.008) < 1e-9
    default = BacktestOptions().execution(SETTINGS)
    assert default.visibility == timedelta(seconds=7)
    due = T + default.latency
    assert default.horizon(due, T) == due - timedelta(seconds=7)  # the trigger's block
    fast = BacktestOptions(latency_secs=2).execution(SETTINGS)
    assert fast.visibility == timedelta(seconds=2)
    assert fast.horizon(T + timedelta(seconds=2), T) == T
    assert BacktestOptions(visibility_secs=0).execution(SETTINGS).visibility == timedelta(0)
