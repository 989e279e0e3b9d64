"""PositionSplit / PositionsMerge as the CTF emits them; the listener ignores them."""

from __future__ import annotations

from orderflow.chain import contracts as c
from orderflow.chain.decode import decode_log
from orderflow.chain.encode import LogPosition
from orderflow.chain.encode_ctf import (
    TOPIC_ADAPTER_POSITION_SPLIT,
    TOPIC_ADAPTER_POSITIONS_CONVERTED,
    TOPIC_ADAPTER_POSITIONS_MERGE,
    encode_adapter_split_or_merge,
    encode_position_split,
    encode_positions_converted,
    encode_positions_merge,
)
from orderflow.chain.events import Ignored
from orderflow.chain.tokens import keccak256

AT = LogPosition(70_000_000, "0x" + "ab" * 32, "0x" + "cd" * 32, 3, 1_700_000_000)
WALLET = "0x" + "12" * 20
CONDITION = "0x" + "34" * 32


def test_topics_are_the_ctf_event_signatures() -> None:
    split = "PositionSplit(address,address,bytes32,bytes32,uint256[],uint256)"
    merge = "PositionsMerge(address,address,bytes32,bytes32,uint256[],uint256)"
    assert "0x" + keccak256(split.encode()).hex() == c.TOPIC_POSITION_SPLIT
    assert "0x" + keccak256(merge.encode()).hex() == c.TOPIC_POSITIONS_MERGE


def test_split_layout_indexed_fields_then_abi_data() -> None:
    log = encode_position_split(
        at=AT, stakeholder=WALLET, collateral=c.USDC_E, condition_id=CONDITION, amount=123_450_000
    )
    assert log["address"] == c.CONDITIONAL_TOKENS
    assert log["topics"] == [
        c.TOPIC_POSITION_SPLIT,
        "0x" + "00" * 12 + "12" * 20,
        "0x" + "00" * 32,  # no parent collection
        CONDITION,
    ]
    words = [int(log["data"][2 + 64 * i : 2 + 64 * (i + 1)], 16) for i in range(6)]
    assert words == [int(c.USDC_E, 16), 0x60, 123_450_000, 2, 1, 2]
    merge = encode_positions_merge(
        at=AT, stakeholder=WALLET, collateral=c.USDC_E, condition_id=CONDITION, amount=5
    )
    assert merge["topics"][0] == c.TOPIC_POSITIONS_MERGE and merge["data"] != log["data"]


def test_the_decoder_ignores_them_rather_than_dead_lettering() -> None:
    for encode in (encode_position_split, encode_positions_merge):
        log = encode(
            at=AT, stakeholder=WALLET, collateral=c.USDC_E, condition_id=CONDITION, amount=1
        )
        assert isinstance(decode_log(log, 137), Ignored)


def test_adapter_events_layout() -> None:
    # topic0s of Polymarket's NegRiskAdapter events (keccak-256 of the signatures)
    assert TOPIC_ADAPTER_POSITION_SPLIT == (
        "0xbbed930dbfb7907ae2d60ddf78345610214f26419a0128df39b6cc3d9e5df9b0"
    )
    assert TOPIC_ADAPTER_POSITIONS_MERGE == (
        "0xba33ac50d8894676597e6e35dc09cff59854708b642cd069d21eb9c7ca072a04"
    )
    assert TOPIC_ADAPTER_POSITIONS_CONVERTED == (
        "0xb03d19dddbc72a87e735ff0ea3b57bef133ebe44e1894284916a84044deb367e"
    )
    split = encode_adapter_split_or_merge(
        at=AT, merge=False, stakeholder=WALLET, condition_id=CONDITION, amount=7
    )
    assert split["address"] == c.NEG_RISK_ADAPTER
    assert split["topics"] == [
        TOPIC_ADAPTER_POSITION_SPLIT,
        "0x" + "00" * 12 + "12" * 20,
        CONDITION,
    ]
    assert split["data"] == "0x" + f"{7:064x}"
    market = "0x" + "56" * 31 + "00"
    converted = encode_positions_converted(
        at=AT, stakeholder=WALLET, market_id=market, index_set=0b101, amount=9
    )
    assert converted["topics"][1:] == ["0x" + "00" * 12 + "12" * 20, market, f"0x{5:064x}"]
    assert converted["data"] == "0x" + f"{9:064x}"
