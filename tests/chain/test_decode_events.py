"""Decoding the other events against hand-computed values: OrdersMatched of V1 and V2, the CTF's
and the registry's events, dead letters with precise reasons, removed and ignored logs, batch
sorting, hex normalisation. Fills of every generation: test_decode.py."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from orderflow.chain import contracts as c
from orderflow.chain.decode import decode_batch, decode_log
from orderflow.chain.encode import (
    encode_condition_preparation,
    encode_condition_resolution,
    encode_order_filled_v1,
    encode_orders_matched_v1,
    encode_orders_matched_v2,
    encode_token_registered,
)
from orderflow.chain.events import (
    ConditionPreparation,
    ConditionResolution,
    DeadLetter,
    Fill,
    Ignored,
    Match,
    Removed,
    TokenRegistration,
)
from tests.chain.factory import addr, at, h32
from tests.chain.test_contracts_tokens import BTC_NO, BTC_UP_DOWN, BTC_YES, SUBGRAPH_NEG
from tests.chain.test_decode import ALICE, BOB, NEG_NO, NEG_YES, _v2


def test_orders_matched_v1_and_v2() -> None:
    v1 = decode_log(
        encode_orders_matched_v1(
            at=at(3, 9),
            taker_order_hash=h32(7),
            taker_order_maker=BOB,
            maker_asset_id=BTC_NO,
            taker_asset_id=0,
            maker_amount=10_000_000,
            taker_amount=4_000_000,
        ),
        137,
    )
    assert isinstance(v1, Match)
    assert (v1.side, v1.token_id, v1.size, v1.usdc_size, v1.price) == (
        "SELL",
        BTC_NO,
        Decimal(10),
        Decimal(4),
        Decimal("0.4"),
    )
    assert v1.taker_wallet == BOB and v1.taker_order_hash == h32(7)
    v2 = decode_log(
        encode_orders_matched_v2(
            at=at(3, 9),
            taker_order_hash=h32(7),
            taker_order_maker=BOB,
            side="BUY",
            token_id=BTC_YES,
            maker_amount=1_200_000,
            taker_amount=2_000_000,
            exchange=c.V2_NEG_RISK_CTF_EXCHANGE,
        ),
        137,
    )
    assert isinstance(v2, Match)
    assert (v2.exchange_version, v2.side, v2.size, v2.price) == (
        "V2",
        "BUY",
        Decimal(2),
        Decimal("0.6"),
    )


def test_ctf_and_registry_events() -> None:
    oracle = "0x" + "55" * 20
    prep = decode_log(
        encode_condition_preparation(
            at=at(1, 0),
            condition_id=SUBGRAPH_NEG,
            oracle=c.NEG_RISK_ADAPTER,
            question_id=h32(9),
            outcome_slot_count=2,
        ),
        137,
    )
    assert isinstance(prep, ConditionPreparation)
    assert prep.neg_risk and prep.oracle == c.NEG_RISK_ADAPTER
    assert [t.token_id for t in prep.tokens] == [NEG_YES, NEG_NO]
    res = decode_log(
        encode_condition_resolution(
            at=at(2, 0),
            condition_id=BTC_UP_DOWN,
            oracle=oracle,
            question_id=h32(9),
            payout_numerators=[0, 1],
        ),
        137,
    )
    assert isinstance(res, ConditionResolution)
    assert res.payout_numerators == (0, 1) and res.winning_outcome == 1
    assert res.payouts == (Decimal(0), Decimal(1))
    reg = decode_log(
        encode_token_registered(
            at=at(1, 1), token0=BTC_NO, token1=BTC_YES, condition_id=BTC_UP_DOWN
        ),
        137,
    )
    assert isinstance(reg, TokenRegistration)
    assert [(t.token_id, t.outcome_index) for t in reg.tokens] == [(BTC_YES, 0), (BTC_NO, 1)]


def _good() -> dict[str, Any]:
    return _v2(c.V2_CTF_EXCHANGE, buy=True, token=BTC_YES, taker=BOB)


def _with(**changes: Any) -> dict[str, Any]:
    return {**_good(), **changes}


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (_with(data="0x1234"), "OrderFilled (V2) data is 2 bytes, expected 224"),
        (_with(data="0x" + "zz" * 224), "OrderFilled (V2) data is not hex"),
        (_with(topics=_good()["topics"][:3]), "OrderFilled (V2) has 3 topics, expected 4"),
        (_with(topics=[]), "anonymous log (no topics)"),
        (_with(topics=[h32(0x1234)]), "unknown topic0 0x" + "0" * 60 + "1234 from the V2"),
        (_with(address=addr(0xDEAD)), "neither a watched exchange, the CTF"),
        (_with(blockNumber="12"), "blockNumber is not a 0x hex quantity"),
        (_with(blockHash=None), "pending log"),
        (_with(transactionHash="0x12"), "transactionHash is not a 32-byte 0x hex string"),
        (_with(logIndex=None), "logIndex is missing"),
        (
            _with(topics=[*_good()["topics"][:2], "0x" + "ff" * 32, _good()["topics"][3]]),
            "maker topic is not an address",
        ),
        (
            _with(data="0x" + f"{2:064x}" + _good()["data"][66:]),
            "side is 2, expected 0 (BUY) or 1 (SELL)",
        ),
        (
            _with(address=c.V1_CTF_EXCHANGE),
            "OrderFilled (0xd543adfd…) is not expected from the V1 exchange",
        ),
        (
            _with(data="0x" + f"{0:064x}" + f"{1:064x}" + f"{1 << 70:064x}" + "0" * 256),
            "exceeds 2**63",
        ),
    ],
)
def test_undecodable_logs_become_dead_letters_with_precise_reasons(
    raw: dict[str, Any], reason: str
) -> None:
    out = decode_log(raw, 137)
    assert isinstance(out, DeadLetter), out
    assert reason in out.reason
    assert out.raw is raw
    assert out.chain_id == 137


def test_dead_letter_keeps_what_identity_it_can() -> None:
    out = decode_log(_with(data="0x"), 137)
    assert isinstance(out, DeadLetter)
    assert (out.block_number, out.log_index, out.address) == (10, 4, c.V2_CTF_EXCHANGE)
    assert out.tx_hash == _good()["transactionHash"]
    assert out.topic0 == c.TOPIC_ORDER_FILLED_V2
    weird = decode_log({"nothing": True}, 137)
    assert isinstance(weird, DeadLetter) and weird.tx_hash is None


def test_v1_fill_with_two_tokens_is_a_dead_letter() -> None:
    raw = encode_order_filled_v1(
        at=at(1, 1),
        order_hash=h32(1),
        maker=ALICE,
        taker=BOB,
        maker_asset_id=BTC_YES,
        taker_asset_id=BTC_NO,
        maker_amount=1,
        taker_amount=1,
        fee=0,
    )
    out = decode_log(raw, 137)
    assert isinstance(out, DeadLetter) and "exactly one asset id = 0" in out.reason


def test_removed_ignored_and_batch_sorting() -> None:
    fee_charged = {
        **_good(),
        "topics": [c.TOPIC_FEE_CHARGED_V2, "0x" + "0" * 64],
        "data": "0x" + "0" * 64,
    }
    removed = {**_good(), "removed": True}
    no_time = dict(_good())
    del no_time["blockTimestamp"]
    batch = decode_batch([_good(), fee_charged, removed, {"x": 1}, no_time], 137)
    assert isinstance(decode_log(removed, 137), Removed)
    assert isinstance(decode_log(fee_charged, 137), Ignored)
    # the removal retracts its block's fill before it, not the one after it (the block again)
    assert len(batch.fills) == 1 and batch.fills[0].ref.timestamp is None
    assert len(batch.removed) == 1 and len(batch.ignored) == 1 and len(batch.dead_letters) == 1
    assert len(batch) == 4 and batch.events == 1 and batch.top_block() == 10
    kept = decode_batch([removed, _good()], 137)  # a removal before the log retracts nothing
    assert len(kept.fills) == 1 and len(kept.removed) == 1


def test_uppercase_hex_is_normalised() -> None:
    raw = _good()
    raw = {
        **raw,
        "transactionHash": raw["transactionHash"].upper().replace("0X", "0x"),
        "topics": [t.upper().replace("0X", "0x") for t in raw["topics"]],
    }
    fill = decode_log(raw, 137)
    assert isinstance(fill, Fill)
    assert fill.ref.tx_hash == _good()["transactionHash"]
    assert fill.maker == ALICE
