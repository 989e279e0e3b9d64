"""The inverse of decode: raw log objects exactly as Polymarket's contracts and a node emit them.

Used by the simulator (synthetic chains), the tests (hand-computed fixtures, round-trip
properties) and the ingest benchmark. Output matches ``eth_getLogs``: lower-case 0x hex,
quantities as minimal hex (``0x1a``), indexed fields in ``topics`` (addresses left-padded to 32
bytes), the rest ABI-encoded in ``data`` as 32-byte words, plus ``blockTimestamp`` as current
nodes add it (omit it with ``timestamp=None``).

This module encodes one event from its fields; :mod:`orderflow.chain.encode_trades` builds an
OrderFilled / OrdersMatched of any generation from a trade's terms (``encode_fill``,
``encode_match``), and :mod:`orderflow.chain.encode_ctf` the CTF's position events.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from orderflow.chain import contracts as c

ZERO32 = "0x" + "00" * 32
SideLike = Literal["BUY", "SELL", 0, 1]


@dataclass(frozen=True, slots=True)
class LogPosition:
    """Where an encoded log sits: block, transaction and log index."""

    block_number: int
    block_hash: str
    tx_hash: str
    log_index: int
    timestamp: int | None = None  # unix seconds; None = the node left blockTimestamp out
    tx_index: int = 0
    removed: bool = False


def _word(value: int) -> str:
    if not 0 <= value < 1 << 256:
        raise ValueError(f"not a uint256: {value}")
    return f"{value:064x}"


def _hash_topic(value: str) -> str:
    body = value[2:] if value.startswith("0x") else value
    if len(body) != 64:
        raise ValueError(f"not 32 bytes of hex: {value!r}")
    return "0x" + body.lower()


def _address_topic(address: str) -> str:
    body = address[2:] if address.startswith("0x") else address
    if len(body) != 40:
        raise ValueError(f"not an address: {address!r}")
    return "0x" + "0" * 24 + body.lower()


def _side_word(side: SideLike) -> int:
    if side in ("BUY", 0):
        return 0
    if side in ("SELL", 1):
        return 1
    raise ValueError(f"side must be BUY/SELL or 0/1, got {side!r}")


def raw_log(
    address: str, topics: Sequence[str], words: Sequence[int], at: LogPosition
) -> dict[str, Any]:
    """A log object shaped like a node's ``eth_getLogs`` result entry."""
    log: dict[str, Any] = {
        "address": address.lower(),
        "topics": list(topics),
        "data": "0x" + "".join(_word(w) for w in words),
        "blockNumber": hex(at.block_number),
        "blockHash": _hash_topic(at.block_hash),
        "transactionHash": _hash_topic(at.tx_hash),
        "transactionIndex": hex(at.tx_index),
        "logIndex": hex(at.log_index),
        "removed": at.removed,
    }
    if at.timestamp is not None:
        log["blockTimestamp"] = hex(at.timestamp)
    return log


def encode_order_filled_v1(
    *,
    at: LogPosition,
    order_hash: str,
    maker: str,
    taker: str,
    maker_asset_id: int,
    taker_asset_id: int,
    maker_amount: int,
    taker_amount: int,
    fee: int,
    exchange: str = c.V1_CTF_EXCHANGE,
) -> dict[str, Any]:
    """V1 OrderFilled: makerAssetId 0 means the maker gives collateral (a BUY)."""
    return raw_log(
        exchange,
        [
            c.TOPIC_ORDER_FILLED_V1,
            _hash_topic(order_hash),
            _address_topic(maker),
            _address_topic(taker),
        ],
        [maker_asset_id, taker_asset_id, maker_amount, taker_amount, fee],
        at,
    )


def encode_order_filled_v2(
    *,
    at: LogPosition,
    order_hash: str,
    maker: str,
    taker: str,
    side: SideLike,
    token_id: int,
    maker_amount: int,
    taker_amount: int,
    fee: int,
    builder: str = ZERO32,
    metadata: str = ZERO32,
    exchange: str = c.V2_CTF_EXCHANGE,
) -> dict[str, Any]:
    """CLOB V2 / ExchangeV3 OrderFilled (same layout; pass ``exchange=V3_EXCHANGE`` for V3)."""
    return raw_log(
        exchange,
        [
            c.TOPIC_ORDER_FILLED_V2,
            _hash_topic(order_hash),
            _address_topic(maker),
            _address_topic(taker),
        ],
        [
            _side_word(side),
            token_id,
            maker_amount,
            taker_amount,
            fee,
            int(_hash_topic(builder), 16),
            int(_hash_topic(metadata), 16),
        ],
        at,
    )


