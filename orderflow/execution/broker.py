"""The seam between deciding and trading: one protocol, a paper and a live implementation.

The executor picks the implementation once per strategy mode at start-up (``paper`` or ``live``)
and never branches on the mode again. An order goes through three steps, each with a record in
``orderflow_orders`` around it:

1. :meth:`Broker.prepare` builds the order (live: signs it with the SDK) and returns its client
   id and the exchange ids it may get; the executor stores this *intent* before sending;
2. :meth:`Broker.send` posts it and reports status and fills;
3. after a crash, :meth:`Broker.lookup` asks the exchange what became of an intent (None: the
   exchange never saw it, so it is abandoned, never resent).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal, Protocol

from orderflow.errors import ExecutionError

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
    fee_rate: Decimal = Decimal(0)  # the strategy's expected taker fee rate
    expires_in_secs: int = 300


@dataclass(frozen=True, slots=True)
class PreparedOrder:
    request: OrderRequest
    client_order_id: str
    candidate_order_ids: tuple[str, ...] = ()
    signed: dict[str, Any] | None = None  # public fields only; never a key
    handle: Any = None  # implementation detail (the SDK's SignedOrder); not stored


@dataclass(frozen=True, slots=True)
class FillReport:
    fill_key: str
    shares: Decimal
    usdc: Decimal
    fee: Decimal
    price: Decimal
    at: datetime
    fee_asset: Literal["COLLATERAL", "SHARES"] = "COLLATERAL"


@dataclass(frozen=True, slots=True)
class OrderOutcome:
    status: OrderStatus
    exchange_order_id: str | None = None
    reason: str | None = None
    filled_shares: Decimal = Decimal(0)  # cumulative, as the exchange reports it
    fills: tuple[FillReport, ...] = field(default=())


class OrderInDoubtError(ExecutionError):
    """The request may or may not have reached the exchange: reconcile, never resend blindly."""


class Broker(Protocol):
    mode: Mode

    async def prepare(self, request: OrderRequest) -> PreparedOrder: ...

    async def send(self, order: PreparedOrder) -> OrderOutcome: ...

    async def lookup(
        self, order_ids: tuple[str, ...], *, price: Decimal, filled_shares: Decimal
    ) -> OrderOutcome | None: ...

    async def cancel(self, order_ids: list[str]) -> list[str]: ...

    async def close(self) -> None: ...
