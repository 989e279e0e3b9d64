"""A live broker standing in for the logged-in one: every order call goes to the broker it
stands for (:meth:`DelegatingBroker._target`), once there is one. Shared by the broker that
keeps logging in after a start-up the CLOB did not answer
(:class:`~orderflow.execution.live_pending.PendingLiveBroker`) and the one that logs in on first
use when nothing was live (:class:`~orderflow.execution.live_lazy.LazyLiveBroker`); each says
what its calls do before then, and what its book reads and order heartbeat do."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from orderflow.errors import ExecutionError
from orderflow.execution.broker import (
    AccountFills,
    Broker,
    CancelResult,
    Collateral,
    ExchangeFill,
    Mode,
    OrderOutcome,
    OrderRequest,
    PreparedOrder,
    WalletShares,
)
from orderflow.execution.redeem import CanRedeem, Redeemer
from orderflow.execution.signer_pacing import SignerPacing, pacing_of


class DelegatingBroker:
    """The order calls of a live broker, each sent to :meth:`_target`."""

    mode: Mode = "live"
    _broker: Broker | None = None  # the logged-in broker, once there is one
    _wallet: str | None = None  # the wallet the credentials name, known before the log-in

    def redeem_wallet(self) -> str | None:
        """The logged-in broker's wallet, or the one the credentials name (None: not known
        before the log-in, a deposit wallet the SDK looks up)."""
        broker: object = self._broker
        if isinstance(broker, CanRedeem):
            return broker.redeem_wallet()
        return self._wallet

    @property
    def pacing(self) -> SignerPacing | None:
        """The logged-in broker's signer pacing (None before the log-in)."""
        return pacing_of(self._broker)

    async def _target(self) -> Broker:
        """The logged-in broker, or the error a call meets until there is one."""
        raise NotImplementedError

    async def prepare(self, request: OrderRequest) -> PreparedOrder:
        return await (await self._target()).prepare(request)

    async def send(self, order: PreparedOrder) -> OrderOutcome:
        return await (await self._target()).send(order)

    async def lookup(self, order_ids: tuple[str, ...]) -> OrderOutcome | None:
        return await (await self._target()).lookup(order_ids)

    async def fills(self, order_ids: Collection[str], since: datetime) -> AccountFills:
        return await (await self._target()).fills(order_ids, since)

    async def trade(self, trade_id: str, order_ids: Collection[str]) -> list[ExchangeFill]:
        return await (await self._target()).trade(trade_id, order_ids)

    async def cancel(self, order_ids: list[str]) -> CancelResult:
        return await (await self._target()).cancel(order_ids)

    async def check_credentials(self) -> None:
        await (await self._target()).check_credentials()

    async def collateral(self, token_ids: Collection[int]) -> Collateral | None:
        return await (await self._target()).collateral(token_ids)

    async def wallet_shares(self, token_id: int, *, refresh: bool = False) -> WalletShares | None:
        return await (await self._target()).wallet_shares(token_id, refresh=refresh)

    async def redeemer(self) -> Redeemer:
        target = await self._target()
        if not isinstance(target, CanRedeem):
            raise ExecutionError("this live broker cannot redeem")
        return await target.redeemer()
