"""The seam between deciding and trading: one protocol, a paper and a live implementation.

The executor picks the implementation once per strategy mode at start-up (``paper`` or ``live``)
and never branches on the mode again. An order goes through three steps, each with a record in
``orderflow_orders`` around it:

1. :meth:`Broker.prepare` builds the order (live: signs it with the SDK) and returns its client
   id and the exchange ids it may get; the executor stores this *intent* before sending;
2. :meth:`Broker.send` posts it and reports status and fills;
3. reconciliation asks the exchange what became of it: :meth:`Broker.lookup` reads the order's
   status (None: the order endpoint does not show it, which on the real CLOB also means "fully
   matched"), :meth:`Broker.fills` reads the account's trades, the one complete record of fills
   (of resting orders too). An intent the exchange may have seen is never resent: it stays in
   doubt until its expiry has passed and the trades show no fill.

Before deciding, the executor asks the broker for the traded market's own rules
(:meth:`Broker.market_rules`: its minimum order size, tick and taker fee schedule; live: read
from the exchange and cached, paper: none, the strategy's own settings apply).

A matched trade still has to settle on chain (MATCHED → MINED → CONFIRMED, or RETRYING → FAILED):
:meth:`Broker.trade` reads one trade's settlement status, until it is final
(:mod:`orderflow.execution.trade_status` reverses a booked fill whose trade FAILED).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal, Protocol

from orderflow.errors import ExecutionError
from orderflow.signals.views import FeeSchedule
from orderflow.strategy.settings import DEFAULT_ORDER_TTL_SECS

Mode = Literal["paper", "live"]
OrderStatus = Literal["OPEN", "FILLED", "CANCELED", "REJECTED"]


@dataclass(frozen=True, slots=True)
class OrderRequest:
    """A limit BUY (or SELL) of ``shares`` at most at ``price`` (on the market's tick)."""

    strategy: str
    token_id: int
    side: Literal["BUY", "SELL"]
    price: Decimal
    shares: Decimal
    observed_price: Decimal
    market_id: str | None = None
    # The taker fee schedule the decision priced with (the market's, else the strategy's rate
    # with exponent 1): a placement fill's fee. Paper stores the rate alone (its decisions
    # never have a market's schedule: the exponent is 1).
    fee_rate: Decimal = Decimal(0)
    fee_exponent: Decimal = Decimal(1)
    expires_in_secs: int = DEFAULT_ORDER_TTL_SECS  # the executor sets the strategy's own


@dataclass(frozen=True, slots=True)
class PreparedOrder:
    request: OrderRequest
    client_order_id: str
    candidate_order_ids: tuple[str, ...] = ()
    signed: dict[str, Any] | None = None  # public fields only; never a key
    handle: Any = None  # implementation detail (the SDK's SignedOrder); not stored


@dataclass(frozen=True, slots=True)
class FillReport:
    """One fill of an order. ``fill_key`` is the exchange's trade id (several, comma-joined,
    when a placement response reports the total of several trades), ``"paper"`` for paper.
    ``trade_status`` is the trade's settlement status when the trades endpoint reported it
    (``MATCHED``, ``MINED``, ``RETRYING``, ``CONFIRMED``, ``FAILED``, …); None for a placement
    fill (just matched) and for paper."""

    fill_key: str
    shares: Decimal
    usdc: Decimal
    fee: Decimal
    price: Decimal
    at: datetime
    fee_asset: Literal["COLLATERAL", "SHARES"] = "COLLATERAL"
    trade_status: str | None = None


@dataclass(frozen=True, slots=True)
class OrderOutcome:
    status: OrderStatus
    exchange_order_id: str | None = None
    reason: str | None = None
    filled_shares: Decimal = Decimal(0)  # cumulative, as the exchange reports it
    fills: tuple[FillReport, ...] = field(default=())
    # A REJECTED for a rate limit: the seconds the exchange asked to wait (``Retry-After``)
    retry_after: float | None = None
    # OPEN with its matching not done at the exchange (answered ``delayed``, shown ``DELAYED`` or
    # ``UNMATCHED``): it may still take, and pay the taker fee (migration 088).
    may_take: bool = False
    # What the exchange says matched of the order (its order endpoint's ``size_matched``): a
    # closed BUY counts what matched beyond its booked fills until the trades list them
    # (migration 089); 0: not known.
    matched_shares: Decimal = Decimal(0)


@dataclass(frozen=True, slots=True)
class ExchangeFill:
    """A fill of one of our orders as the account's trades report it."""

    order_id: str  # the exchange's order id (its EIP-712 hash)
    fill: FillReport


@dataclass(frozen=True, slots=True)
class AccountFills:
    """Our fills in the account's trades, and the orders (of those asked about) that a trade
    the exchange reported but that could not be read names: each may have a fill not in
    ``fills``, so it is in doubt (never closed short while so)."""

    fills: list[ExchangeFill] = field(default_factory=list)
    unreadable: frozenset[str] = frozenset()


# The real CLOB's answer to a cancel of an order it does not hold — never placed, or done:
# matched, cancelled, expired ("order can't be found - already canceled or matched"; also
# answered without its prefix, "already canceled or matched", which was read as a refusal:
# tests/execution/test_kill_forgotten.py's short words).
_NOT_HELD = re.compile(
    r"can(?:'|\u2019|no)t be found|order not found|already cancel+ed or matched", re.IGNORECASE
)


@dataclass(frozen=True, slots=True)
class CancelResult:
    canceled: tuple[str, ...] = ()
    # The others, with the exchange's reason: unknown or no longer live ("order can't be found -
    # already canceled or matched"), or held by the exchange (an order it holds UNMATCHED).
    not_canceled: Mapping[str, str] = field(default_factory=dict)


def not_held(not_canceled: Mapping[str, str], order_ids: Collection[str]) -> bool:
    """Whether the exchange answered a cancel of each of these ids (``not_canceled``: its
    answers, by id) saying that it holds no such order; any other refusal, or no answer: it
    may hold it."""
    answers = [not_canceled.get(i) for i in order_ids]
    return bool(answers) and all(a is not None and _NOT_HELD.search(a) for a in answers)


@dataclass(frozen=True, slots=True)
class MarketRules:
    """What the exchange accepts in one market: orders of at least ``min_order_size`` shares
    (BUY or SELL), prices on ``tick_size``; and what it charges a taker (``fee``: the market's
    schedule; None when it states none, or a rate of 0); None where not known."""

    min_order_size: Decimal | None = None
    tick_size: Decimal | None = None
    fee: FeeSchedule | None = None


@dataclass(frozen=True, slots=True)
class BookTop:
    """A token's book as the exchange showed it at ``read_at`` (``time.monotonic()``): its
    ``asks`` (what a BUY meets) and ``bids`` (what a SELL meets) as (price, shares) levels, best
    first."""

    asks: tuple[tuple[Decimal, Decimal], ...]
    bids: tuple[tuple[Decimal, Decimal], ...]
    read_at: float

    @property
    def ask(self) -> Decimal | None:
        """The lowest ask, None: nobody offers."""
        return self.asks[0][0] if self.asks else None

    @property
    def bid(self) -> Decimal | None:
        """The highest bid, None: nobody bids."""
        return self.bids[0][0] if self.bids else None


@dataclass(frozen=True, slots=True)
class WalletShares:
    """What the exchange reported (``GET /balance-allowance?asset_type=CONDITIONAL``) of the
    wallet ``wallet`` (the funder, an order's ``maker``; lower case): its balance of one
    outcome token, in shares, whole (not net of the SELLs resting on it)."""

    wallet: str
    token_id: int
    shares: Decimal


@dataclass(frozen=True, slots=True)
class Collateral:
    """What the exchange reported (``GET /balance-allowance``) of the wallet ``wallet`` (the
    funder, an order's ``maker``) at ``read_at`` (``time.monotonic()``): its collateral
    ``balance`` and its ``allowances`` to the exchange contracts (lower-case address: dollars);
    and ``exchanges``, the contract that settles each token's market (lower-case address: the
    CTF exchange for a standard market, the neg-risk CTF exchange for a neg-risk one,
    ExchangeV3 for a Protocol V2 position id), for the tokens asked about whose market is known.

    A BUY spends what the wallet allows *its* exchange: :meth:`spendable`."""

    wallet: str
    balance: Decimal
    allowances: Mapping[str, Decimal] = field(default_factory=dict)
    exchanges: Mapping[int, str] = field(default_factory=dict)
    read_at: float = 0.0

    def unknown(self, token_id: int) -> str | None:
        """Why the allowance a BUY of ``token_id`` may spend is not known (None: it is): its
        market's exchange not known, or the reply naming no allowance to it."""
        exchange = self.exchanges.get(token_id)
        if exchange is None:
            return f"the exchange of token {token_id} not known"
        if exchange not in self.allowances:
            return f"no allowance to {exchange} reported"
        return None

    def spendable(self, token_id: int) -> Decimal:
        """What a BUY of ``token_id`` may spend: the balance capped by the wallet's allowance
        to the exchange that settles the token's market; 0 when that allowance is not known
        (:meth:`unknown`): nothing is assumed."""
        if self.unknown(token_id) is not None:
            return Decimal(0)
        allowed = self.allowances[self.exchanges[token_id]]
        return max(Decimal(0), min(self.balance, allowed))


class ExchangeAnswerError(ExecutionError):
    """An exchange call that did not go through; ``retry_after``: the seconds the exchange
    asked to wait before the next request (its ``Retry-After``), None when it did not say;
    ``status``: its HTTP status, when it answered with one."""

    def __init__(
        self, message: str, *, retry_after: float | None = None, status: int | None = None
    ) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.status = status


class OrderInDoubtError(ExchangeAnswerError):
    """The request may or may not have reached the exchange: reconcile, never resend blindly
    (a 503's ``Retry-After`` still holds the next orders of the mode)."""


class ExchangeBusyError(ExchangeAnswerError):
    """The exchange did not process the request (5xx, 429, no connection): retry later —
    ``retry_after`` seconds later at the soonest when it said so (``Retry-After``)."""


class CredentialsRefusedError(ExchangeBusyError):
    """The exchange refused our API credentials (401, 403): nothing was processed, and asking
    again will not help until the key is fixed (rotated, re-derived, the executor restarted
    with it) — :mod:`orderflow.execution.key_watch`."""


class Broker(Protocol):
    mode: Mode

    async def prepare(self, request: OrderRequest) -> PreparedOrder: ...

    async def send(self, order: PreparedOrder) -> OrderOutcome: ...

    async def lookup(self, order_ids: tuple[str, ...]) -> OrderOutcome | None:
        """The order's status under the first id the order endpoint knows (no fills: those
        come from :meth:`fills`); None when it shows none of them."""
        ...

    async def fills(self, order_ids: Collection[str], since: datetime) -> AccountFills:
        """Our fills of these orders since ``since``, from the account's trades (trades that
        FAILED on chain are left out: they are not fills), and those of the orders that a trade
        that cannot be read names (live: one the SDK's model refuses)."""
        ...

    async def trade(self, trade_id: str, order_ids: Collection[str]) -> list[ExchangeFill]:
        """Our part(s) of one trade (as fills of these orders), with its settlement status in
        ``fill.trade_status``; empty when the exchange does not show it."""
        ...

    async def cancel(self, order_ids: list[str]) -> CancelResult: ...

    async def check_credentials(self) -> None:
        """One authenticated read: raises :class:`CredentialsRefusedError` while the exchange
        refuses our API key (:mod:`orderflow.execution.key_watch`); paper: nothing to check."""
        ...

    async def market_rules(self, token_id: int) -> MarketRules | None:
        """The market's own minimum order size, tick and fee schedule, None when not known (no
        source, or the exchange could not be asked: the strategy's settings apply). Never
        raises."""
        ...

    async def read_book(self, token_id: int) -> None:
        """Read the token's book now, for :meth:`book_top` (live: ``GET /book``, which also
        refreshes the market's rules; not while reads of it are paused after a failure);
        nothing where there is no book (paper). Never raises."""
        ...

    def book_top(self, token_id: int) -> BookTop | None:
        """The best levels :meth:`read_book` found within the last ``BOOK_TOP_MAX_AGE_SECS``
        (:mod:`orderflow.execution.market_rules`); None: no such read (paper, a failed read)."""
        ...

    async def collateral(self, token_ids: Collection[int]) -> Collateral | None:
        """The wallet's collateral balance and allowances as the exchange reports them now,
        with the exchange that settles each of ``token_ids``' markets (live: ``GET
        /balance-allowance``, :mod:`orderflow.execution.wallet`); None: no wallet (paper).
        Raises :class:`ExchangeAnswerError` when the exchange does not tell."""
        ...

    async def wallet_shares(self, token_id: int, *, refresh: bool = False) -> WalletShares | None:
        """The wallet's balance of the outcome token as the exchange reports it now (live:
        ``GET /balance-allowance?asset_type=CONDITIONAL&token_id=``, base units of 6 decimals:
        :mod:`orderflow.execution.wallet_shares`); ``refresh``: the exchange first asked to
        read it again from the chain (``GET /balance-allowance/update``: the CLOB caches it).
        None: no wallet (paper). Raises :class:`ExchangeAnswerError` when the exchange does not
        tell."""
        ...

    async def order_heartbeat(self) -> bool:
        """Tell the exchange we are alive (live: the CLOB's order heartbeat, its dead man's
        switch: once one is accepted it cancels every open order of our API key when none has
        come for about 10 s; :mod:`orderflow.execution.order_heartbeat`); paper: nothing.
        True when the exchange took it as a new registration of the key (taken with an empty
        id: it held none — its switch had lapsed, every order of the key resting then
        cancelled, or it was never armed); False otherwise (paper: always). Raises
        :class:`ExchangeBusyError` when the exchange did not take it."""
        ...

    async def close(self) -> None: ...
