"""Migration 002 made the hex domain checks fast; they must still accept exactly the same values."""

from __future__ import annotations

import asyncpg
import pytest

GOOD_HASH = "0x" + "0123456789abcdef" * 4
GOOD_ADDRESS = "0x" + "0123456789" * 4


@pytest.mark.parametrize(
    ("domain", "value", "ok"),
    [
        ("evm_hash", GOOD_HASH, True),
        ("evm_hash", GOOD_HASH.upper().replace("0X", "0x"), False),
        ("evm_hash", GOOD_HASH[:-1], False),
        ("evm_hash", GOOD_HASH + "0", False),
        ("evm_hash", GOOD_HASH[:-1] + "g", False),
        ("evm_hash", "1x" + GOOD_HASH[2:], False),
        ("evm_hash", GOOD_HASH[:-1] + "\n", False),
        ("evm_address", GOOD_ADDRESS, True),
        ("evm_address", GOOD_ADDRESS[:-2], False),
        ("evm_address", GOOD_ADDRESS[:-1] + "A", False),
        ("evm_address", "0x" + " " * 40, False),
    ],
)
async def test_hex_domains_accept_exactly_lower_case_hex(
    pool: asyncpg.Pool, domain: str, value: str, ok: bool
) -> None:
    query = f"SELECT $1::text::{domain}"
    if ok:
        assert await pool.fetchval(query, value) == value
    else:
        with pytest.raises(asyncpg.CheckViolationError):
            await pool.fetchval(query, value)
