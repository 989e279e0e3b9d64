"""The CLOB stand-in's signature checks, written from the exchange's published rules (polymarket
facts §6), independently of the executor's code:

* L1 auth (``POST /auth/api-key``, ``GET /auth/derive-api-key``): the ``ClobAuthDomain`` EIP-712
  signature must recover to ``POLY_ADDRESS`` (:func:`l1_address`);
* L2 auth (everything under an API key): ``POLY_API_KEY`` and ``POLY_PASSPHRASE`` must match and
  ``POLY_SIGNATURE`` must be the URL-safe base64 HMAC-SHA256, keyed with the base64 secret, of
  ``timestamp + method + path + body`` (:func:`l2_creds`);
* an order's id is its EIP-712 hash (:func:`order_hash`), under the domain "Polymarket CTF
  Exchange" version 2 on the standard or neg-risk exchange of the token's market, or version 3 on
  ExchangeV3 (:func:`exchange_for`); the HTTP layer checks it recovers to ``signer``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_utils.crypto import keccak

STANDARD_EXCHANGE = "0xE111180000d2663C0091e4f400237545B87B996B"
NEG_RISK_EXCHANGE = "0xe2222d279d744050d28e00520010520000310F59"
EXCHANGE_V3 = "0xe3333700cA9d93003F00f0F71f8515005F6c00Aa"
CHAIN_ID = 137
AUTH_MESSAGE = "This message attests that I control the given wallet"
_ORDER_TYPE = [
    {"name": n, "type": t}
    for n, t in (
        ("salt", "uint256"),
        ("maker", "address"),
        ("signer", "address"),
        ("tokenId", "uint256"),
        ("makerAmount", "uint256"),
        ("takerAmount", "uint256"),
        ("side", "uint8"),
        ("signatureType", "uint8"),
        ("timestamp", "uint256"),
        ("metadata", "bytes32"),
        ("builder", "bytes32"),
    )
]


@dataclass
class Creds:
    address: str
    key: str
    secret: str
    passphrase: str


def l1_address(h: Mapping[str, str]) -> str | None:
    """The address whose ``ClobAuth`` signature these headers carry (None: not a valid one)."""
    try:
        address, signature = h["POLY_ADDRESS"], h["POLY_SIGNATURE"]
        timestamp, nonce = h["POLY_TIMESTAMP"], int(h["POLY_NONCE"])
    except (KeyError, ValueError):
        return None
    typed = {
        "domain": {"name": "ClobAuthDomain", "version": "1", "chainId": CHAIN_ID},
        "types": {
            "EIP712Domain": [
                {"name": "name", "type": "string"},
                {"name": "version", "type": "string"},
                {"name": "chainId", "type": "uint256"},
            ],
            "ClobAuth": [
                {"name": "address", "type": "address"},
                {"name": "timestamp", "type": "string"},
                {"name": "nonce", "type": "uint256"},
                {"name": "message", "type": "string"},
            ],
        },
        "primaryType": "ClobAuth",
        "message": {
            "address": address,
            "timestamp": timestamp,
            "nonce": nonce,
            "message": AUTH_MESSAGE,
        },
    }
    signer = Account.recover_message(encode_typed_data(full_message=typed), signature=signature)
    return address if signer.lower() == address.lower() else None


def l2_creds(
    creds_by_address: Mapping[str, Creds], h: Mapping[str, str], method: str, path: str, body: str
) -> tuple[Creds | None, str]:
    """The API key these L2 headers sign with, or None and what is wrong with them."""
    creds = creds_by_address.get(h.get("POLY_ADDRESS", "").lower())
    if creds is None or h.get("POLY_API_KEY") != creds.key:
        return None, "Unauthorized/Invalid api key"  # the real CLOB's 401
    if h.get("POLY_PASSPHRASE") != creds.passphrase:
        return None, "bad passphrase"
    timestamp = h.get("POLY_TIMESTAMP", "")
    if not timestamp.isdigit() or abs(int(timestamp) - time.time()) > 60:
        return None, "stale timestamp"
    message = f"{timestamp}{method}{path}{body}"
    secret = base64.urlsafe_b64decode(creds.secret + "=" * (-len(creds.secret) % 4))
    digest = hmac.new(secret, message.encode(), hashlib.sha256).digest()
    expected = base64.urlsafe_b64encode(digest).decode()
    if not hmac.compare_digest(expected, h.get("POLY_SIGNATURE", "")):
        return None, "bad HMAC signature"
    return creds, ""


def exchange_for(token_id: int, neg_risk: bool) -> tuple[str, str]:
    """ExchangeV3 for structured Protocol V2 ids (their 64 reserved bits are zero), else the
    standard or neg-risk CLOB V2 exchange; with the domain's version."""
    reserved = (token_id >> 40) & ((1 << 64) - 1)
    if reserved == 0:
        return EXCHANGE_V3, "3"
    return (NEG_RISK_EXCHANGE if neg_risk else STANDARD_EXCHANGE), "2"


def order_hash(order: dict[str, Any], exchange: str, version: str = "2") -> tuple[str, Any]:
    """The order's id (its EIP-712 hash) and the signable message its signature recovers from."""
    typed = {
        "types": {
            "EIP712Domain": [
                {"name": "name", "type": "string"},
                {"name": "version", "type": "string"},
                {"name": "chainId", "type": "uint256"},
                {"name": "verifyingContract", "type": "address"},
            ],
            "Order": _ORDER_TYPE,
        },
        "primaryType": "Order",
        "domain": {
            "name": "Polymarket CTF Exchange",
            "version": version,
            "chainId": CHAIN_ID,
            "verifyingContract": exchange,
        },
        "message": {
            "salt": int(order["salt"]),
            "maker": order["maker"],
            "signer": order["signer"],
            "tokenId": int(order["tokenId"]),
            "makerAmount": int(order["makerAmount"]),
            "takerAmount": int(order["takerAmount"]),
            "side": 0 if order["side"] == "BUY" else 1,
            "signatureType": int(order["signatureType"]),
            "timestamp": int(order["timestamp"]),
            "metadata": order["metadata"],
            "builder": order["builder"],
        },
    }
    signable = encode_typed_data(full_message=typed)
    digest = keccak(b"\x19" + signable.version + signable.header + signable.body)
    return "0x" + digest.hex(), signable
