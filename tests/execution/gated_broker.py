"""A slow exchange for the executor's tests: a broker whose ``prepare`` (building an order) or
``send`` (placing it) waits at a gate until the test lets it through.

It wraps whatever broker it is given (the paper one, usually) and passes every call on to it,
so it holds an order at that step and changes nothing else."""

from __future__ import annotations

import asyncio
from collections.abc import Collection
from datetime import datetime
from typing import Literal

from orderflow.execution.broker import (
    AccountFills,
    BookTop,
    Broker,
    CancelResult,
    Collateral,
    ExchangeFill,
    MarketRules,
    OrderOutcome,
    OrderRequest,
    PreparedOrder,
    WalletShares,
)


class GatedBroker:
    """``broker`` with its ``holds`` step gated: ``reached`` is set when an order gets there,
    and the order waits until ``gate`` is set."""

    def __init__(self, broker: Broker, holds: Literal["prepare", "send"]) -> None:
        self.broker = broker
        self.mode = broker.mode
        self.holds = holds
        self.reached = asyncio.Event()
        self.gate = asyncio.Event()

    async def _step(self, step: Literal["prepare", "send"]) -> None:
        if step == self.holds:
            self.reached.set()
            await self.gate.wait()

    async def prepare(self, request: OrderRequest) -> PreparedOrder:
        await self._step("prepare")
        return await self.broker.prepare(request)

    async def send(self, order: PreparedOrder) -> OrderOutcome:
        await self._step("send")
        return await self.broker.send(order)

    async def lookup(self, order_ids: tuple[str, ...]) -> OrderOutcome | None:
        return await self.broker.lookup(order_ids)

    async def fills(self, order_ids: Collection[str], since: datetime) -> AccountFills:
        return await self.broker.fills(order_ids, since)

    async def trade(self, trade_id: str, order_ids: Collection[str]) -> list[ExchangeFill]:
        return await self.broker.trade(trade_id, order_ids)

    async def cancel(self, order_ids: list[str]) -> CancelResult:
        return await self.broker.cancel(order_ids)

    async def check_credentials(self) -> None:
        await self.broker.check_credentials()

    async def market_rules(self, token_id: int) -> MarketRules | None:
        return await self.broker.market_rules(token_id)

    async def read_book(self, token_id: int) -> None:
        await self.broker.read_book(token_id)

    def book_top(self, token_id: int) -> BookTop | None:
        return self.broker.book_top(token_id)

    async def collateral(self, token_ids: Collection[int]) -> Collateral | None:
        return await self.broker.collateral(token_ids)

    async def wallet_shares(self, token_id: int, *, refresh: bool = False) -> WalletShares | None:
        return await self.broker.wallet_shares(token_id, refresh=refresh)

    async def order_heartbeat(self) -> bool:
        return await self.broker.order_heartbeat()

    async def close(self) -> None:
        await self.broker.close()
