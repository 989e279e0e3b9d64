"""Addresses, topic0 values and token ids against independently known values."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from orderflow.chain import contracts as c
from orderflow.chain.contracts import MAINNET, ChainAddresses
from orderflow.chain.tokens import (
    condition_id,
    ctf_position_ids,
    ctf_tokens,
    decode_v3_position_id,
    keccak256,
    resolve_registered_pair,
    v3_token,
)

# Test vectors: (condition id, collateral, outcome 0 id, outcome 1 id).
BTC_UP_DOWN = "0x2e6af11e4b853b05ba7135239b21d77e808889b6ce1e735de856c94c4e5b5fce"
BTC_YES = 8851848546962572193739008211889046036776198486765606333032192644001246174440
BTC_NO = 10181859819235412241349111952383458602722012323104397550162049365057126390549
SUBGRAPH_STD = "0xfc690d5069b296bb9278af0cba42c02666e0999e4a4009ed97ea4a885f045457"
SUBGRAPH_NEG = "0xbf5ba08b3a0c4dd741f00759282e38e9bfa9ad59aa623ed13d26a8786c1e5afc"
VECTORS = [
    (BTC_UP_DOWN, c.USDC_E, BTC_YES, BTC_NO),
    (
        SUBGRAPH_STD,
        c.USDC_E,
        73716170047628147940237270507900673332129573201293655532643868111690843426372,
        2890213445014127424511466931609154310536269586265875141655148162320150952197,
    ),
    (
        SUBGRAPH_NEG,
        c.NEG_RISK_WRAPPED_COLLATERAL,
        84121562275746951169805992721206824933074826856805500029198362509460400440947,
        6492254133524731704185750998715576231739345323060925006131340263114065023619,
    ),
]


@pytest.mark.parametrize(("condition", "collateral", "yes", "no"), VECTORS)
def test_ctf_position_ids_match_test_vectors(
    condition: str, collateral: str, yes: int, no: int
) -> None:
    assert ctf_position_ids(condition, 2, collateral) == (yes, no)


def test_ctf_tokens_choose_collateral_by_neg_risk() -> None:
    std = ctf_tokens(SUBGRAPH_STD, 2, neg_risk=False, source="t")
    neg = ctf_tokens(SUBGRAPH_NEG, 2, neg_risk=True, source="t")
    assert [t.token_id for t in std] == [VECTORS[1][2], VECTORS[1][3]]
    assert [t.token_id for t in neg] == [VECTORS[2][2], VECTORS[2][3]]
    assert std[0].complement_token_id == std[1].token_id
    assert std[1].complement_token_id == std[0].token_id
    assert neg[0].collateral == c.NEG_RISK_WRAPPED_COLLATERAL and neg[0].neg_risk
    assert [t.outcome_index for t in std] == [0, 1]


def test_three_outcome_condition_has_no_complement() -> None:
    rows = ctf_tokens(BTC_UP_DOWN, 3, neg_risk=False, source="t")
    assert len({t.token_id for t in rows}) == 3
    assert all(t.complement_token_id is None for t in rows)
    # outcomes 0 and 1 are the same index sets as in the binary reading
    assert (rows[0].token_id, rows[1].token_id) == (BTC_YES, BTC_NO)


@pytest.mark.parametrize("swap", [False, True])
def test_registered_pair_is_ordered_by_outcome_whatever_the_emitted_order(swap: bool) -> None:
    t0, t1 = (BTC_NO, BTC_YES) if swap else (BTC_YES, BTC_NO)
    pair = resolve_registered_pair(t0, t1, BTC_UP_DOWN)
    assert pair is not None
    assert [(t.token_id, t.outcome_index, t.neg_risk) for t in pair] == [
        (BTC_YES, 0, False),
        (BTC_NO, 1, False),
    ]


def test_registered_pair_detects_neg_risk_and_rejects_strangers() -> None:
    _, _, yes, no = VECTORS[2]
    pair = resolve_registered_pair(no, yes, SUBGRAPH_NEG)
    assert pair is not None and pair[0].neg_risk and pair[0].token_id == yes
    assert resolve_registered_pair(BTC_YES, 12345, BTC_UP_DOWN) is None
    assert resolve_registered_pair(BTC_YES, BTC_NO, SUBGRAPH_STD) is None


def test_condition_id_is_keccak_of_oracle_question_slots() -> None:
    oracle = "0x" + "11" * 20
    question = "0x" + "22" * 32
    expected = keccak256(bytes.fromhex("11" * 20 + "22" * 32) + (2).to_bytes(32, "big")).hex()
    assert condition_id(oracle, question, 2) == "0x" + expected


def test_keccak_is_ethereum_keccak_not_sha3() -> None:
    assert keccak256(b"").hex() == (
        "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470"
    )


def _v3_id(outcome: int, *, arity: int = 2, reserved: int = 0) -> int:
    return (
        0x01 << 248
        | 0xABCDEF << 120
        | arity << 104
        | reserved << 40
        | 0x0102 << 24
        | 0x0007 << 8
        | outcome
    )


def test_v3_structured_ids_decode_their_bit_fields() -> None:
    yes = _v3_id(0)
    fields = decode_v3_position_id(yes)
    assert (fields.module_id, fields.base_hash, fields.arity, fields.reserved) == (
        1,
        0xABCDEF,
        2,
        0,
    )
    assert (fields.resolution_chain, fields.condition_index, fields.outcome_index) == (
        0x0102,
        7,
        0,
    )
    assert fields.to_int() == yes
    info = v3_token(_v3_id(1))
    assert info is not None
    assert info.outcome_index == 1 and info.generation == "V3"
    assert info.condition_id == "0x" + format(yes, "064x")
    assert info.complement_token_id == yes


def test_v3_token_rejects_malformed_ids() -> None:
    assert v3_token(_v3_id(0, reserved=5)) is None  # CTF ids have random bits here
    assert v3_token(_v3_id(2)) is None  # outcome beyond arity
    assert v3_token(BTC_YES) is None


def test_topic0_constants_are_keccak_of_their_signatures() -> None:
    assert len(c.EVENT_SIGNATURES) == 35
    assert c.TOPIC_TRANSFER_BATCH == (
        "0x4a39dc06d4c0dbc64b70af90fd698a233a518aa5d07e595d983b8c0526c8f7fb"
    )
    for topic, signature in c.EVENT_SIGNATURES.items():
        assert "0x" + keccak256(signature.encode()).hex() == topic, signature


def test_mainnet_filter_lists_every_exchange_and_the_ctf() -> None:
    watched = MAINNET.watched_addresses()
    assert len(watched) == 10 and watched[5] == c.CONDITIONAL_TOKENS
    assert set(watched[6:]) == c.FEE_MODULES
    assert all(a == a.lower() for a in watched)
    (topics,) = MAINNET.topics()
    assert set(topics) == {
        c.TOPIC_ORDER_FILLED_V1,
        c.TOPIC_ORDERS_MATCHED_V1,
        c.TOPIC_TOKEN_REGISTERED,
        c.TOPIC_ORDER_FILLED_V2,
        c.TOPIC_ORDERS_MATCHED_V2,
        c.TOPIC_CONDITION_PREPARATION,
        c.TOPIC_CONDITION_RESOLUTION,
        c.TOPIC_FEE_REFUNDED,
        c.TOPIC_FEE_REFUNDED_2023,
    }
    assert c.TOPIC_TRANSFER_SINGLE not in topics
    assert MAINNET.version_of(c.V3_EXCHANGE) == "V3"


def test_chain_addresses_normalise_and_validate() -> None:
    custom = ChainAddresses(
        exchanges={"0xE111180000d2663C0091e4f400237545B87B996B": "V2"},
        neg_risk_exchanges=["0xE111180000d2663C0091e4f400237545B87B996B"],
        ctf="0x4D97DCd97eC945f40cF65F87097ACe5EA0476045",
    )
    assert custom.exchanges == {c.V2_CTF_EXCHANGE: "V2"}
    assert custom.topics() == [[c.TOPIC_ORDER_FILLED_V2, c.TOPIC_ORDERS_MATCHED_V2, *c.CTF_TOPICS]]
    with pytest.raises(ValidationError, match="not an address"):
        ChainAddresses(exchanges={"0x123": "V1"})
    with pytest.raises(ValidationError, match="neg_risk_exchanges"):
        ChainAddresses(exchanges={c.V1_CTF_EXCHANGE: "V1"}, neg_risk_exchanges=[c.V2_CTF_EXCHANGE])
