"""PositionSplit / PositionsMerge as the CTF emits them; the listener ignores them."""

from __future__ import annotations

from orderflow.chain import contracts as c
from orderflow.chain.decode import decode_log
from orderflow.chain.encode import LogPosition
from orderflow.chain.encode_ctf import encode_position_split, encode_positions_merge
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
