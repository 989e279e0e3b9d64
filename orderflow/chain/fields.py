"""Parsing the JSON-RPC fields of a raw log: hex quantities, 32-byte words, address topics, data.

The decoders in ``decode.py`` call these; each raises :class:`FieldError` with a message naming
the field and what is wrong with it, which becomes the dead letter's reason. The hot paths
(``fill_topics``, ``log_index``) check the common shape cheaply and fall back to the strict
field-by-field parsers only when something looks off.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

_QUANTITY = re.compile(r"0x[0-9a-fA-F]{1,64}")
ZERO_PAD = "0" * 24


class FieldError(Exception):
    """Why a log cannot be decoded (becomes ``DeadLetter.reason``)."""


def quantity(value: Any, name: str) -> int:
    if type(value) is str:
        if _QUANTITY.fullmatch(value) is None:
            raise FieldError(f"{name} is not a 0x hex quantity: {value[:80]!r}")
        return int(value, 16)
    if type(value) is int and value >= 0:
        return value
    raise FieldError(f"{name} is missing or not a hex quantity ({type(value).__name__})")


def hash32(value: Any, name: str) -> str:
    if type(value) is not str or len(value) != 66 or value[:2] not in ("0x", "0X"):
        raise FieldError(f"{name} is not a 32-byte 0x hex string: {str(value)[:80]!r}")
    try:
        if len(bytes.fromhex(value[2:])) != 32:
            raise ValueError
    except ValueError:
        raise FieldError(f"{name} is not hex: {value!r}") from None
    return "0x" + value[2:].lower()


def topic_address(topic: str, name: str) -> str:
    word = hash32(topic, name)
    if word[2:26] != ZERO_PAD:
        raise FieldError(f"{name} topic is not an address (non-zero high bytes): {topic}")
    return "0x" + word[26:]


def topic0_of(raw: Mapping[str, Any]) -> str | None:
    """A raw log's topic0 in lower case, or None when its topics are missing or malformed."""
    topics = raw.get("topics")
    if isinstance(topics, list) and topics and isinstance(topics[0], str):
        return topics[0].lower()
    return None


def fill_topics(t: list[str]) -> tuple[str, str, str]:
    """orderHash, maker, taker from topics 1-3, checked with one ``fromhex`` (the hot path).

    Anything unusual falls through to the field-by-field parsers, which name the bad field.
    """
    t1, t2, t3 = t[1], t[2], t[3]
    try:
        if (
            len(t1) == len(t2) == len(t3) == 66
            and t1[:2] == t2[:2] == t3[:2] == "0x"
            and t2[2:26] == ZERO_PAD
            and t3[2:26] == ZERO_PAD
            and len(bytes.fromhex(t1[2:] + t2[26:] + t3[26:])) == 72
        ):
            return t1.lower(), "0x" + t2[26:].lower(), "0x" + t3[26:].lower()
    except (ValueError, TypeError):
        pass
    return (
        hash32(t1, "orderHash"),
        topic_address(t2, "maker"),
        topic_address(t3, "taker"),
    )


def data_words(raw: Mapping[str, Any], words: int, event: str) -> bytes:
    data = raw.get("data")
    if type(data) is not str or data[:2] not in ("0x", "0X"):
        raise FieldError(f"{event} data is missing or not 0x hex")
    try:
        payload = bytes.fromhex(data[2:])
    except ValueError:
        raise FieldError(f"{event} data is not hex") from None
    if len(payload) != 32 * words:
        raise FieldError(f"{event} data is {len(payload)} bytes, expected {32 * words}")
    return payload


def exact_topics(raw: Mapping[str, Any], count: int, event: str) -> list[str]:
    topics = raw["topics"]
    if len(topics) != count:
        raise FieldError(f"{event} has {len(topics)} topics, expected {count}")
    return topics  # type: ignore[no-any-return]


def word(payload: bytes, i: int) -> int:
    return int.from_bytes(payload[32 * i : 32 * i + 32], "big")


_INT64_BITS = 63
_MAX_PRICE = 10**10  # orderflow_trades.price is NUMERIC(20, 10)


def check_amounts(event: str, shares: int, collateral: int, fee: int) -> None:
    """Reject amounts the ledger's columns cannot hold (no real fill comes near them).

    The whole supply of USDC is below 2**63 base units, and a price is at most a few dollars a
    share; a log beyond either is corrupt or hostile and must not abort its batch's insert.
    """
    if (shares | collateral | fee) >> _INT64_BITS:
        raise FieldError(
            f"{event} amount exceeds 2**63 base units (shares={shares}, "
            f"collateral={collateral}, fee={fee})"
        )
    if shares and collateral >= shares * _MAX_PRICE:
        raise FieldError(f"{event} price {collateral}/{shares} does not fit NUMERIC(20, 10)")


def side_of(value: int, event: str) -> str:
    """The V2/V3 ``side`` word: 0 = BUY, 1 = SELL."""
    if value == 0:
        return "BUY"
    if value == 1:
        return "SELL"
    raise FieldError(f"{event} side is {value}, expected 0 (BUY) or 1 (SELL)")


# Bounds of the ledger's columns: log indexes are INTEGER, block numbers BIGINT. No real chain
# comes near either; a value beyond them is corrupt or hostile and must not reach the database.
MAX_LOG_INDEX = 2**31 - 1
MAX_BLOCK_NUMBER = 2**63 - 1


def bounded(value: Any, name: str, maximum: int) -> int:
    """A hex quantity no larger than ``maximum`` (the column it is stored in)."""
    number = quantity(value, name)
    if number > maximum:
        raise FieldError(f"{name} {number:#x} exceeds {maximum:#x}, the largest the ledger stores")
    return number


def log_index(value: Any) -> int:
    # Fast path for the common "0x…" string (at most 8 hex digits); anything odd takes the
    # strict parser, which also names a value out of range.
    if (
        type(value) is str
        and len(value) <= 10
        and value.isascii()
        and value.isalnum()
        and value[:2] == "0x"
    ):
        try:
            number = int(value, 16)
        except ValueError:
            pass
        else:
            if number <= MAX_LOG_INDEX:
                return number
    return bounded(value, "logIndex", MAX_LOG_INDEX)


def block_number(value: Any) -> int:
    return bounded(value, "blockNumber", MAX_BLOCK_NUMBER)
