"""The CLOB's id of a signed order: its EIP-712 hash under the exchange's domain.

The id is known before the order is sent, which is what makes orders idempotent: the executor
stores the possible ids with the intent and, after a crash, asks the exchange about them instead
of sending again. The domain's verifying contract depends on the market (standard or neg-risk
CLOB V2 exchange, or ExchangeV3 for Protocol V2 position ids); rather than guess, every candidate
is stored and looked up (an unknown id is a 404).
"""

from __future__ import annotations

from typing import Any

from eth_account.messages import encode_typed_data
from eth_utils.crypto import keccak

CTF_EXCHANGE_V2 = "0xE111180000d2663C0091e4f400237545B87B996B"
NEG_RISK_CTF_EXCHANGE_V2 = "0xe2222d279d744050d28e00520010520000310F59"
EXCHANGE_V3 = "0xe3333700cA9d93003F00f0F71f8515005F6c00Aa"
DOMAIN_NAME = "Polymarket CTF Exchange"

ORDER_FIELDS = [
    {"name": "salt", "type": "uint256"},
    {"name": "maker", "type": "address"},
    {"name": "signer", "type": "address"},
    {"name": "tokenId", "type": "uint256"},
    {"name": "makerAmount", "type": "uint256"},
    {"name": "takerAmount", "type": "uint256"},
    {"name": "side", "type": "uint8"},
    {"name": "signatureType", "type": "uint8"},
    {"name": "timestamp", "type": "uint256"},
    {"name": "metadata", "type": "bytes32"},
    {"name": "builder", "type": "bytes32"},
]
DOMAIN_FIELDS = [
    {"name": "name", "type": "string"},
    {"name": "version", "type": "string"},
    {"name": "chainId", "type": "uint256"},
    {"name": "verifyingContract", "type": "address"},
]


def order_message(order: dict[str, Any]) -> dict[str, Any]:
    """The EIP-712 message of an order in the CLOB's JSON shape (POST /order's ``order``)."""
    side = order["side"]
    return {
        "salt": int(order["salt"]),
        "maker": order["maker"],
        "signer": order["signer"],
        "tokenId": int(order["tokenId"]),
        "makerAmount": int(order["makerAmount"]),
        "takerAmount": int(order["takerAmount"]),
        "side": side if isinstance(side, int) else (0 if side == "BUY" else 1),
        "signatureType": int(order["signatureType"]),
        "timestamp": int(order["timestamp"]),
        "metadata": order["metadata"],
        "builder": order["builder"],
    }


def order_typed_data(
    order: dict[str, Any], *, exchange: str, version: str, chain_id: int
) -> dict[str, Any]:
    return {
        "types": {"EIP712Domain": DOMAIN_FIELDS, "Order": ORDER_FIELDS},
        "primaryType": "Order",
        "domain": {
            "name": DOMAIN_NAME,
            "version": version,
            "chainId": chain_id,
            "verifyingContract": exchange,
        },
        "message": order_message(order),
    }


def order_hash(order: dict[str, Any], *, exchange: str, version: str, chain_id: int) -> str:
    signable = encode_typed_data(
        full_message=order_typed_data(order, exchange=exchange, version=version, chain_id=chain_id)
    )
    digest = keccak(b"\x19" + signable.version + signable.header + signable.body)
    return "0x" + digest.hex()


def candidate_order_ids(order: dict[str, Any], *, chain_id: int = 137) -> tuple[str, ...]:
    return tuple(
        order_hash(order, exchange=exchange, version=version, chain_id=chain_id)
        for exchange, version in (
            (CTF_EXCHANGE_V2, "2"),
            (NEG_RISK_CTF_EXCHANGE_V2, "2"),
            (EXCHANGE_V3, "3"),
        )
    )
