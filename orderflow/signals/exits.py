"""Following the leader out: a FOLLOW_WHALE position is sold when the wallet it followed sells.

Or leaves without selling: a BUY of the token's complement by that wallet is the sale it is
economically (:func:`leaving`: the pair merges into collateral), and exits the position alike.

The entry copied a skilled wallet's judgement that the token is underpriced; when that wallet
sells the token, the judgement is withdrawn, so the strategy sells its whole position too (an
exit signal: ``FOLLOW_WHALE`` with side ``SELL``, reason ``exit_with_leader``). The sell is a
limit at the observed price minus ``paper_slippage_bps``, rounded *down* to the tick.

* paused strategies still exit (pausing stops new positions, it does not freeze risk);
* killed strategies send nothing: the exit is recorded SKIPPED ``strategy_killed``;
* the sell is of the position's shares rounded down to 0.01 (:func:`~orderflow.signals.sizing.
  order_shares`, the size the SDK signs; paper sells the same): a fraction of a hundredth of a
  share left over is dust, held to resolution as below;
* a position smaller than the market's minimum order size (5 shares for most markets, 15 or
  more for some: ``market.min_order_size``, which the live executor reads from the exchange, else
  the strategy's ``min_order_size``; what is left of a partly filled entry) cannot be sold on the
  CLOB, which refuses the order (``Size (3) lower than the minimum: 5``): nothing is sent, the
  exit is recorded SKIPPED ``exit_below_min_size`` and the position is held to resolution, where
  settlement closes it at its payout (paper trades alike) — unless a new entry in its market
  (which such dust does not refuse: :mod:`orderflow.signals.risk`) adds to it: the position then
  follows that entry's leader, whose sell exits it whole;
* a resolved market is not exited: settlement closes the position at its payout;
* an exit that left the position open (refused by the exchange — a 429 is one —, never sent,
  expired partly filled) is tried again while the leader is gone: :func:`exit_due`, after
  :data:`RETRY_FIRST` doubling to :data:`RETRY_MAX` (a new signal each try, ``attempt`` 1, 2,
  ... on the leader's latest sell); never after ``exit_below_min_size``, nor after
  ``strategy_killed`` while the strategy is still killed (unkilled, the exit is made: the leader
  is still gone); once an hour only after :data:`REFUSED_IN_A_ROW` refusals of the order itself
  in a row.

Positions opened by FADE_DEGEN are held to resolution (the faded wallet's later trades say
nothing about the bet).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from orderflow.signals.decide import Decision
from orderflow.signals.quotes import is_level
from orderflow.signals.risk import Reason
from orderflow.signals.rules import SignalType
from orderflow.signals.sizing import (
    USDC_STEP,
    Sizing,
    dec,
    decision_fee,
    fee_per_share,
    min_order_shares,
    order_shares,
)
from orderflow.signals.views import MarketView, StrategyBook, TradeView
from orderflow.strategy.settings import StrategySettings

_BPS = Decimal(10_000)
# How long after a failed exit it is tried again: doubling from the first to the last.
RETRY_FIRST = timedelta(seconds=5)
RETRY_MAX = timedelta(minutes=5)
# Exits not tried again: a position under the minimum order size cannot be sold (the exchange
# refuses it every time). One skipped because the strategy was killed is not tried again while
# it is killed (it sends nothing), and is once it is not.
_FINAL = frozenset({Reason.EXIT_BELOW_MIN_SIZE.value})
# An exit the exchange refused this many times in a row for a reason of its own (not a rate
# limit, our credentials nor the matching engine restarting: ``refused_as_such``) is tried once
# every RETRY_REFUSED only: the same refusal (no shares or allowance in the wallet, a closed
# market, a tick that changed...) would come back every RETRY_MAX for as long as the position
# is held. A new sell of the leader still makes its exit at once. Not while a buy of the
# position has a trade still settling (MATCHED, RETRYING): its shares may not be in the wallet
# yet ("not enough balance / allowance" right after a filled buy), and the exit is due again
# within RETRY_MAX of that, not an hour after.
REFUSED_IN_A_ROW = 5
RETRY_REFUSED = timedelta(hours=1)
_REJECTED = "order_rejected: "
# Rate limited, key refused, no answer; the exchange taking no order now (its matching engine
# restarting: 425, weekly, about 90 s; cancel-only or post-only: 503 — the SDK's trading
# restrictions); the post-only phase after a restart refusing an order that is not post-only
# (the SDK's code ``post_only_mode``).
_TRANSIENT = ("http 429", "http 401", "http 408", "http 425", "http 503", "post_only_mode")


def refused_as_such(reason: str | None) -> bool:
    """Whether an exit's reason is the exchange refusing the order itself (``order_rejected:
    not enough balance / allowance``, ``invalid tick size``...): not a rate limit, a refused
    API key nor the matching engine restarting, which say nothing about the order."""
    if reason is None or not reason.startswith(_REJECTED):
        return False
    return not reason.removeprefix(_REJECTED).startswith(_TRANSIENT)


def refusals_in_a_row(recent: tuple[str | None, ...]) -> int:
    """How many of the latest exits (``recent``, newest first) the exchange refused as such."""
    n = 0
    for reason in recent:
        if not refused_as_such(reason):
            break
        n += 1
    return n


@dataclass(frozen=True, slots=True)
class ExitsTried:
    """An open FOLLOW_WHALE position whose leader has sold since our entry: the leader's
    latest sell, and the exits tried so far (on that sell, and in all)."""

    sell_id: int
    on_sell: int  # exits tried on the latest sell: the next one's attempt number
    tried: int
    live: bool  # an exit still under way (decided, or its order resting or in doubt)
    last_reason: str | None
    # How long ago the last try ended, on one clock: the database stamps the end, and the
    # database's present is what it is measured against (not the executor's clock).
    since_ended: timedelta | None
    # The reasons of the latest exits tried (newest first; at most REFUSED_IN_A_ROW of them)
    # since the position's buys' trades last changed settlement status (live).
    recent: tuple[str | None, ...] = ()
    # A buy of the position has a trade not settled on chain yet (live: MATCHED, RETRYING).
    unsettled: bool = False

    @property
    def refused_again(self) -> bool:
        """The exchange refused the last REFUSED_IN_A_ROW exits as such, the position's buys
        all settled: tried hourly."""
        return not self.unsettled and refusals_in_a_row(self.recent) >= REFUSED_IN_A_ROW


def retry_pause(tried: int) -> timedelta:
    """How long after the end of the last of ``tried`` exits that left the position open the
    next is due: :data:`RETRY_FIRST`, doubling to :data:`RETRY_MAX` (the executor's
    :func:`exit_due` and the backtest's replay of it)."""
    return min(RETRY_MAX, RETRY_FIRST * (1 << min(max(tried, 1) - 1, 16)))


def exit_due(exits: ExitsTried, *, killed: bool = False) -> bool:
    """Whether the position must be exited now: its leader's sell found nothing to exit (the
    entry's fill was booked after it), or every exit tried left it open and the pause after the
    last one has passed. ``killed``: the strategy is killed now — an exit skipped for a kill is
    not tried again until it is lifted (it used to be never tried again: unkilled, the strategy
    held what its leader had left, to resolution)."""
    if exits.live:
        return False
    if exits.tried == 0 or exits.since_ended is None:
        return True
    if exits.last_reason in _FINAL or (killed and exits.last_reason == Reason.KILLED.value):
        return False
    pause = retry_pause(exits.tried)
    if exits.refused_again:
        pause = RETRY_REFUSED
    return exits.since_ended >= pause


@dataclass(frozen=True, slots=True)
class HeldPosition:
    """An open position and who it followed in (the wallet of its latest entry's signal)."""

    token_id: int
    shares: Decimal
    leader: str | None
    signal_type: str | None


def after_on_chain(trade: TradeView, other: TradeView) -> bool:
    """Whether ``trade`` comes after ``other`` on the chain: a later block, or the same block at
    a later log index (:func:`orderflow.signals.market_queries.left_since`'s order, never the
    order the rows were stored in); by row id only when a block is not known (hand-built
    views)."""
    if trade.block_number is not None and other.block_number is not None:
        return (trade.block_number, trade.log_index) > (other.block_number, other.log_index)
    return (trade.id or 0) > (other.id or 0)


def left_token(trade: TradeView, complement: int | None) -> int | None:
    """The token ``trade``'s wallet leaves by it: a SELL's own; a BUY's ``complement`` (its
    token's, when known and another token); None: none (:func:`leaving`), and none by a fill of
    no shares, which the chain emits (tests/chain/test_zero_fills.py) and which moves nothing:
    until 6 Dec 2026 a leader's "sale" of 0 shares sold the position that followed it
    (tests/signals/test_zero_share_exits.py; the SQL's rule: ``left_since``)."""
    if trade.size <= 0:
        return None
    if trade.side == "SELL":
        return trade.token_id
    if complement is None or complement == trade.token_id:
        return None
    return complement


def leaving(trade: TradeView) -> TradeView | None:
    """``trade`` as its wallet leaving a token, or None: a SELL leaves its token; a BUY of a
    token whose complement is known leaves the complement — the buyer of NO holding YES merges
    the pair into collateral, a sale of YES at 1 - the NO price (the rule and why any size:
    :func:`orderflow.signals.market_queries.left_since`). The BUY is read as that sale
    (``mirrored``): the complement's token, outcome and price, side SELL; its place on the chain
    and its key (an exit's signal is keyed by it, as by a SELL) are the BUY's own."""
    left = left_token(trade, trade.complement)
    if left is None or trade.side == "SELL":
        return None if left is None else trade
    price = 1 - trade.price
    return replace(
        trade,
        side="SELL",
        token_id=left,
        complement=trade.token_id,
        outcome_index=1 - trade.outcome_index if trade.outcome_index in (0, 1) else None,
        price=price,
        usdc_size=(trade.size * price).quantize(USDC_STEP),
        is_taker=trade.is_taker,
        mirrored=True,
    )


def exit_floor(leader_price: Decimal, settings: StrategySettings, tick: Decimal) -> Decimal:
    """The lowest price an exit sells at: the leader's sale less ``max_price_move`` (the move
    an entry allows too: ``price_moved``), up to the tick."""
    lowest = leader_price - dec(settings.max_price_move)
    return (lowest / tick).to_integral_value(rounding=ROUND_CEILING) * tick


def exit_price(
    observed: Decimal, settings: StrategySettings, tick: Decimal, floor: Decimal = Decimal(0)
) -> Decimal:
    """The exit's limit: ``observed`` (the bid) less the slippage, down to the tick, never
    below ``floor`` (:func:`exit_floor`)."""
    slipped = observed * (1 - dec(settings.paper_slippage_bps) / _BPS)
    price = max((slipped / tick).to_integral_value(rounding=ROUND_FLOOR) * tick, floor)
    return min(max(price, tick), 1 - tick)


def exit_decision(
    trade: TradeView,
    held: HeldPosition | None,
    market: MarketView,
    book: StrategyBook,
    settings: StrategySettings,
    now: datetime,
) -> Decision | None:
    """The exit a fill triggers, or None (not our leader selling a token we hold)."""
    if trade.side != "SELL" or held is None or held.shares <= 0:
        return None
    if held.signal_type != SignalType.FOLLOW_WHALE.value or held.leader != trade.wallet:
        return None
    if market.resolved:
        return None
    inputs = {
        "exit": {
            "leader_sell_price": str(trade.price),
            "leader_sell_size": str(trade.size),
            "held_shares": str(held.shares),
            "last_price": None if market.last_price is None else str(market.last_price),
            "quote_from": market.quote_from,
            "age_secs": round((now - trade.timestamp).total_seconds(), 3),
        }
    }
    if trade.mirrored:  # the leader left by buying the complement, at 1 - the price above
        inputs["exit"]["leader_bought_complement"] = str(trade.complement)
    signal = SignalType.FOLLOW_WHALE
    if book.killed:
        return Decision(signal, "SKIPPED", Reason.KILLED, inputs=inputs, side="SELL")
    min_size = min_order_shares(market, settings)
    # The order sells what the SDK signs of the position (live and paper alike): the rest, a
    # fraction of a hundredth of a share, is dust held to resolution.
    shares = order_shares(held.shares)
    if shares < min_size:
        # The exchange refuses any order under the market's minimum, so the sell is not sent
        # (it would be refused every time the leader sells): the position is held to resolution.
        inputs["exit"]["min_order_size"] = str(min_size)
        return Decision(signal, "SKIPPED", Reason.EXIT_BELOW_MIN_SIZE, inputs=inputs, side="SELL")
    observed = market.last_price or (trade.price if is_level(trade.price) else None)
    if observed is None:
        # No bid seen, and the leader's sale is at no price (for no collateral: a price of 0,
        # no level): until 6 Dec 2026 the exit went out at it, clamped to one tick (0.01).
        return Decision(signal, "SKIPPED", Reason.NO_PRICE, inputs=inputs, side="SELL")
    tick = market.tick_size or dec(settings.tick_size)
    # Never below the leader's sale less the move allowed: a try after the book fell (the rest
    # of an exit the top of the book did not take, expired) rests there instead of selling
    # into whatever bids are left (0.04 for shares the leader sold at 0.49). A sale at no price
    # (a level's: 0 for no collateral, a print at 1.00) sets no floor.
    floor = exit_floor(trade.price, settings, tick) if is_level(trade.price) else Decimal(0)
    inputs["exit"]["floor"] = str(floor)
    price = exit_price(observed, settings, tick, floor)
    fee = decision_fee(market, settings)
    sizing = Sizing(
        price=price,
        all_in_price=price - fee_per_share(price, fee.rate, fee.exponent),
        kelly_f=Decimal(0),
        stake_usd=Decimal(0),
        shares=shares,
        size_usdc=(shares * price).quantize(USDC_STEP),
        capped_by=(),
    )
    return Decision(
        signal, "PENDING", Reason.EXIT_WITH_LEADER, sizing=sizing, inputs=inputs, side="SELL"
    )
