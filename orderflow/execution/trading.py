"""From a batch of new trades to stored signals handed to the order worker, for every strategy.

For each strategy: the trades past its cursor are pre-filtered cheaply (wallet score, size,
enabled rules), the survivors get market views (the market's own minimum order size and tick
from the broker that would trade them, asked for before the decision lock and its transaction:
:mod:`orderflow.execution.market_rules`) and the strategy's book (a live strategy's cash capped
by what its wallet has left: :mod:`orderflow.execution.wallet`), and
:func:`orderflow.signals.evaluate` decides the entries
(:mod:`orderflow.execution.entry_signals`); the leader's sells of held positions are decided as
exits (:mod:`orderflow.execution.exit_signals`). Signals and the advanced cursor are committed
in one transaction, so a restart neither skips nor repeats a trade; the UNIQUE signal key makes
a replayed trade (late-commit sweep, a second executor) a no-op
(:mod:`orderflow.execution.signal_record`). Accepted signals then go to the order worker
(:mod:`orderflow.execution.order_worker`), which sends them as orders, each intent stored before
sending.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Mapping, MutableSet, Sequence
from datetime import datetime
from decimal import Decimal

import asyncpg

from orderflow import db
from orderflow.errors import ExecutionError
from orderflow.execution import exit_queries, order_queries, strategy_queries
from orderflow.execution.book import Holdings, held_modes, load_book_and_holdings
from orderflow.execution.broker import Broker, Collateral, Mode
from orderflow.execution.entry_signals import decide_entries, may_trigger
from orderflow.execution.exit_signals import decide_exits, exits_of, sells_before_entries
from orderflow.execution.leader import EXECUTOR_LOCK_KEY
from orderflow.execution.market_rules import warm_market_rules, with_market_rules
from orderflow.execution.order_worker import OrderJob, OrderWorker
from orderflow.execution.strategies import StrategyState
from orderflow.execution.wallet import wallet_cash
from orderflow.execution.wallet_shares import SharesRead, exit_reads, exit_tokens, square
from orderflow.signals import market_queries
from orderflow.signals import queries as signal_queries
from orderflow.signals.exits import exit_due, leaving
from orderflow.signals.views import (
    MarketView,
    Side,
    StrategyBook,
    TradeView,
    WalletView,
)

log = logging.getLogger(__name__)


async def _leaving_by_id(conn: asyncpg.Connection, ids: Sequence[int]) -> list[TradeView]:
    """The stored trades ``ids`` (the leaders' latest departures,
    :func:`~orderflow.execution.exit_queries.exits_tried`) as the sales they are: a BUY of
    the complement read as a SELL of the held token (orderflow.signals.exits.leaving)."""
    trades = await signal_queries.trades_by_id(conn, ids)
    return [v for t in trades if (v := leaving(t)) is not None]


class Trader:
    """Runs the decision pipeline for a batch of trades and hands accepted signals to the
    order worker.

    Orders on their way count in the strategy's book (the worker's ``inflight``) until they
    are booked, and an exit on its way stops a second one of the same position.
    """

    def __init__(self, pool: asyncpg.Pool, worker: OrderWorker) -> None:
        self.pool = pool
        self.worker = worker
        self.marks = worker.desk.marks  # midnight's marks: one cache with the send check
        # Called with a strategy's name when a leader sold a token that live entry orders of
        # the strategy followed it into (the engine cancels them: leader_exited).
        self.after_leader_exit: Callable[[str], None] | None = None
        self.conn: asyncpg.Connection | None = None
        # One decision at a time: the trading loop's and maintenance's (late exits), so an exit
        # is decided knowing of any other recorded for the position.
        self.deciding = asyncio.Lock()

    @contextlib.asynccontextmanager
    async def connection(self) -> AsyncIterator[asyncpg.Connection]:
        """The signal path's connection: a dedicated one while leading, else one from the pool."""
        if self.conn is not None:
            yield self.conn
        else:
            async with self.pool.acquire() as conn:
                yield conn

    async def open_connection(self, dsn: str) -> None:
        """A dedicated connection for the decision path (fewer round trips per trade).

        Signals and the cursor commit together; losing such a commit in a crash loses both and
        the trades are evaluated again, so these commits need not wait for the WAL flush
        (``synchronous_commit = off``). Order intents go through the pool and commit
        synchronously, which flushes everything before them, before anything is sent.
        """
        conn = await db.connect(dsn)
        await conn.execute("SET synchronous_commit TO OFF")
        self.conn = conn

    async def close_connection(self) -> None:
        conn, self.conn = self.conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                await conn.close()

    def _broker_of(
        self, state: StrategyState, modes: Mapping[int, Mode]
    ) -> Callable[[TradeView], Broker | None]:
        """The broker that would trade a fill: the position's mode for a held token (an exit),
        the strategy's otherwise (an entry)."""
        brokers = self.worker.desk.brokers
        mode = state.settings.mode
        return lambda t: brokers.get(modes.get(t.token_id, mode))

    async def _warm_rules(
        self,
        state: StrategyState,
        entries: Sequence[TradeView],
        sells: Sequence[TradeView],
        held: Mapping[int, tuple[str | None, Mode]],
        books_read: MutableSet[tuple[int, int]] | None = None,
    ) -> None:
        """Ask for the market rules the decision of ``entries`` and of the exits among
        ``sells`` (sells by the leader of a held position: ``held``, from
        :func:`~orderflow.execution.book.held_modes`) will read — before the decision lock and
        its transaction, so that a slow exchange holds up neither (the cache answers inside)."""
        exits = [t for t in sells if t.token_id in held and held[t.token_id][0] == t.wallet]
        if entries or exits:
            modes = {token: mode for token, (_, mode) in held.items()}
            await warm_market_rules(
                [*entries, *exits],
                self._broker_of(state, modes),
                books=state.settings.quote_from == "book",
                read=books_read,
            )

    async def _market_views(
        self,
        conn: asyncpg.Connection,
        state: StrategyState,
        trades: Sequence[TradeView],
        window: float,
        holdings: Holdings,
    ) -> dict[int, dict[Side, MarketView]]:
        """The markets of ``trades`` as the decision sees them: quotes and history from the
        database, the market's own minimum order size and tick from the broker that would
        trade it (the position's mode for an exit, the strategy's for an entry; paper: none,
        the strategy's settings apply), asked for before the decision (:meth:`_warm_rules`)."""
        views = await market_queries.market_views(conn, trades, window)
        return await with_market_rules(
            views,
            trades,
            self._broker_of(state, holdings.modes),
            books=state.settings.quote_from == "book",
        )

    async def process(
        self,
        trades: Sequence[TradeView],
        strategies: Sequence[StrategyState],
        now: datetime,
        *,
        replay: bool = False,
    ) -> int:
        """Evaluate ``trades`` for every strategy; returns the number of new signals.

        ``replay``: the trades may be at or below the cursors (late-commit sweep); they are
        evaluated anyway and the signal key drops what was already recorded.
        """
        if not trades:
            return 0
        async with self.connection() as conn:
            wallets = await signal_queries.wallet_views(conn, {t.wallet for t in trades})
            # Each taker row as its leader's whole decision in its transaction (the entries'
            # trigger size: orderflow.signals.decisions); exits read the rows as they are.
            decided = dict(
                zip(trades, await signal_queries.as_stored_decisions(conn, trades), strict=True)
            )
        created = 0
        # The books read for this pass (by broker and token): each token's read once, whichever
        # strategies decide on it (market_rules.warm_market_rules).
        books_read: set[tuple[int, int]] = set()
        for state in strategies:
            todo = [t for t in trades if replay or (t.id or 0) > state.cursor]
            if todo:
                created += await self._strategy(
                    state, todo, decided, wallets, now, replay=replay, books_read=books_read
                )
        return created

    async def _strategy(
        self,
        state: StrategyState,
        trades: Sequence[TradeView],
        decided: Mapping[TradeView, TradeView],
        wallets: dict[str, WalletView],
        now: datetime,
        *,
        replay: bool,
        books_read: MutableSet[tuple[int, int]],
    ) -> int:
        settings = state.settings
        worker = self.worker
        entries = [decided.get(t, t) for t in trades]
        candidates = [t for t in entries if may_trigger(t, wallets.get(t.wallet), settings)]
        # Each trade as its wallet leaving a token: a SELL, a BUY of the token's complement
        # read as the sale of the token it is (orderflow.signals.exits.leaving).
        sells = [v for t in trades if (v := leaving(t)) is not None]
        accepted: list[OrderJob] = []
        created = 0
        left_live = False
        top = max((t.id or 0) for t in trades)
        shares: dict[int, SharesRead] = {}
        if candidates or sells:
            async with self.connection() as conn:
                tokens = {t.token_id for t in [*candidates, *sells]}
                held = await held_modes(conn, state, tokens)
                exiting = worker.exits_on_the_way(state.name)
                live_exits = await exit_tokens(conn, state.name, sells, held, exiting)
            await self._warm_rules(state, candidates, sells, held, books_read)
            shares = await exit_reads(self.connection, worker.desk, live_exits)
        funds = await self._wallet(state, candidates) if candidates else None
        async with self.deciding, self.connection() as conn:
            await square(conn, shares)  # before the book's snapshot
            left: dict[int, Decimal] = {}
            if candidates or sells:
                # The book is one moment's: read in a snapshot of its own, before the
                # decision's transaction (orderflow.execution.book).
                book, holdings = await self._book(conn, state, now)
                if funds is not None:  # a live strategy spends no more than the wallet has
                    on_the_way = worker.live_entries_on_the_way()
                    tokens = {t.token_id for t in candidates}
                    left = await wallet_cash(conn, funds, on_the_way, tokens)
            async with conn.transaction():
                if candidates or sells:
                    # Entries on their way that followed a leader who sells now are not sent;
                    # live ones resting on the exchange are cancelled (after_leader_exit).
                    worker.leader_sold(state, sells)
                    left_live = any((t.token_id, t.wallet) in holdings.following for t in sells)
                    exits = await sells_before_entries(conn, state.name, exits_of(sells, holdings))
                    created, accepted = await self._decide(
                        conn, state, candidates, exits, book, holdings, wallets, now, funds, left
                    )
                if not replay:
                    await strategy_queries.set_cursor(conn, state.name, top)
        if not replay:
            state.cursor = max(state.cursor, top)
        if left_live and self.after_leader_exit is not None:
            self.after_leader_exit(state.name)
        await worker.dispatch(accepted)
        return created

    async def _wallet(
        self, state: StrategyState, candidates: Sequence[TradeView]
    ) -> Collateral | None:
        """A live strategy's wallet as the exchange reports it, with the exchange of each
        candidate's market, read before the decision lock: its cash is capped by what the
        wallet has left on that exchange (:func:`wallet_cash`), and its entries' orders are
        checked with it (one read per entry). None: paper, or not read (the order's own check,
        fail-closed, reads again and refuses what it cannot pay)."""
        broker = self.worker.desk.brokers.get("live")
        if state.settings.mode != "live" or broker is None:
            return None
        try:
            async with asyncio.timeout(self.worker.desk.call_timeout):
                return await broker.collateral({t.token_id for t in candidates})
        except (ExecutionError, TimeoutError):
            return None

    async def _book(
        self, conn: asyncpg.Connection, state: StrategyState, now: datetime
    ) -> tuple[StrategyBook, Holdings]:
        """The strategy's book and holdings, orders and exits on their way included (taken from
        the worker before the snapshot is read: :func:`load_book_and_holdings`)."""
        worker = self.worker
        return await load_book_and_holdings(
            conn,
            state,
            now,
            worker.inflight.get(state.name),
            self.marks,
            exiting=worker.exits_on_the_way(state.name),
        )

    async def _decide(
        self,
        conn: asyncpg.Connection,
        state: StrategyState,
        candidates: Sequence[TradeView],
        exits: Sequence[TradeView],
        book: StrategyBook,
        holdings: Holdings,
        wallets: Mapping[str, WalletView],
        now: datetime,
        funds: Collateral | None = None,
        left: Mapping[int, Decimal] | None = None,
    ) -> tuple[int, list[OrderJob]]:
        """Decide and record the batch's exits and entries (in the decision's transaction);
        returns the signals recorded and the accepted ones as jobs to send (the entries:
        :func:`~orderflow.execution.entry_signals.decide_entries`)."""
        settings = state.settings
        window = settings.fade_window_secs if settings.enable_degen_fading else 0.0
        # Read apart: a BUY of the complement that exits a position is an entry candidate too,
        # of its own token (the same trade id, another market view). Its exit is decided first;
        # the two are signals of their own (the key has the side: migration 075). The entry is
        # refused ``position_exists`` while the position is held, and made when what is held is
        # dust (the exit SKIPPED ``exit_below_min_size``, the market open to a new entry).
        if exits:
            exit_markets = await self._market_views(conn, state, exits, 0.0, holdings)
            created, accepted = await decide_exits(
                conn, state, exits, exit_markets, book, holdings, wallets, now, self.worker.exiting
            )
        else:
            created, accepted = 0, []
        markets = await self._market_views(conn, state, candidates, window, holdings)
        entered, entries = await decide_entries(
            conn, state, candidates, markets, book, wallets, now, funds, left
        )
        return created + entered, [*accepted, *entries]

    async def late_exits(self, state: StrategyState, now: datetime) -> int:
        """Exits the leader's sells did not make, or did not finish (maintenance calls this):
        every open FOLLOW_WHALE position whose leader has sold the token since the buy we
        followed gets an exit when :func:`~orderflow.signals.exits.exit_due` says so — the sell
        was read while the strategy held nothing (the entry past its last check, on its way; a
        resting entry's fill booked after the sell), or every exit tried so far left it open
        (refused, never sent, expired partly filled) and the pause after the last has passed.
        Triggered by the leader's latest such sell, as the next attempt on it (the signals are
        stored: across restarts too). Returns the number of new signals."""
        async with self.pool.acquire() as conn:
            due = [e for e in await exit_queries.exits_tried(conn, state.name)
                   if exit_due(e, killed=state.killed)]  # fmt: skip
            if not due:
                return 0  # the usual answer, found without holding up the trading loop
            sells = await _leaving_by_id(conn, [e.sell_id for e in due])
            held = await held_modes(conn, state, {t.token_id for t in sells})
            worker = self.worker
            exiting = worker.exits_on_the_way(state.name)
            live_exits = await exit_tokens(conn, state.name, sells, held, exiting)
        await self._warm_rules(state, [], sells, held)
        shares = await exit_reads(self.pool.acquire, worker.desk, live_exits)
        async with self.deciding, self.pool.acquire() as conn:
            await square(conn, shares)  # before the book's snapshot
            # Again, now that no other decision is under way (it may have made the exit).
            due = [e for e in await exit_queries.exits_tried(conn, state.name)
                   if exit_due(e, killed=state.killed)]  # fmt: skip
            if not due:
                return 0
            for e in due:
                if e.refused_again:
                    log.error(
                        "exit refused by the exchange again and again; tried hourly",
                        extra={"strategy": state.name, "sell_id": e.sell_id,
                               "tried": e.tried, "last_reason": e.last_reason},
                    )  # fmt: skip
            sells = await _leaving_by_id(conn, [e.sell_id for e in due])
            book, holdings = await self._book(conn, state, now)  # a snapshot of its own
            async with conn.transaction():
                exits = exits_of(sells, holdings)
                markets = await self._market_views(conn, state, exits, 0.0, holdings)
                wallets = await signal_queries.wallet_views(conn, {t.wallet for t in exits})
                created, accepted = await decide_exits(
                    conn,
                    state,
                    exits,
                    markets,
                    book,
                    holdings,
                    wallets,
                    now,
                    worker.exiting,
                    attempts={e.sell_id: e.on_sell for e in due},
                )
        await worker.dispatch(accepted)
        return created

    async def close_orphans(self, leader_pid: int, lock_key: int = EXECUTOR_LOCK_KEY) -> list[int]:
        """SKIP (``interrupted_before_order``) accepted signals without an order intent that are
        not on their way here: left by a process that stopped, or by an old leader that lost
        the trading lock between storing the signal and its intent — possibly after this
        leader's start-up, in the second before it noticed. The engine calls this on taking the
        lead and in every maintenance pass, with the lock's session (``leader_pid``) and key.
        Under the decision lock: whatever this executor has committed is then in the worker's
        hands.
        Returns the signals closed."""
        async with self.deciding, self.pool.acquire() as conn:
            held = list(self.worker.held)
            closed = await order_queries.close_orphans(
                conn, held, leader_pid, "interrupted_before_order", lock_key
            )
        if closed:
            log.warning("accepted signals without an order closed", extra={"signals": closed})
        return closed
