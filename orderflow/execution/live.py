"""Live trading on Polymarket's CLOB V2 through the official SDK (PyPI ``polymarket-client``).

Orders are GTD limit orders at the decided price (observed price plus the allowed slippage, on the
market's tick): they fill at that price or better, and a remainder expires on its own a few
minutes later instead of resting forever. The SDK looks up the market's tick size and neg-risk
flag, builds the V2 order (salt, maker, signer, amounts, side, signature type, timestamp,
metadata, builder), signs it (EIP-712) and authenticates requests with L2 HMAC headers.

Only this module imports the SDK; the rest of the executor sees the :class:`Broker` protocol.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from polymarket import AsyncSecureClient, PolymarketError, RequestRejectedError
from polymarket.environments import PRODUCTION
from polymarket.models import AcceptedOrder, ApiKeyCreds, SignedOrder

from orderflow.errors import ConfigError, ExecutionError
from orderflow.execution.broker import (
    FillReport,
    Mode,
    OrderInDoubtError,
    OrderOutcome,
    OrderRequest,
    OrderStatus,
    PreparedOrder,
)
from orderflow.execution.credentials import WALLET_TYPE_SIGNATURE, LiveCredentials
from orderflow.execution.order_ids import candidate_order_ids

log = logging.getLogger(__name__)
MIN_EXPIRY_SECS = 200  # the SDK wants GTD expirations at least 180 s ahead


def _environment(clob_url: str | None) -> Any:
    if clob_url is None:
        return PRODUCTION
    # The SDK has no public constructor for environments; its internal helper is the one place
    # that builds one (used for a staging or test CLOB only).
    from polymarket._internal.environment import get_environment_config, with_environment_config

    config = dataclasses.replace(get_environment_config(PRODUCTION), clob_url=clob_url)
    return with_environment_config(PRODUCTION, config=config)


def _public_order(signed: SignedOrder) -> dict[str, Any]:
    """The order as POST /order sends it: public fields, no key material."""
    return {
        "salt": signed.salt,
        "maker": signed.maker,
        "signer": signed.signer,
        "tokenId": str(signed.token_id),
        "makerAmount": str(signed.maker_amount),
        "takerAmount": str(signed.taker_amount),
        "side": signed.side,
        "signatureType": signed.signature_type,
        "timestamp": str(signed.timestamp),
        "expiration": str(signed.expiration),
        "metadata": signed.metadata,
        "builder": signed.builder,
        "signature": signed.signature,
        "orderType": signed.order_type,
    }


# The CLOB's order statuses, by exact value (``ORDER_STATUS_`` prefix and case removed). A
# substring match once mapped UNMATCHED to FILLED. Anything unknown stays OPEN: the order keeps
# being reconciled (and counted as exposure) until the exchange says more.
_STATUSES: dict[str, OrderStatus] = {
    "LIVE": "OPEN",
    "DELAYED": "OPEN",
    "MATCHED": "FILLED",
    "UNMATCHED": "CANCELED",  # a marketable order that found nothing to match: nothing filled
    "CANCELED": "CANCELED",
    "CANCELLED": "CANCELED",
    "CANCELED_MARKET_RESOLVED": "CANCELED",
    "INVALID": "CANCELED",
    "EXPIRED": "CANCELED",
}


def order_status(raw: str) -> OrderStatus:
    """The executor's status for a CLOB order status string."""
    value = raw.strip().upper().removeprefix("ORDER_STATUS_")
    status = _STATUSES.get(value)
    if status is None:
        log.warning("unknown CLOB order status; kept open", extra={"status": raw})
        return "OPEN"
    return status


async def open_live_broker(creds: LiveCredentials) -> LiveBroker:
    """Authenticate with the CLOB (deriving API credentials if none are given)."""
    if creds.private_key is None:
        raise ConfigError("live mode needs POLY_PRIVATE_KEY in the executor's environment")
    api = None
    if creds.api_key and creds.api_secret and creds.api_passphrase:
        api = ApiKeyCreds.model_validate(
            {
                "apiKey": creds.api_key.get_secret_value(),
                "secret": creds.api_secret.get_secret_value(),
                "passphrase": creds.api_passphrase.get_secret_value(),
            }
        )
    key = creds.private_key.get_secret_value()
    wallet = creds.funder
    if wallet is None and creds.signature_type in (None, 0):
        from eth_account import Account

        try:
            wallet = Account.from_key(key).address
        except (ValueError, TypeError):
            raise ConfigError("POLY_PRIVATE_KEY is not a valid private key") from None
    try:
        client = await AsyncSecureClient.create(
            private_key=key,
            wallet=wallet,
            environment=_environment(creds.clob_url),
            credentials=api,
        )
    except PolymarketError as exc:
        # The SDK's messages never contain the key, but stay on the safe side: type only.
        raise ExecutionError(f"cannot authenticate with the CLOB: {type(exc).__name__}") from None
    declared = creds.signature_type
    actual = WALLET_TYPE_SIGNATURE.get(str(client.wallet_type))
    if declared is not None and actual != declared:
        await client.close()
        raise ConfigError(
            f"POLY_SIGNATURE_TYPE={declared} but the funder is a {client.wallet_type} wallet "
            f"of this key (signature type {actual})"
        )
    return LiveBroker(client)


