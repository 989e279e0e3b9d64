"""A signed order as the live broker records and sends it: the shares it carries (what the SDK
signed, rounded to its size precision) and its public fields (``POST /order``'s body, no key
material)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from polymarket.models import SignedOrder

SHARE_UNITS = Decimal(10**6)  # an order's amounts are in base units of 6 decimals


def signed_shares(signed: SignedOrder) -> Decimal:
    """The shares a signed order carries: what a SELL makes, what a BUY takes (amounts in base
    units, 6 decimals). The SDK rounds a limit order's size *down* to its size precision (0.01
    share on every tick: ``_compute_limit_order_amounts``), so an exit of a position holding a
    fraction of a hundredth of a share would be sent for less than was asked: the order is this
    size (its row, whether it filled whole), and what is left over is dust the position keeps.
    The decisions ask for that size already (:func:`orderflow.signals.sizing.order_shares`, the
    paper exchange's orders too); this stays the record of what was signed."""
    units = signed.maker_amount if signed.side == "SELL" else signed.taker_amount
    return Decimal(units) / SHARE_UNITS


def public_order(signed: SignedOrder) -> dict[str, Any]:
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