def encode_orders_matched_v1(
    *,
    at: LogPosition,
    taker_order_hash: str,
    taker_order_maker: str,
    maker_asset_id: int,
    taker_asset_id: int,
    maker_amount: int,
    taker_amount: int,
    exchange: str = c.V1_CTF_EXCHANGE,
) -> dict[str, Any]:
    return raw_log(
        exchange,
        [
            c.TOPIC_ORDERS_MATCHED_V1,
            _hash_topic(taker_order_hash),
            _address_topic(taker_order_maker),
        ],
        [maker_asset_id, taker_asset_id, maker_amount, taker_amount],
        at,
    )


def encode_orders_matched_v2(
    *,
    at: LogPosition,
    taker_order_hash: str,
    taker_order_maker: str,
    side: SideLike,
    token_id: int,
    maker_amount: int,
    taker_amount: int,
    exchange: str = c.V2_CTF_EXCHANGE,
) -> dict[str, Any]:
    return raw_log(
        exchange,
        [
            c.TOPIC_ORDERS_MATCHED_V2,
            _hash_topic(taker_order_hash),
            _address_topic(taker_order_maker),
        ],
        [_side_word(side), token_id, maker_amount, taker_amount],
        at,
    )


def encode_token_registered(
    *,
    at: LogPosition,
    token0: int,
    token1: int,
    condition_id: str,
    exchange: str = c.V1_CTF_EXCHANGE,
) -> dict[str, Any]:
    return raw_log(
        exchange,
        [
            c.TOPIC_TOKEN_REGISTERED,
            "0x" + _word(token0),
            "0x" + _word(token1),
            _hash_topic(condition_id),
        ],
        [],
        at,
    )


def encode_condition_preparation(
    *,
    at: LogPosition,
    condition_id: str,
    oracle: str,
    question_id: str,
    outcome_slot_count: int,
    ctf: str = c.CONDITIONAL_TOKENS,
) -> dict[str, Any]:
    return raw_log(
        ctf,
        [
            c.TOPIC_CONDITION_PREPARATION,
            _hash_topic(condition_id),
            _address_topic(oracle),
            _hash_topic(question_id),
        ],
        [outcome_slot_count],
        at,
    )


def encode_condition_resolution(
    *,
    at: LogPosition,
    condition_id: str,
    oracle: str,
    question_id: str,
    payout_numerators: Sequence[int],
    ctf: str = c.CONDITIONAL_TOKENS,
) -> dict[str, Any]:
    """ConditionResolution; ``payoutNumerators`` is a dynamic array (offset, length, items)."""
    n = len(payout_numerators)
    return raw_log(
        ctf,
        [
            c.TOPIC_CONDITION_RESOLUTION,
            _hash_topic(condition_id),
            _address_topic(oracle),
            _hash_topic(question_id),
        ],
        [n, 64, n, *payout_numerators],
        at,
    )


def encode_fee_refunded(
    *,
    at: LogPosition,
    order_hash: str,
    to: str,
    token_id: int,
    refund: int,
    fee_charged: int,
    module: str = "0xe3f18acc55091e2c48d883fc8c8413319d4ab7b0",
) -> dict[str, Any]:
    """FeeModule v2.0.0 (2025): FeeRefunded(bytes32 indexed orderHash, address indexed to,
    uint256 id, uint256 refund, uint256 indexed feeCharged)."""
    return raw_log(
        module,
        [
            c.TOPIC_FEE_REFUNDED,
            _hash_topic(order_hash),
            _address_topic(to),
            "0x" + _word(fee_charged),
        ],
        [token_id, refund],
        at,
    )


def encode_fee_refunded_2023(
    *,
    at: LogPosition,
    token: str,
    to: str,
    token_id: int,
    amount: int,
    module: str = "0x56c79347e95530c01a2fc76e732f9566da16e113",
) -> dict[str, Any]:
    """FeeModule (2023): FeeRefunded(address token, address to, uint256 id, uint256 amount),
    nothing indexed: four data words."""
    return raw_log(
        module,
        [c.TOPIC_FEE_REFUNDED_2023],
        [int(_address_topic(token), 16), int(_address_topic(to), 16), token_id, amount],
        at,
    )
