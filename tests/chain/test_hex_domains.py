"""Migration 002 made the hex domain checks fast; they must still accept exactly the same values."""

from __future__ import annotations

import random
import re

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


# Migration 108: the checks read the length in bytes. The set each domain accepts must stay the
# one 001 wrote ('^0x[0-9a-f]{64}$' / '{40}'): compared string by string, over hostile strings,
# with that rule evaluated by PostgreSQL and with a plain Python statement of it.
_HEX = "0123456789abcdef"
_OTHERS = (
    "A",  # upper case
    "X",
    "g",
    " ",
    "\t",
    "\n",
    "\r",
    "\u0663",  # ARABIC-INDIC DIGIT THREE: a digit to str.isdigit, not to the rule
    "\uff41",  # FULLWIDTH LATIN SMALL LETTER A
    "\u00b2",  # SUPERSCRIPT TWO
    "\u00e9",  # two bytes in UTF-8
    "\u20ac",  # three
    "\U0001f600",  # four
)


def _rule(value: str, digits: int) -> bool:
    """The domains' rule: '0x' then exactly ``digits`` lower-case ASCII hex digits, nothing
    else (no trailing newline: Python's ``$`` would accept one, PostgreSQL's does not)."""
    return len(value) == 2 + digits and value.startswith("0x") and all(c in _HEX for c in value[2:])


def _hostile(digits: int) -> list[str]:
    good = "0x" + (_HEX * 5)[:digits]
    out = [good, good.upper(), "0X" + good[2:], good[:-1], good + "0", good[1:], "x" + good]
    out += ["", "0x", "0x" + "0" * (digits - 1) + "\n", good + "\n", "\n" + good[1:]]
    out += [good[:-1] + "\n", good[:-2] + "\r\n", " " + good[1:], good[:-1] + " "]
    for other in _OTHERS:
        out.append(good[:-1] + other)  # as many characters, perhaps more bytes
        out.append("0x" + other + good[3:])
        width = len(other.encode())
        if width > 1:  # as many bytes, fewer characters
            out.append(good[: len(good) - width] + other)
    return out


def _fuzz(digits: int, n: int) -> list[str]:
    """Near misses: the good string with one to three positions replaced, its length moved."""
    rng = random.Random(digits)
    alphabet = _HEX + "".join(_OTHERS) + "xX"
    out = []
    for _ in range(n):
        chars = list("0x" + "".join(rng.choice(_HEX) for _ in range(digits)))
        for _ in range(rng.randint(0, 3)):
            chars[rng.randrange(len(chars))] = rng.choice(alphabet)
        if rng.random() < 0.2:
            chars = chars[: rng.randint(0, len(chars))] + [rng.choice(alphabet)] * rng.randint(0, 2)
        out.append("".join(chars))
    return out


@pytest.mark.parametrize(("domain", "digits"), [("evm_hash", 64), ("evm_address", 40)])
async def test_hex_domains_accept_the_rule_of_001_exactly(
    pool: asyncpg.Pool, domain: str, digits: int
) -> None:
    """Control (passes with 002's checks and 108's): accepted by the domain exactly when 001's
    regular expression and the Python rule accept it."""
    values = _hostile(digits) + _fuzz(digits, 4000)
    rows = await pool.fetch(
        "SELECT v, pg_input_is_valid(v, $2) AS domain,"
        f" v ~ '^0x[0-9a-f]{{{digits}}}$' AS rule_001"
        " FROM unnest($1::text[]) v",
        values,
        domain,
    )
    assert len(rows) == len(values)
    accepted = sum(r["domain"] for r in rows)
    assert 0 < accepted < len(rows)
    for r in rows:
        assert r["domain"] == r["rule_001"] == _rule(r["v"], digits), repr(r["v"])
    # the trailing newline: Python's '$' matches before it, PostgreSQL's does not
    newline = "0x" + "0" * digits + "\n"
    assert re.match(f"^0x[0-9a-f]{{{digits}}}$", newline)
    assert not await pool.fetchval("SELECT pg_input_is_valid($1, $2)", newline, domain)


async def test_each_hex_domain_checks_once(pool: asyncpg.Pool) -> None:
    """Control: one check a domain (a replaced check dropped, not left beside its successor:
    every value would pay both)."""
    rows = await pool.fetch(
        "SELECT t.typname, count(*) AS checks FROM pg_constraint c"
        " JOIN pg_type t ON t.oid = c.contypid"
        " WHERE t.typname IN ('evm_hash', 'evm_address') GROUP BY t.typname ORDER BY 1"
    )
    assert [(r["typname"], r["checks"]) for r in rows] == [("evm_address", 1), ("evm_hash", 1)]
