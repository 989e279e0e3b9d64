"""The walk-forward loop: step through stored history, deciding with only what was known then.

At the start of every step ``[T, T + step)`` the scorer is asked for wallet scores *as of T*
(the reputation stage's as-of gate: trades with timestamp <= T, resolutions with resolved_at <=
T). Then the step's trades and resolutions are replayed in time order. A taker's fill (only a
taker's row is someone's decision) that a follower wants becomes a pending signal, and so does
a fill of a held position's leader leaving its token (a SELL, its maker row too: the executor
exits on it; a BUY of the complement): the exit and the entry one fill is, decided in one pass
as the executor's, ``latency`` later — by then the tape holds every fill and resolution up to
that moment, and the decision reads nothing else: its price is the executor's quote over the
fills seen by then (:meth:`orderflow.backtest.tape.Tape.quote`) — and the order it sends,
priced so, is filled against the book revealed after it (:mod:`orderflow.backtest.liquidity`),
which never prices it — the offers it could have met on arrival, and the flow that met it
resting at its limit (:func:`orderflow.execution.depth.fill_resting`, the paper exchange's
rule) — but never after ``end``: the backtest reads nothing past its end, so a signal still
pending then meets only the liquidity revealed up to ``end`` (none, when it is due after it).
Several followers (the strategy and its baselines) watch the same tape side by side, each with
its own book and its own footprint on the market's depth.
"""

from __future__ import annotations

import heapq
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import asyncpg

from orderflow.backtest.book import NO_LIQUIDITY, PAST_END, Book
from orderflow.backtest.followers import Follower, Intent
from orderflow.backtest.history import (
    ResolutionEvent,
    StoredFill,
    resolutions_between,
    stream_trades,
)
from orderflow.backtest.liquidity import ChainDepth
from orderflow.backtest.tape import Tape
from orderflow.execution.depth import Level, LevelKey, walk
from orderflow.signals.exits import leaving, retry_pause
from orderflow.signals.quotes import QUOTE_WINDOW_SECS
from orderflow.signals.sizing import dec
from orderflow.signals.views import MarketView, Side, StrategyBook, TradeView, WalletView
from orderflow.strategy.settings import DEFAULT_ORDER_TTL_SECS

# Scores as of a time: address -> the reputation stage's verdict, using only what was known then.
Scorer = Callable[[asyncpg.Connection, datetime], Awaitable[Mapping[str, WalletView]]]
# Told every step's scores as they are used (e.g. to measure score quality over time).
ScoreObserver = Callable[[datetime, Mapping[str, WalletView]], None]

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

# The default latency, from what the pipeline measures (docs/backtest.md "Latency"): the listener
# stores a log once CONFIRMATIONS (3) Polygon blocks of ~2 s bury it (6 s) and it sees a block on
# average ~1 s after its timestamp; the executor's signal p99 is 8 ms (docs/benchmarks.md "signal
# latency"); placing a CLOB order is a ~1 s HTTPS round trip (assumed, not measured here).
DEFAULT_LATENCY_SECS = 3 * 2.0 + 1.0 + 0.008 + 1.0


@dataclass(frozen=True)
class Execution:
    """How a follower's order reaches the market.

    ``latency``: from the leader's fill (its block time) to our order at the exchange — the
    decision is taken then, with what the tape shows then, and the order meets the book as it
    stands then. ``window``: how long after that the chain may reveal the book (maker fills of
    later trades in the token); nothing in it means no fill. It is the order's life: the
    strategy's ``order_ttl_secs``, as long as the executor's order would rest
    (:meth:`orderflow.backtest.runner.BacktestOptions.execution`).
    """

    latency: timedelta = timedelta(seconds=DEFAULT_LATENCY_SECS)
    window: timedelta = timedelta(seconds=DEFAULT_ORDER_TTL_SECS)


