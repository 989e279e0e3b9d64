"""Who the backtest follows: the strategy (the executor's own decision code) and two baselines.

* :class:`StrategyFollower` calls :func:`orderflow.signals.evaluate` — signal rules, win
  probability from the wallet's measured edge, Kelly sizing, every risk limit — exactly as the
  executor does for a live fill.
* :class:`BaselineFollower` ignores scores: it follows taker BUYs of every wallet
  (``follow-all``) or of a seeded random subset of wallets (``follow-random``) with a fixed
  stake, through the executor's same market and book risk gates, ``leader_exited``, minimum
  sizes (:func:`orderflow.signals.sizing.below_min_buy`) and the same entry-price rule (the
  book's best price plus slippage, rounded up to the tick), so the only difference from the
  strategy is *whom* it follows and how much it stakes. Baselines make no exits: their positions
  are held to resolution, whoever sells and how. (The engine offers followers taker rows, and a
  maker row only when it is a held FOLLOW_WHALE position's leader selling through a resting
  order — an exit, never an entry — decided a latency later against the revealed book:
  :mod:`orderflow.backtest.engine`.)
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Literal, Protocol

from orderflow.signals import StrategyBook, classify, evaluate
from orderflow.signals.decide import Decision
from orderflow.signals.exits import HeldPosition, exit_decision
from orderflow.signals.risk import Reason, book_gates, market_gates
from orderflow.signals.sizing import (
    USDC_STEP,
    below_min_buy,
    dec,
    entry_price,
    fee_per_share,
    min_order_shares,
    order_shares,
)
from orderflow.signals.views import MarketView, TradeView, WalletView
from orderflow.strategy.settings import StrategySettings

# Entries that follow the wallet of their trigger: what rests of one is cancelled when that wallet
# leaves the token (the executor's leader-exit cancel of FOLLOW_WHALE entries,
# ``orderflow.execution.switch_queries.left_behind``; the baselines', as they skip
# ``leader_exited`` like it). A fade (FADE_DEGEN) follows nobody.
FOLLOWING = frozenset({"FOLLOW_WHALE", "FOLLOW_ALL", "FOLLOW_RANDOM"})


@dataclass(frozen=True, slots=True)
class Intent:
    """A follower's decision on one fill; ``accepted`` ones are paper-filled."""

    signal_type: str
    accepted: bool
    reason: str
    shares: Decimal = Decimal(0)
    price: Decimal | None = None
    confidence: float | None = None
    win_probability: float | None = None
    side: Literal["BUY", "SELL"] = "BUY"  # SELL: an exit of a position the book holds

    @property
    def status(self) -> str:
        """As the executor records it: a stale signal EXPIRED, another refusal SKIPPED."""
        if self.accepted:
            return "EXECUTED"
        return "EXPIRED" if self.reason == "stale" else "SKIPPED"


# Per held token: its position — its shares, the wallet it followed in and the signal type that
# opened it (the executor's holdings: what is held, never what is on order).
Leaders = Mapping[int, HeldPosition]


class Follower(Protocol):
    name: str
    settings: StrategySettings

    def wants(self, trade: TradeView, wallet: WalletView, market: MarketView) -> bool:
        """Cheap pre-check: can this fill be a signal at all? (Skips building the book view.)"""
        ...

    def exit(
        self,
        sale: TradeView,
        market: MarketView,
        book: StrategyBook,
        now: datetime,
        leaders: Leaders,
    ) -> Intent | None:
        """``sale`` (a SELL, or a BUY of the complement read as one) as the exit of the position
        held in its token, or None: no exit."""
        ...

    def decide(
        self,
        trade: TradeView,
        wallet: WalletView,
        market: MarketView,
        book: StrategyBook,
        now: datetime,
    ) -> Intent | None:
        """``trade`` as an entry, or None: no signal."""
        ...