class LiveBroker:
    mode: Mode = "live"

    def __init__(self, client: AsyncSecureClient, *, chain_id: int = 137) -> None:
        self.client = client
        self.chain_id = chain_id

    async def prepare(self, request: OrderRequest) -> PreparedOrder:
        expiration = int(time.time()) + max(MIN_EXPIRY_SECS, request.expires_in_secs)
        try:
            signed = await self.client.create_limit_order(
                token_id=str(request.token_id),
                price=request.price,
                size=request.shares,
                side=request.side,
                expiration=expiration,
            )
        except PolymarketError as exc:
            raise ExecutionError(f"cannot build the order: {type(exc).__name__}: {exc}") from None
        public = _public_order(signed)
        return PreparedOrder(
            request=request,
            client_order_id=str(signed.salt),
            candidate_order_ids=candidate_order_ids(public, chain_id=self.chain_id),
            signed=public,
            handle=signed,
        )

    async def send(self, order: PreparedOrder) -> OrderOutcome:
        try:
            response = await self.client.post_order(order.handle)
        except RequestRejectedError as exc:
            if exc.status is not None and 400 <= exc.status < 500 and exc.status != 408:
                return OrderOutcome(status="REJECTED", reason=f"http {exc.status}: {exc}")
            raise OrderInDoubtError(f"order post failed: {type(exc).__name__}") from None
        except PolymarketError as exc:
            raise OrderInDoubtError(f"order post failed: {type(exc).__name__}") from None
        if not isinstance(response, AcceptedOrder):
            return OrderOutcome(status="REJECTED", reason=f"{response.code}: {response.message}")
        req = order.request
        fills: tuple[FillReport, ...] = ()
        filled = Decimal(0)
        if response.status == "matched" and response.taking_amount > 0:
            # BUY: we make collateral and take shares; SELL the reverse.
            if req.side == "BUY":
                shares, usdc = response.taking_amount, response.making_amount
            else:
                shares, usdc = response.making_amount, response.taking_amount
            price = (usdc / shares) if shares else req.price
            fee = (shares * req.fee_rate * price * (1 - price)).quantize(Decimal("0.000001"))
            fills = (
                FillReport(
                    fill_key=f"{response.order_id}:{shares}",
                    shares=shares,
                    usdc=usdc,
                    fee=fee,
                    price=price,
                    at=datetime.now(UTC),
                ),
            )
            filled = shares
        status: OrderStatus = "FILLED" if filled >= req.shares else "OPEN"
        return OrderOutcome(
            status=status,
            exchange_order_id=str(response.order_id),
            filled_shares=filled,
            fills=fills,
        )

    async def lookup(
        self, order_ids: tuple[str, ...], *, price: Decimal, filled_shares: Decimal
    ) -> OrderOutcome | None:
        for order_id in order_ids:
            try:
                found = await self.client.get_order(order_id=order_id)
            except RequestRejectedError as exc:
                if exc.status == 404:
                    continue
                raise OrderInDoubtError(f"order lookup failed: http {exc.status}") from None
            except PolymarketError as exc:
                raise OrderInDoubtError(f"order lookup failed: {type(exc).__name__}") from None
            matched = found.size_matched
            fills: tuple[FillReport, ...] = ()
            if matched > filled_shares:
                delta = matched - filled_shares
                fills = (
                    FillReport(
                        fill_key=f"{order_id}:{matched}",
                        shares=delta,
                        usdc=(delta * found.price).quantize(Decimal("0.000001")),
                        fee=Decimal(0),
                        price=found.price,
                        at=datetime.now(UTC),
                    ),
                )
            status = order_status(found.status)
            if status == "OPEN" and matched >= found.original_size:
                status = "FILLED"
            return OrderOutcome(
                status=status, exchange_order_id=order_id, filled_shares=matched, fills=fills
            )
        return None

    async def cancel(self, order_ids: list[str]) -> list[str]:
        if not order_ids:
            return []
        try:
            response = await self.client.cancel_orders(order_ids=order_ids)
        except PolymarketError as exc:
            raise ExecutionError(f"cancel failed: {type(exc).__name__}: {exc}") from None
        return [str(o) for o in response.canceled]

    async def close(self) -> None:
        await self.client.close()