@dataclass
class Run:
    """One follower's replay: its book and its equity after every step."""

    follower: Follower
    book: Book
    equity: list[tuple[datetime, Decimal]] = field(default_factory=list)
    # Shares this follower took from each revealed maker order: its own impact on the book.
    consumed: dict[LevelKey, Decimal] = field(default_factory=dict)
    # Per token: until when an exit that left the position open rests (the order's life).
    exiting: dict[int, datetime] = field(default_factory=dict)

    def exits_resting(self, now: datetime) -> frozenset[int]:
        """The tokens an exit of which still rests at ``now``."""
        return frozenset(t for t, until in self.exiting.items() if until > now)


@dataclass(frozen=True)
class Leg:
    """One reading of a fill by the followers ``runs``: as an entry (the fill as it is) or as an
    exit (its wallet leaving a token: :func:`orderflow.signals.exits.leaving`), with the market
    of the token it trades as seen right after the fill."""

    trade: TradeView
    market: MarketView
    runs: list[Run]


@dataclass(order=True)
class Pending:
    """A fill some followers want, waiting for its decision time (fill + latency): the exit it
    is (the leader of held positions leaving their token) and the entry it is, one pass."""

    due: datetime
    seq: int
    wallet: WalletView = field(compare=False)
    exit: Leg | None = field(compare=False)
    entry: Leg | None = field(compare=False)
    seen: int = field(compare=False, default=0)  # the tape's count of fills, this one included
    tried: int = field(compare=False, default=0)  # exits tried before this one (a late exit)


@dataclass
class WalkForwardResult:
    start: datetime
    end: datetime
    step: timedelta
    steps: int
    trades_replayed: int
    resolutions_seen: int
    runs: list[Run]
    execution: Execution = field(default_factory=Execution)
    # The last step's scores (as of the last step's start): the report shows them.
    last_scores: Mapping[str, WalletView] = field(default_factory=dict)
    # Last traded price of every token at the end (what open positions are marked at).
    last_prices: dict[int, Decimal] = field(default_factory=dict)


def make_run(follower: Follower) -> Run:
    s = follower.settings
    return Run(follower, Book(bankroll=dec(s.bankroll_usd), fee_rate=dec(s.taker_fee_rate)))


async def _merge(
    trades: AsyncIterator[StoredFill], resolutions: Sequence[ResolutionEvent]
) -> AsyncIterator[StoredFill | ResolutionEvent]:
    """Time order; a resolution comes before trades stamped at the same second."""
    r = 0
    async for t in trades:
        while r < len(resolutions) and resolutions[r].resolved_at <= t.timestamp:
            yield resolutions[r]
            r += 1
        yield t
    for res in resolutions[r:]:
        yield res


def _leader_selling(trade: TradeView, run: Run) -> bool:
    """Whether ``trade`` is a SELL by the wallet ``run``'s FOLLOW_WHALE position in its token
    followed in — any row of that wallet's own (``wallet_address``), its maker rows too: the
    executor exits on every stored SELL of the leader (``orderflow.signals.queries.left_since``),
    a resting order it posted earlier included; a BUY of the complement read as the sale it is
    (``orderflow.signals.exits.leaving``) too."""
    return trade.side == "SELL" and run.book.leader(trade.token_id) == (
        trade.wallet,
        "FOLLOW_WHALE",
    )


def _other(side: Side) -> Side:
    return "SELL" if side == "BUY" else "BUY"