class StrategyFollower:
    """The strategy under test: the executor's pure pipeline, unchanged.

    Like the executor, a fill of the wallet a FOLLOW_WHALE position followed in that leaves its
    token (a SELL, or a BUY of the complement read as one: :func:`orderflow.signals.exits.leaving`)
    is offered to :func:`orderflow.signals.exits.exit_decision` (:meth:`exit`: sell the position
    too); every fill it wants, that one included, goes to :func:`orderflow.signals.evaluate` as
    an entry (:meth:`decide`) — the engine decides both in one pass, the exit first.
    """

    def __init__(self, settings: StrategySettings, name: str = "strategy") -> None:
        self.name = name
        self.settings = settings

    def wants(self, trade: TradeView, wallet: WalletView, market: MarketView) -> bool:
        return trade.side == "SELL" or classify(trade, wallet, market, self.settings) is not None

    def exit(
        self,
        sale: TradeView,
        market: MarketView,
        book: StrategyBook,
        now: datetime,
        leaders: Leaders,
    ) -> Intent | None:
        held = leaders.get(sale.token_id)
        if held is None:
            return None
        decision = exit_decision(sale, held, market, book, self.settings, now)
        return None if decision is None else _intent(decision)

    def decide(
        self,
        trade: TradeView,
        wallet: WalletView,
        market: MarketView,
        book: StrategyBook,
        now: datetime,
    ) -> Intent | None:
        decision = evaluate(trade, wallet, market, book, self.settings, now)
        return None if decision is None else _intent(decision)


def _intent(decision: Decision) -> Intent:
    return Intent(
        signal_type=decision.signal_type.value,
        accepted=decision.accepted,
        reason=decision.reason.value,
        shares=decision.shares,
        price=decision.price,
        confidence=decision.confidence,
        win_probability=decision.win_probability,
        side=decision.side,
    )


def in_random_subset(address: str, seed: int, share: float) -> bool:
    """Stable, seeded membership: the same wallets are drawn whenever they first appear.

    Drawing per address (a hash of seed and address) needs no list of future wallets, so the
    random baseline has no look-ahead either.
    """
    digest = hashlib.sha256(f"{seed}:{address}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < share


class BaselineFollower:
    """Follow BUY fills of every wallet, or of a random subset, with a fixed stake."""

    def __init__(
        self,
        settings: StrategySettings,
        *,
        name: str,
        stake_usd: Decimal,
        random_share: float | None = None,
        seed: int = 0,
    ) -> None:
        self.name = name
        self.settings = settings
        self.stake = stake_usd
        self.random_share = random_share
        self.seed = seed
        self.signal_type = "FOLLOW_ALL" if random_share is None else "FOLLOW_RANDOM"
        self._min_trigger = dec(settings.min_trigger_usd)

    def wants(self, trade: TradeView, wallet: WalletView, market: MarketView) -> bool:
        if trade.side != "BUY" or trade.usdc_size < self._min_trigger:
            return False
        return self.random_share is None or in_random_subset(
            trade.wallet, self.seed, self.random_share
        )

    def exit(
        self,
        sale: TradeView,
        market: MarketView,
        book: StrategyBook,
        now: datetime,
        leaders: Leaders,
    ) -> Intent | None:
        return None  # held to resolution, whoever sells

    def decide(
        self,
        trade: TradeView,
        wallet: WalletView,
        market: MarketView,
        book: StrategyBook,
        now: datetime,
    ) -> Intent | None:
        s = self.settings
        if not self.wants(trade, wallet, market):
            return None
        gate = market_gates(trade, market, book, s, now)
        if gate is None and market.leader_exited:
            gate = Reason.LEADER_EXITED  # as the executor skips a whale's buy sold since
        gate = gate or book_gates(trade, book, s, min_order_shares(market, s))
        if gate is not None:
            return Intent(self.signal_type, False, gate.value)
        assert market.last_price is not None  # market_gates refused otherwise
        tick = market.tick_size or dec(s.tick_size)
        price = entry_price(market.last_price, s, tick)
        all_in = price + fee_per_share(price, dec(s.taker_fee_rate))
        room = max(
            Decimal(0), dec(s.max_market_exposure_usd) - book.market_exposure(market.market_id)
        )
        stake = min(self.stake, room)
        # never more than its cash, fee included, as the strategy's stake (size_position)
        cash = None if book.cash is None else max(Decimal(0), book.cash)
        if cash is not None and stake > cash:
            stake = cash
        shares = order_shares(stake / all_in)
        if below_min_buy(shares, (shares * price).quantize(USDC_STEP), market, s):
            why = Reason.BANKROLL_SPENT if stake == cash else Reason.BELOW_MIN_SIZE
            return Intent(self.signal_type, False, why.value)
        return Intent(self.signal_type, True, "accepted", shares=shares, price=price)
