"""Decoding fills of every exchange generation, BUY and SELL, against hand-computed values."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from orderflow.chain import contracts as c
from orderflow.chain.decode import decode_log
from orderflow.chain.encode import (
    encode_order_filled_v1,
    encode_order_filled_v2,
)
from orderflow.chain.events import (
    Fill,
)
from tests.chain.factory import addr, at, h32
from tests.chain.test_contracts_tokens import BTC_NO, BTC_YES, VECTORS

NEG_YES, NEG_NO = VECTORS[2][2], VECTORS[2][3]
V3_YES = 1 << 248 | 0xABCDEF << 120 | 2 << 104 | 7 << 8
ALICE, BOB = addr(0xA11CE), addr(0xB0B)


def fill_view(f: Fill) -> dict[str, Any]:
    return {
        "version": f.exchange_version,
        "wallet": f.maker,
        "side": f.side,
        "token": f.token_id,
        "size": f.size,
        "usdc": f.usdc_size,
        "price": f.price,
        "fee": f.fee_units,
        "fee_asset": f.fee_asset,
        "aggregate": f.is_taker_aggregate,
    }


def test_real_v2_fill_from_polygon() -> None:
    """tx 0xd4f61b…, log 1535 on CTF Exchange V2: BUY 5 shares at 0.71 for 3.55 pUSD + 0.03088.

    Real: exchange, tx hash, log index, maker, side, amounts, fee, taker aggregate. Not
    published with the sample and filled in here: order hash, token id, block hash/time.
    """
    raw = {
        "address": "0xE111180000d2663C0091e4f400237545B87B996B",
        "topics": [
            "0xd543adfd945773f1a62f74f0ee55a5e3b9b1a28262980ba90b1a89f2ea84d8ee",
            h32("0d"),
            "0x000000000000000000000000204f72f35326db932158cba6adff0b9a1da95e14",
            "0x000000000000000000000000e111180000d2663c0091e4f400237545b87b996b",
        ],
        "data": "0x"
        + "".join(f"{w:064x}" for w in (0, BTC_YES, 3_550_000, 5_000_000, 30_880, 0, 0)),
        "blockNumber": hex(86823944),
        "blockHash": h32("86823944"),
        "transactionHash": "0xd4f61be19b7de7ec1f92ddc0d6e0bf4057b12e01b528c8181baca93476f1bea8",
        "transactionIndex": "0x3",
        "logIndex": hex(1535),
        "blockTimestamp": hex(1_779_000_000),
        "removed": False,
    }
    fill = decode_log(raw, 137)
    assert isinstance(fill, Fill)
    assert fill.ref.tx_hash == (
        "0xd4f61be19b7de7ec1f92ddc0d6e0bf4057b12e01b528c8181baca93476f1bea8"
    )
    assert fill.ref.log_index == 1535 and fill.ref.block_number == 86823944
    assert fill.ref.address == c.V2_CTF_EXCHANGE
    assert fill.ref.timestamp == datetime(2026, 5, 17, 6, 40, tzinfo=UTC)
    assert fill_view(fill) == {
        "version": "V2",
        "wallet": "0x204f72f35326db932158cba6adff0b9a1da95e14",
        "side": "BUY",
        "token": BTC_YES,
        "size": Decimal(5),
        "usdc": Decimal("3.55"),
        "price": Decimal("0.71"),
        "fee": Decimal("0.03088"),
        "fee_asset": "COLLATERAL",
        "aggregate": True,
    }
    assert (fill.shares, fill.collateral, fill.fee) == (5_000_000, 3_550_000, 30_880)


def _v1(exchange: str, *, buy: bool, token: int, taker: str) -> dict[str, Any]:
    # BUY: gives 3.55 USDC for 5 shares, fee 0.05 shares. SELL: gives 2 shares for 0.58, fee
    # 0.0058 USDC.
    return encode_order_filled_v1(
        at=at(10, 4),
        order_hash=h32(0xABC),
        maker=ALICE,
        taker=taker,
        maker_asset_id=0 if buy else token,
        taker_asset_id=token if buy else 0,
        maker_amount=3_550_000 if buy else 2_000_000,
        taker_amount=5_000_000 if buy else 580_000,
        fee=50_000 if buy else 5_800,
        exchange=exchange,
    )


def _v2(exchange: str, *, buy: bool, token: int, taker: str) -> dict[str, Any]:
    # BUY: 3.55 for 5 shares + 0.03088 fee. SELL: 2 shares for 0.58, fee 0.0058.
    return encode_order_filled_v2(
        at=at(10, 4),
        order_hash=h32(0xABC),
        maker=ALICE,
        taker=taker,
        side="BUY" if buy else "SELL",
        token_id=token,
        maker_amount=3_550_000 if buy else 2_000_000,
        taker_amount=5_000_000 if buy else 580_000,
        fee=30_880 if buy else 5_800,
        exchange=exchange,
    )


BUY_V1 = {"side": "BUY", "size": Decimal(5), "usdc": Decimal("3.55"), "price": Decimal("0.71")}
SELL = {"side": "SELL", "size": Decimal(2), "usdc": Decimal("0.58"), "price": Decimal("0.29")}

CASES = [
    # (name, raw log, expected fields)
    (
        "V1 BUY",
        _v1(c.V1_CTF_EXCHANGE, buy=True, token=BTC_YES, taker=BOB),
        {
            **BUY_V1,
            "version": "V1",
            "token": BTC_YES,
            "fee": Decimal("0.05"),
            "fee_asset": "SHARES",
            "aggregate": False,
        },
    ),
    (
        "V1 SELL",
        _v1(c.V1_CTF_EXCHANGE, buy=False, token=BTC_NO, taker=BOB),
        {
            **SELL,
            "version": "V1",
            "token": BTC_NO,
            "fee": Decimal("0.0058"),
            "fee_asset": "COLLATERAL",
            "aggregate": False,
        },
    ),
    (
        "V1 NegRisk BUY (taker aggregate)",
        _v1(c.V1_NEG_RISK_CTF_EXCHANGE, buy=True, token=NEG_YES, taker=c.V1_NEG_RISK_CTF_EXCHANGE),
        {
            **BUY_V1,
            "version": "V1",
            "token": NEG_YES,
            "fee": Decimal("0.05"),
            "fee_asset": "SHARES",
            "aggregate": True,
        },
    ),
    (
        "V1 NegRisk SELL",
        _v1(c.V1_NEG_RISK_CTF_EXCHANGE, buy=False, token=NEG_NO, taker=BOB),
        {
            **SELL,
            "version": "V1",
            "token": NEG_NO,
            "fee": Decimal("0.0058"),
            "fee_asset": "COLLATERAL",
            "aggregate": False,
        },
    ),
    (
        "V2 SELL",
        _v2(c.V2_CTF_EXCHANGE, buy=False, token=BTC_NO, taker=BOB),
        {
            **SELL,
            "version": "V2",
            "token": BTC_NO,
            "fee": Decimal("0.0058"),
            "fee_asset": "COLLATERAL",
            "aggregate": False,
        },
    ),
    (
        "V2 NegRisk BUY",
        _v2(c.V2_NEG_RISK_CTF_EXCHANGE, buy=True, token=NEG_YES, taker=BOB),
        {
            **BUY_V1,
            "version": "V2",
            "token": NEG_YES,
            "fee": Decimal("0.03088"),
            "fee_asset": "COLLATERAL",
            "aggregate": False,
        },
    ),
    (
        "V2 NegRisk SELL (taker aggregate)",
        _v2(c.V2_NEG_RISK_CTF_EXCHANGE, buy=False, token=NEG_NO, taker=c.V2_NEG_RISK_CTF_EXCHANGE),
        {
            **SELL,
            "version": "V2",
            "token": NEG_NO,
            "fee": Decimal("0.0058"),
            "fee_asset": "COLLATERAL",
            "aggregate": True,
        },
    ),
    (
        "V3 BUY",
        _v2(c.V3_EXCHANGE, buy=True, token=V3_YES, taker=BOB),
        {
            **BUY_V1,
            "version": "V3",
            "token": V3_YES,
            "fee": Decimal("0.03088"),
            "fee_asset": "COLLATERAL",
            "aggregate": False,
        },
    ),
    (
        "V3 SELL",
        _v2(c.V3_EXCHANGE, buy=False, token=V3_YES | 1, taker=c.V3_EXCHANGE),
        {
            **SELL,
            "version": "V3",
            "token": V3_YES | 1,
            "fee": Decimal("0.0058"),
            "fee_asset": "COLLATERAL",
            "aggregate": True,
        },
    ),
]


@pytest.mark.parametrize(
    ("raw", "expected"), [(r, e) for _, r, e in CASES], ids=[n for n, _, _ in CASES]
)
def test_fills_of_every_generation(raw: dict[str, Any], expected: dict[str, Any]) -> None:
    fill = decode_log(raw, 137)
    assert isinstance(fill, Fill), fill
    assert fill_view(fill) == {"wallet": ALICE, **expected}
    assert fill.order_hash == h32(0xABC)
    assert (fill.ref.block_number, fill.ref.log_index) == (10, 4)
    assert fill.ref.address == raw["address"]
    if expected["version"] == "V1":
        assert fill.builder is None and fill.metadata is None
    else:
        assert fill.builder == "0x" + "00" * 32