class _Replay:
    """The mutable state of one replay: tape, runs, pending signals, the depth reader."""

    def __init__(
        self,
        conn: asyncpg.Connection,
        runs: list[Run],
        tape: Tape,
        execution: Execution,
        end: datetime,
    ) -> None:
        self.conn, self.runs, self.tape, self.execution = conn, runs, tape, execution
        self.end = end  # nothing revealed after it is read: a held-out end stays held out
        self.depth = ChainDepth()
        self.pending: list[Pending] = []
        self._seq = 0

    def observe(self, fill: StoredFill, wallet: WalletView) -> None:
        """Feed the tape; schedule the fill's decision for every follower that wants it."""
        market = self.tape.observe(fill.view, taker=fill.taker, complement=fill.complement)
        # Only a taker's row is someone's decision, copied; a maker's may still be a leader
        # leaving through a resting order: its SELL is an exit of the positions that followed
        # it in. (A position opened before the decision, after this fill, cannot be one of them:
        # its leader's buy came before this sell, so the entry was skipped ``leader_exited``.)
        entry = None
        if fill.taker:
            wanting = [r for r in self.runs if r.follower.wants(fill.view, wallet, market)]
            entry = Leg(fill.view, market, wanting) if wanting else None
        # The fill as its wallet leaving a token: a SELL, or a BUY of the complement of a held
        # token (the leader of a held position buying the complement) read as the sale it is.
        view = fill.view
        if view.complement != fill.complement:
            view = replace(view, complement=fill.complement)
        sale = leaving(view)
        exit_ = None
        if sale is not None:
            leaving_runs = [r for r in self.runs if _leader_selling(sale, r)]
            if leaving_runs:
                mirror = market
                if sale.token_id != fill.view.token_id:
                    mirror = replace(market, token_id=sale.token_id, window_high=None)
                exit_ = Leg(sale, mirror, leaving_runs)
        if entry is not None or exit_ is not None:
            self._seq += 1
            due = fill.timestamp + self.execution.latency
            pending = Pending(due, self._seq, wallet, exit_, entry, self.tape.seen)
            heapq.heappush(self.pending, pending)

    async def drain(self, before: datetime | None, inclusive: bool = False) -> None:
        """Decide every pending signal due before ``before`` (all of them when None)."""
        while self.pending:
            due = self.pending[0].due
            if before is not None and (due > before or (due == before and not inclusive)):
                return
            await self._decide(heapq.heappop(self.pending))

    def _quote(self, trade: TradeView, side: Side) -> Decimal | None:
        """The executor's quote at the decision: the fills the tape has seen by then, since the
        quote window before the trigger — nothing revealed after the decision."""
        since = trade.timestamp - timedelta(seconds=QUOTE_WINDOW_SECS)
        return self.tape.quote(trade.token_id, side, since)

    async def _levels(
        self, p: Pending, trade: TradeView, side: Side, cache: dict[tuple[int, Side], list[Level]]
    ) -> list[Level]:
        """The book revealed within the order's life: the levels a taker on ``side`` meets (the
        quote and the limit sort them: :func:`orderflow.execution.depth.fill_resting`, the paper
        exchange's rule)."""
        key = (trade.token_id, side)
        if key not in cache:
            until = min(p.due + self.execution.window, self.end)
            revealed: list[Level] = []
            if until > p.due:
                revealed = await self.depth.levels(self.conn, trade.token_id, side, p.due, until)
            cache[key] = revealed
        return cache[key]

    async def _decide(self, p: Pending) -> None:
        """One pass, as the executor's (``orderflow.execution.trading.Trader._decide``): the
        exit first, then the entry, both decided against the follower's book as it stands at
        the decision. The executor's exit is an order on its way, the position held until it
        fills, so the entry of the same fill sees the position (``position_exists`` unless it is
        dust); here the exit fills at its decision, so the entry reads the book taken before."""
        cache: dict[tuple[int, Side], list[Level]] = {}
        legs = [(leg, side) for leg, side in ((p.exit, "SELL"), (p.entry, "BUY")) if leg]
        runs = [r for r in self.runs if any(r in leg.runs for leg, _ in legs)]
        for run in runs:
            book = run.book.view(p.due, self.tape, run.exits_resting(p.due))
            for leg, side in legs:
                if run not in leg.runs:
                    continue
                if side == "SELL" and leg.trade.token_id in book.exits:
                    continue  # an exit of it still rests: none is made (exit_signals.exits_of)
                intent = self._intent(p, leg, run, book, side == "SELL")
                if intent is not None:
                    await self._fill(p, leg, run, intent, cache)

    def _intent(
        self, p: Pending, leg: Leg, run: Run, book: StrategyBook, exit_: bool
    ) -> Intent | None:
        trade = leg.trade
        resolved = leg.market.market_id is not None and leg.market.market_id in self.tape.resolved
        quote = self._quote(trade, "SELL" if exit_ else "BUY")
        # What the tape holds by the decision: has the leader sold the token since its fill?
        exited = self.tape.left_since(trade, p.seen)
        market = replace(leg.market, last_price=quote, resolved=resolved, leader_exited=exited)
        if exit_:
            return run.follower.exit(trade, market, book, p.due, run.book.leaders())
        return run.follower.decide(trade, p.wallet, market, book, p.due)

    async def _fill(
        self,
        p: Pending,
        leg: Leg,
        run: Run,
        intent: Intent,
        cache: dict[tuple[int, Side], list[Level]],
    ) -> None:
        """Walk the revealed book for an accepted intent; record the signal in the run's book."""
        trade, side = leg.trade, intent.side
        fill = None
        if intent.accepted and intent.price is not None:
            # an exit with no bid seen is priced from the leader's sale (exits.exit_decision)
            quote = self._quote(trade, side) or trade.price
            offers = await self._levels(p, trade, side, cache)
            opposite = await self._levels(p, trade, _other(side), cache)
            shares = intent.shares
            held = run.book.open.get(trade.token_id)
            if side == "SELL" and held is not None:
                shares = min(shares, held.position.shares)
            fee = run.book.fee_rate
            fill = walk(
                offers, opposite, side, shares, intent.price, quote, fee, run.consumed, p.due
            )
        unfilled = PAST_END if p.due > self.end else NO_LIQUIDITY
        run.book.record(trade, p.wallet, intent, p.due, fill, unfilled=unfilled, attempt=p.tried)
        if side == "SELL" and intent.accepted and trade.token_id in run.book.open:
            self._exit_again(p, leg, run)

    def _exit_again(self, p: Pending, leg: Leg, run: Run) -> None:
        """An exit that left the position open (nothing or part of it sold within its life) is
        tried again once its order has ended, after :func:`orderflow.signals.exits.retry_pause`,
        on the same sale of the leader — as the executor's late exits
        (``Trader.late_exits``: :func:`orderflow.signals.exits.exit_due`); the decision says
        whether it is still due (the leader's position left, the market resolved: none). Not
        after the backtest's end, whose book is never read."""
        ended = p.due + self.execution.window
        run.exiting[leg.trade.token_id] = ended
        tried = p.tried + 1
        due = ended + retry_pause(tried)
        if due > self.end:
            return
        self._seq += 1
        again = Pending(due, self._seq, p.wallet, replace(leg, runs=[run]), None, p.seen, tried)
        heapq.heappush(self.pending, again)


