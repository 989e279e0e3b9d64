"""The walk-forward loop: step through stored history, deciding with only what was known then.

At the start of every step ``[T, T + step)`` the scorer is asked for wallet scores *as of T*
(the reputation stage's as-of gate: trades with timestamp <= T, resolutions with resolved_at <=
T). Then the step's trades and resolutions are replayed in time order: a resolution settles
positions only from its ``resolved_at`` on, and a trade is judged with the scores of T and the
prices seen up to and including itself. Several followers (the strategy and its baselines) watch
the same tape side by side.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import asyncpg

from orderflow.backtest.book import Book
from orderflow.backtest.followers import Follower
from orderflow.backtest.history import ResolutionEvent, resolutions_between, stream_trades
from orderflow.backtest.tape import Tape
from orderflow.signals.sizing import dec
from orderflow.signals.views import TradeView, WalletView

# Scores as of a time: address -> the reputation stage's verdict, using only what was known then.
Scorer = Callable[[asyncpg.Connection, datetime], Awaitable[Mapping[str, WalletView]]]
# Told every step's scores as they are used (e.g. to measure score quality over time).
ScoreObserver = Callable[[datetime, Mapping[str, WalletView]], None]

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass
class Run:
    """One follower's replay: its book and its equity after every step."""

    follower: Follower
    book: Book
    equity: list[tuple[datetime, Decimal]] = field(default_factory=list)


@dataclass
class WalkForwardResult:
    start: datetime
    end: datetime
    step: timedelta
    steps: int
    trades_replayed: int
    resolutions_seen: int
    runs: list[Run]
    # The last step's scores (as of the last step's start): the report shows them.
    last_scores: Mapping[str, WalletView] = field(default_factory=dict)
    # Last traded price of every token at the end (what open positions are marked at).
    last_prices: dict[int, Decimal] = field(default_factory=dict)


def make_run(follower: Follower) -> Run:
    s = follower.settings
    return Run(follower, Book(bankroll=dec(s.bankroll_usd), fee_rate=dec(s.taker_fee_rate)))


async def _merge(
    trades: AsyncIterator[TradeView], resolutions: Sequence[ResolutionEvent]
) -> AsyncIterator[TradeView | ResolutionEvent]:
    """Time order; a resolution comes before trades stamped at the same second."""
    r = 0
    async for t in trades:
        while r < len(resolutions) and resolutions[r].resolved_at <= t.timestamp:
            yield resolutions[r]
            r += 1
        yield t
    for res in resolutions[r:]:
        yield res


async def walk_forward(
    conn: asyncpg.Connection,
    followers: Sequence[Follower],
    scorer: Scorer,
    *,
    start: datetime,
    end: datetime,
    step: timedelta,
    on_scores: ScoreObserver | None = None,
) -> WalkForwardResult:
    """Replay ``(start, end]`` in steps of ``step`` for every follower."""
    if step <= timedelta(0):
        raise ValueError("step must be positive")
    fade_window = max(f.settings.fade_window_secs for f in followers)
    tape = Tape(fade_window)
    for res in await resolutions_between(conn, EPOCH, start):
        tape.resolve(res.market_id, res.payouts)
    runs = [make_run(f) for f in followers]
    for run in runs:
        run.equity.append((start, run.book.bankroll))
    steps = trades_seen = resolutions_seen = 0
    scores: Mapping[str, WalletView] = {}
    t0 = start
    while t0 < end:
        t1 = min(t0 + step, end)
        scores = await scorer(conn, t0)
        if on_scores is not None:
            on_scores(t0, scores)
        resolutions = await resolutions_between(conn, t0, t1)
        async for item in _merge(stream_trades(conn, t0, t1), resolutions):
            if isinstance(item, ResolutionEvent):
                resolutions_seen += 1
                tape.resolve(item.market_id, item.payouts)
                for run in runs:
                    run.book.settle(item.market_id, item.payouts, item.resolved_at)
                continue
            trades_seen += 1
            market = tape.observe(item)
            wallet = scores.get(item.wallet) or WalletView(item.wallet, None)
            now = item.timestamp
            for run in runs:
                if not run.follower.wants(item, wallet, market):
                    continue
                intent = run.follower.decide(
                    item, wallet, market, run.book.view(now, tape), now, run.book.leaders()
                )
                if intent is not None:
                    run.book.record(item, wallet, intent, now)
        for run in runs:
            run.equity.append((t1, run.book.equity(tape)))
        steps += 1
        t0 = t1
    for run in runs:
        run.book.mark_open_signals(tape)
    return WalkForwardResult(
        start,
        end,
        step,
        steps,
        trades_seen,
        resolutions_seen,
        runs,
        last_scores=scores,
        last_prices=tape.last_prices(),
    )
