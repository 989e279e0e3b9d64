"""The walk-forward loop: step through stored history, deciding with only what was known then.

At the start of every step ``[T, T + step)`` the scorer is asked for wallet scores *as of T*
(the reputation stage's as-of gate: trades with timestamp <= T, resolutions with resolved_at <=
T). Then the step's trades and resolutions are replayed in time order. A taker's fill (only a
taker's row is someone's decision) that a follower wants becomes a pending signal, and so does
a fill of a held position's leader leaving its token (a SELL, its maker row too: the executor
exits on it; a BUY of the complement): the exit and the entry one fill is, decided in one pass
as the executor's, ``latency`` later. It reads the tape as the listener had stored it then:
as of its horizon, the decision less the ``visibility`` (:mod:`orderflow.backtest.pending`) —
its price is the executor's quote over the fills seen by then
(:meth:`orderflow.backtest.tape.Tape.quote`), and a leader's sale after the horizon cancels
what rests of the entry a latency after the sale, as the executor's leader-exit cancel does —
and the order it sends,
priced so, rests (:mod:`orderflow.backtest.resting`) and is filled by the book revealed after
it (:mod:`orderflow.backtest.liquidity`), which never prices it — the offers it could have met
on arrival, and the flow that met it resting at its limit
(:func:`orderflow.execution.depth.fill_resting`, the paper exchange's rule) — each fill booked
when it comes, until the order is filled, expires, its leader leaves the token or its market
resolves; but never after ``end``: the backtest reads nothing past its end, so a signal still
pending then meets only the liquidity revealed up to ``end`` (none, when it is due after it).
Several followers (the strategy and its baselines) watch the same tape side by side, each with
its own book and its own footprint on the market's depth.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import asyncpg

from orderflow.backtest.book import NO_LIQUIDITY, PAST_END, Book
from orderflow.backtest.followers import FOLLOWING, Follower, Intent
from orderflow.backtest.history import (
    ResolutionEvent,
    StoredFill,
    in_time_order,
    resolutions_between,
    stream_trades,
)
from orderflow.backtest.latency import Execution
from orderflow.backtest.liquidity import ChainDepth
from orderflow.backtest.pending import Leg, Pending, Queue
from orderflow.backtest.resting import EXPIRED, Orders, Resting, revealed
from orderflow.backtest.tape import Tape
from orderflow.execution.depth import Level, LevelKey
from orderflow.signals.exits import leaving, retry_pause
from orderflow.signals.sizing import dec
from orderflow.signals.views import Side, StrategyBook, TradeView, WalletView

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
    # Shares this follower took from each revealed maker order: its own impact on the book.
    consumed: dict[LevelKey, Decimal] = field(default_factory=dict)


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
    # Every printed token's mark at the end (its tape price: what open positions are marked at).
    last_prices: dict[int, Decimal] = field(default_factory=dict)


def make_run(follower: Follower) -> Run:
    s = follower.settings
    return Run(follower, Book(bankroll=dec(s.bankroll_usd), fee_rate=dec(s.taker_fee_rate)))


def _leader_selling(trade: TradeView, run: Run) -> bool:
    """Whether ``trade`` is a SELL by the wallet ``run``'s FOLLOW_WHALE position in its token
    followed in — any row of that wallet's own (``wallet_address``), its maker rows too: the
    executor exits on every stored SELL of the leader
    (``orderflow.signals.market_queries.left_since``), a resting order it posted earlier included;
    a BUY of the complement read as the sale it is (``orderflow.signals.exits.leaving``) too."""
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
        self.pending = Queue()
        self.orders = Orders()  # every follower's orders resting between decision and close
        # Entries pending per (wallet, token): decided after a sale of theirs they cannot know
        # yet (its block not stored), their orders are the sale's to cancel.
        self._entering: Counter[tuple[str, int]] = Counter()
        self._seq = 0

    def _leaving(self, sale: TradeView) -> list[Run]:
        """The runs ``sale`` concerns now: those it exits (a position that followed its wallet
        in), and those whose entries rest in the token following it (cancelled)."""
        return [
            r
            for r in self.runs
            if _leader_selling(sale, r) or self.orders.following(r.book, sale.token_id, sale.wallet)
        ]

    def observe(self, fill: StoredFill, wallet: WalletView) -> None:
        """Feed the tape; schedule the fill's decision for every follower that wants it."""
        market = self.tape.observe(
            fill.view, taker=fill.taker, complement=fill.complement, counterparty=fill.counterparty
        )
        # Only a taker's row is someone's decision, copied; a maker's may still be a leader
        # leaving through a resting order: its SELL is an exit of the positions that followed
        # it in — those of entries decided before the sale was stored too (:meth:`_decide`).
        entry = None
        if fill.taker and fill.opens:  # one entry per decision, sized as the whole of it
            decided = fill.decision or fill.view
            wanting = [r for r in self.runs if r.follower.wants(decided, wallet, market)]
            entry = Leg(decided, market, wanting) if wanting else None
        # The fill as its wallet leaving a token: a SELL, or a BUY of the complement of a held
        # token (the leader of a held position buying the complement) read as the sale it is.
        view = fill.view
        if view.complement != fill.complement:
            view = replace(view, complement=fill.complement)
        sale = leaving(view)
        exit_ = None
        if sale is not None:
            leaving_runs = self._leaving(sale)
            if leaving_runs or self._entering[(sale.wallet, sale.token_id)]:
                mirror = market
                if sale.token_id != fill.view.token_id:
                    mirror = replace(market, token_id=sale.token_id, window_high=None)
                exit_ = Leg(sale, mirror, leaving_runs)
        if entry is not None or exit_ is not None:
            self._seq += 1
            due = fill.timestamp + self.execution.latency
            horizon = self.execution.horizon(due, fill.timestamp)
            if entry is not None:
                self._entering[(entry.trade.wallet, entry.trade.token_id)] += 1
            self.pending.push(
                Pending(due, self._seq, wallet, exit_, entry, self.tape.seen, 0, horizon)
            )

    async def drain(self, before: datetime | None, inclusive: bool = False) -> None:
        """Decide every pending signal due before ``before`` (all of them when None), and meet
        the resting orders with the levels revealed up to it, in time order — the levels of a
        time before the decisions of that time, as the fills of a time are seen before them."""
        while True:
            self.pending.read(self.tape, before, inclusive)
            met = self.orders.next_at()
            due = self.pending.next_due()
            if (
                met is not None
                and (before is None or met <= before)
                and (due is None or met <= due)
            ):
                self.orders.step()
                continue
            if due is None or (
                before is not None and (due > before or (due == before and not inclusive))
            ):
                return
            await self._decide(self.pending.pop())

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
        dust); the book is read once, before the exit's order rests and before the leader-exit
        cancel, as the executor reads it before the pass."""
        cache: dict[tuple[int, Side], list[Level]] = {}
        if p.entry is not None:
            self._entering[(p.entry.trade.wallet, p.entry.trade.token_id)] -= 1
        if p.exit is not None and not p.tried:
            # The sale is stored after the entries decided before it: their orders, resting
            # (cancelled) or filled (exited), are the runs' it concerns now.
            now = self._leaving(p.exit.trade)
            p.exit = replace(p.exit, runs=[r for r in self.runs if r in p.exit.runs or r in now])
        legs = p.legs()
        runs = [r for r in self.runs if any(r in leg.runs for leg, _ in legs)]
        for run in runs:
            # The book as the executor reads it for the pass, its live orders counted, before
            # the leader-exit cancel it sends after the pass: an entry of the same fill (a
            # leader's BUY of the complement) still sees the order it cancels.
            book = self.orders.view(run.book, p.due, self.tape)
            if p.exit is not None and run in p.exit.runs:
                # The leader left: what rests of the entries that followed it in is cancelled
                # (what filled by now is held, and exited below).
                sale = p.exit.trade
                self.orders.leader_left(run.book, sale.token_id, sale.wallet, p.seen, p.due)
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
        # What the tape held at the decision's horizon: the quote, whether the leader had sold
        # the token since its fill, whether the market had resolved.
        sight = p.sights["SELL" if exit_ else "BUY"]
        market = replace(
            leg.market, last_price=sight.quote, resolved=sight.resolved, leader_exited=sight.left
        )
        if exit_:
            return run.follower.exit(trade, market, book, p.due, run.book.holdings())
        return run.follower.decide(trade, p.wallet, market, book, p.due)

    async def _fill(
        self,
        p: Pending,
        leg: Leg,
        run: Run,
        intent: Intent,
        cache: dict[tuple[int, Side], list[Level]],
    ) -> None:
        """Record the signal; an accepted one's order rests, met by the book revealed within its
        life (:mod:`orderflow.backtest.resting`)."""
        trade, side = leg.trade, intent.side
        signal = run.book.record(trade, p.wallet, intent, p.due, attempt=p.tried)
        if signal.status != "PENDING":
            return
        if p.due > self.end or intent.price is None:
            run.book.unfilled(signal, PAST_END if p.due > self.end else NO_LIQUIDITY)
            return
        # an exit with no bid seen is priced from the leader's sale (exits.exit_decision)
        quote = p.sights[side].quote or trade.price
        offers = await self._levels(p, trade, side, cache)
        opposite = await self._levels(p, trade, _other(side), cache)
        shares = intent.shares
        if side == "SELL":
            shares = min(shares, run.book.open[trade.token_id].position.shares)
        follows = trade.wallet if side == "BUY" and intent.signal_type in FOLLOWING else None
        order = Resting(
            run.book,
            run.consumed,
            signal,
            intent.price,
            quote,
            shares,
            p.due + self.execution.window,
            revealed(offers, opposite),
            seen=p.seen,
            follows=follows,
            then=(lambda o: self._exit_again(p, leg, run, o)) if side == "SELL" else None,
        )
        self.orders.place(order)

    def _exit_again(self, p: Pending, leg: Leg, run: Run, order: Resting) -> None:
        """An exit that expired with the position still open (nothing or part of it sold within
        its life) is tried again after :func:`orderflow.signals.exits.retry_pause`, on the same
        sale of the leader — as the executor's late exits (``Trader.late_exits``:
        :func:`orderflow.signals.exits.exit_due`); the decision says whether it is still due
        (the leader's position left, the market resolved: none). Not after the backtest's end,
        whose book is never read."""
        if order.signal.order_close != EXPIRED or leg.trade.token_id not in run.book.open:
            return
        tried = p.tried + 1
        due = order.expires + retry_pause(tried)
        if due > self.end:
            return
        self._seq += 1
        horizon = self.execution.horizon(due, order.expires)
        again = Pending(
            due, self._seq, p.wallet, replace(leg, runs=[run]), None, p.seen, tried, horizon
        )
        self.pending.push(again)


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
        async for item in in_time_order(stream_trades(conn, t0, t1), resolutions):
            if isinstance(item, ResolutionEvent):
                await replay.drain(item.resolved_at)
                resolutions_seen += 1
                replay.orders.resolved(item.market_id, item.resolved_at)
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