async def walk_forward(
    conn: asyncpg.Connection,
    followers: Sequence[Follower],
    scorer: Scorer,
    *,
    start: datetime,
    end: datetime,
    step: timedelta,
    on_scores: ScoreObserver | None = None,
    execution: Execution | None = None,
) -> WalkForwardResult:
    """Replay ``(start, end]`` in steps of ``step`` for every follower."""
    if step <= timedelta(0):
        raise ValueError("step must be positive")
    execution = execution or Execution()
    fade_window = max(f.settings.fade_window_secs for f in followers)
    tape = Tape(fade_window, execution.latency)
    for res in await resolutions_between(conn, EPOCH, start):
        tape.resolve(res.market_id, res.payouts)
    runs = [make_run(f) for f in followers]
    for run in runs:
        run.equity.append((start, run.book.bankroll))
    replay = _Replay(conn, runs, tape, execution, end)
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
                await replay.drain(item.resolved_at)
                resolutions_seen += 1
                tape.resolve(item.market_id, item.payouts)
                for run in runs:
                    run.book.settle(item.market_id, item.payouts, item.resolved_at, tape)
                continue
            # Fills at the same second as a decision are seen before it (the book is after).
            await replay.drain(item.timestamp)
            trades_seen += 1
            wallet = scores.get(item.view.wallet) or WalletView(item.view.wallet, None)
            replay.observe(item, wallet)
        await replay.drain(t1, inclusive=True)
        for run in runs:
            run.equity.append((t1, run.book.equity(tape)))
        steps += 1
        t0 = t1
    # Signals due after the end: decided, but the book after the end is not read (past_end).
    await replay.drain(None)
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
        execution=execution,
        last_scores=scores,
        last_prices=tape.last_prices(),
    )
