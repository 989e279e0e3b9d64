"""Row values are parsed strictly: exact integers, 32-byte hashes, 20-byte addresses, UTC times."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from orderflow.chain import contracts as c
from orderflow.chain.contracts import MAINNET
from orderflow.history.rows import RowError, address, exchange_of, hash32, side, timestamp, uint


def test_amounts_are_whole_numbers_or_refused() -> None:
    assert uint("50000000", "a") == uint(50_000_000, "a") == uint(Decimal("5E7"), "a") == 50_000_000
    assert uint("0x1a", "a") == 26
    big = "65818619657568813474341868652308942079804919287380422192892211131408793125422"
    assert uint(big, "token") == int(big)
    for bad in ("12.5", "1e6", 1.0, -1, "", None, Decimal("0.5"), "abc"):
        with pytest.raises(RowError):
            uint(bad, "maker amount")


def test_hashes_and_addresses_with_or_without_0x_in_any_case() -> None:
    body = "05a7f9b0b016d7e431b4e62b374870a91a8d863cc04d94edbb53d26a990b60a1"
    assert hash32(body, "tx") == hash32("0x" + body.upper(), "tx") == "0x" + body
    assert hash32(bytes.fromhex(body), "tx") == "0x" + body
    assert address("0xEA5981CA48Dc40C950fC1B2496c4a0Ef900bB841", "m") == (
        "0xea5981ca48dc40c950fc1b2496c4a0ef900bb841"
    )
    for bad in (body[:-2], "0x" + "zz" * 32, 7):
        with pytest.raises(RowError):
            hash32(bad, "tx")


def test_times_and_exchanges_and_sides() -> None:
    when = 1669060169
    for value in (when, str(when), hex(when), "2022-11-21T19:49:29Z", "2022-11-21 19:49:29+00",
                  "2022-11-21 19:49:29.000 UTC", datetime(2022, 11, 21, 19, 49, 29),
                  datetime(2022, 11, 21, 19, 49, 29, tzinfo=UTC)):  # fmt: skip
        assert timestamp(value) == when, value
    assert timestamp(None) is None
    assert exchange_of("CTF_EXCHANGE", MAINNET) == c.V1_CTF_EXCHANGE
    assert exchange_of("neg_risk_ctf_exchange_v2", MAINNET) == c.V2_NEG_RISK_CTF_EXCHANGE
    assert exchange_of(c.V1_NEG_RISK_CTF_EXCHANGE.upper().replace("0X", "0x"), MAINNET)
    with pytest.raises(RowError, match="unknown exchange 'FPMM'"):
        exchange_of("FPMM", MAINNET)
    assert (side("BUY"), side("1"), side(0)) == (0, 1, 0)
    with pytest.raises(RowError):
        side(2)
