"""Trade-level encoders: an OrderFilled / OrdersMatched of any generation from a trade's terms.

The simulator's entry point (and the tests' and the ingest benchmark's): (side, shares,
collateral) are mapped onto the generation's order fields, then encoded by the per-event
encoders of :mod:`orderflow.chain.encode`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from orderflow.chain import contracts as c
from orderflow.chain.contracts import ExchangeVersion
from orderflow.chain.encode import (
    LogPosition,
    SideLike,
    _side_word,
    encode_order_filled_v1,
    encode_order_filled_v2,
    encode_orders_matched_v1,
    encode_orders_matched_v2,
)

__all__ = ["encode_fill", "encode_match", "encode_taker_order"]


@dataclass(frozen=True, slots=True)
class _Terms:
    """A trade's terms in an order's fields: a BUY gives collateral (makerAmount) for shares
    (takerAmount), a SELL the reverse; V1 says which side by which asset id is 0 (collateral)."""

    maker_asset_id: int
    taker_asset_id: int
    maker_amount: int
    taker_amount: int
    exchange: str

    @classmethod
    def of(
        cls,
        version: ExchangeVersion,
        side: SideLike,
        token_id: int,
        shares: int,
        collateral: int,
        exchange: str | None,
    ) -> _Terms:
        buy = _side_word(side) == 0
        return cls(
            maker_asset_id=0 if buy else token_id,
            taker_asset_id=token_id if buy else 0,
            maker_amount=collateral if buy else shares,
            taker_amount=shares if buy else collateral,
            exchange=_venue(version, exchange),
        )


def _venue(version: ExchangeVersion, exchange: str | None) -> str:
    """``exchange``, or the generation's exchange contract when None."""
    default = {"V1": c.V1_CTF_EXCHANGE, "V2": c.V2_CTF_EXCHANGE}.get(version, c.V3_EXCHANGE)
    return exchange or default


def encode_fill(
    version: ExchangeVersion,
    *,
    at: LogPosition,
    order_hash: str,
    maker: str,
    taker: str,
    side: SideLike,
    token_id: int,
    shares: int,
    collateral: int,
    fee: int = 0,
    exchange: str | None = None,
) -> dict[str, Any]:
    """An OrderFilled of any generation from a trade's terms (the simulator's entry point).

    Maps (side, shares, collateral) onto the generation's fields: a BUY gives collateral
    (makerAmount) for shares (takerAmount), a SELL the reverse; V1 encodes the side as which
    asset id is 0.
    """
    terms = _Terms.of(version, side, token_id, shares, collateral, exchange)
    if version == "V1":
        return encode_order_filled_v1(
            at=at,
            order_hash=order_hash,
            maker=maker,
            taker=taker,
            maker_asset_id=terms.maker_asset_id,
            taker_asset_id=terms.taker_asset_id,
            maker_amount=terms.maker_amount,
            taker_amount=terms.taker_amount,
            fee=fee,
            exchange=terms.exchange,
        )
    return encode_order_filled_v2(
        at=at,
        order_hash=order_hash,
        maker=maker,
        taker=taker,
        side=side,
        token_id=token_id,
        maker_amount=terms.maker_amount,
        taker_amount=terms.taker_amount,
        fee=fee,
        exchange=terms.exchange,
    )


def encode_match(
    version: ExchangeVersion,
    *,
    at: LogPosition,
    taker_order_hash: str,
    taker_order_maker: str,
    side: SideLike,
    token_id: int,
    shares: int,
    collateral: int,
    exchange: str | None = None,
) -> dict[str, Any]:
    """An OrdersMatched of any generation from the taker order's terms."""
    terms = _Terms.of(version, side, token_id, shares, collateral, exchange)
    if version == "V1":
        return encode_orders_matched_v1(
            at=at,
            taker_order_hash=taker_order_hash,
            taker_order_maker=taker_order_maker,
            maker_asset_id=terms.maker_asset_id,
            taker_asset_id=terms.taker_asset_id,
            maker_amount=terms.maker_amount,
            taker_amount=terms.taker_amount,
            exchange=terms.exchange,
        )
    return encode_orders_matched_v2(
        at=at,
        taker_order_hash=taker_order_hash,
        taker_order_maker=taker_order_maker,
        side=side,
        token_id=token_id,
        maker_amount=terms.maker_amount,
        taker_amount=terms.taker_amount,
        exchange=terms.exchange,
    )


def encode_taker_order(
    version: ExchangeVersion,
    *,
    fill_at: LogPosition,
    match_at: LogPosition,
    order_hash: str,
    taker: str,
    side: SideLike,
    token_id: int,
    shares: int,
    collateral: int,
    fee: int = 0,
    exchange: str | None = None,
) -> list[dict[str, Any]]:
    """A taker order's own logs after its makers' fills: its OrderFilled (the taker wallet as
    the order's maker, the exchange as its taker, the fee) and the OrdersMatched that closes the
    match."""
    venue = _venue(version, exchange)
    return [
        encode_fill(
            version,
            at=fill_at,
            order_hash=order_hash,
            maker=taker,
            taker=venue,
            side=side,
            token_id=token_id,
            shares=shares,
            collateral=collateral,
            fee=fee,
            exchange=venue,
        ),
        encode_match(
            version,
            at=match_at,
            taker_order_hash=order_hash,
            taker_order_maker=taker,
            side=side,
            token_id=token_id,
            shares=shares,
            collateral=collateral,
            exchange=venue,
        ),
    ]
