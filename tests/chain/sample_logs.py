"""Builds samples/polymarket-logs.jsonl (the README's first import) — one source for file and test.

Regenerate after a deliberate change with::

    .venv/bin/python -m tests.chain.sample_logs > samples/polymarket-logs.jsonl

Real values: the CLOB V2 fill (tx 0xd4f61b…, log 1535: exchange, maker, side, amounts, fee,
taker = the exchange), the condition ids and token ids of the test vectors, every contract
address and topic. Illustrative values (not published with the real data): that fill's block
hash, timestamp, order hash and token id, and every other log's hashes, wallets and amounts.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from orderflow.chain import contracts as c
from orderflow.chain.encode import (
    LogPosition,
    encode_condition_preparation,
    encode_condition_resolution,
    encode_order_filled_v2,
    encode_token_registered,
)
from orderflow.chain.encode_trades import encode_fill, encode_match

BTC = "0x2e6af11e4b853b05ba7135239b21d77e808889b6ce1e735de856c94c4e5b5fce"
BTC_YES = 8851848546962572193739008211889046036776198486765606333032192644001246174440
BTC_NO = 10181859819235412241349111952383458602722012323104397550162049365057126390549
STD = "0xfc690d5069b296bb9278af0cba42c02666e0999e4a4009ed97ea4a885f045457"
STD_YES = 73716170047628147940237270507900673332129573201293655532643868111690843426372
STD_NO = 2890213445014127424511466931609154310536269586265875141655148162320150952197
NEG = "0xbf5ba08b3a0c4dd741f00759282e38e9bfa9ad59aa623ed13d26a8786c1e5afc"
NEG_YES = 84121562275746951169805992721206824933074826856805500029198362509460400440947
NEG_NO = 6492254133524731704185750998715576231739345323060925006131340263114065023619
V3_YES = 1 << 248 | 0x5EED << 120 | 2 << 104 | 1 << 8

REAL_TX = "0xd4f61be19b7de7ec1f92ddc0d6e0bf4057b12e01b528c8181baca93476f1bea8"
REAL_MAKER = "0x204f72f35326db932158cba6adff0b9a1da95e14"
UMA_ORACLE = "0x" + "75" * 20  # illustrative oracle address for the standard markets
OPERATOR = "0x" + "0e" * 20


def _w(tag: int) -> str:
    return "0x" + f"{tag:x}".rjust(40, "0")


def _h(tag: str) -> str:
    return "0x" + tag.rjust(64, "0")


def _at(block: int, log_index: int, tx: str, ts: int) -> LogPosition:
    return LogPosition(
        block, _h(f"b{block:x}"), tx if tx.startswith("0x") else _h(tx), log_index, ts
    )


def build() -> list[dict[str, Any]]:
    logs: list[dict[str, Any]] = []
    # Markets: two prepared on ConditionalTokens, one known only from V1 TokenRegistered.
    logs.append(
        encode_condition_preparation(
            at=_at(40_000_000, 3, "c1", 1_680_000_000),
            condition_id=BTC,
            oracle=UMA_ORACLE,
            question_id=_h("a1"),
            outcome_slot_count=2,
        )
    )
    logs.append(
        encode_condition_preparation(
            at=_at(52_000_000, 7, "c2", 1_704_000_000),
            condition_id=NEG,
            oracle=c.NEG_RISK_ADAPTER,
            question_id=_h("a2"),
            outcome_slot_count=2,
        )
    )
    for i, (t0, t1) in enumerate(((STD_NO, STD_YES), (STD_YES, STD_NO))):
        logs.append(
            encode_token_registered(
                at=_at(52_100_000, i, "c3", 1_704_200_000), token0=t0, token1=t1, condition_id=STD
            )
        )
    # V1 CTF Exchange: a taker (0x…c0) buys 30 YES at 0.42 from two makers; match event last.
    ts, tx, blk = 1_740_000_000, "d1", 68_000_000
    taker = _w(0xC0)
    logs.append(
        encode_fill(
            "V1",
            at=_at(blk, 10, tx, ts),
            order_hash=_h("e1"),
            maker=_w(0xA1),
            taker=taker,
            side="SELL",
            token_id=STD_YES,
            shares=10_000_000,
            collateral=4_200_000,
        )
    )
    logs.append(
        encode_fill(
            "V1",
            at=_at(blk, 11, tx, ts),
            order_hash=_h("e2"),
            maker=_w(0xA2),
            taker=taker,
            side="SELL",
            token_id=STD_YES,
            shares=20_000_000,
            collateral=8_400_000,
            fee=84_000,
        )
    )
    logs.append(
        encode_fill(
            "V1",
            at=_at(blk, 12, tx, ts),
            order_hash=_h("e3"),
            maker=taker,
            taker=c.V1_CTF_EXCHANGE,
            side="BUY",
            token_id=STD_YES,
            shares=30_000_000,
            collateral=12_600_000,
            fee=300_000,
        )
    )
    logs.append(
        encode_match(
            "V1",
            at=_at(blk, 13, tx, ts),
            taker_order_hash=_h("e3"),
            taker_order_maker=taker,
            side="BUY",
            token_id=STD_YES,
            shares=30_000_000,
            collateral=12_600_000,
        )
    )
    # V1 NegRisk CTF Exchange: a direct fillOrder by the operator (no OrdersMatched): SELL.
    logs.append(
        encode_fill(
            "V1",
            at=_at(blk + 5, 2, "d2", ts + 10),
            order_hash=_h("e4"),
            maker=_w(0xA3),
            taker=OPERATOR,
            side="SELL",
            token_id=NEG_NO,
            shares=50_000_000,
            collateral=11_500_000,
            fee=23_000,
            exchange=c.V1_NEG_RISK_CTF_EXCHANGE,
        )
    )
    # CLOB V2: the real fill (taker aggregate of a BUY on CTF Exchange V2).
    logs.append(
        encode_order_filled_v2(
            at=LogPosition(86_823_944, _h("b52cd408"), REAL_TX, 1535, 1_779_000_000, 41),
            order_hash=_h("f1"),
            maker=REAL_MAKER,
            taker=c.V2_CTF_EXCHANGE,
            side="BUY",
            token_id=BTC_YES,
            maker_amount=3_550_000,
            taker_amount=5_000_000,
            fee=30_880,
        )
    )
    # V2 NegRisk CTF Exchange: a maker SELLs 8 NO at 0.25 to a taker's BUY, with the match.
    ts, tx, blk = 1_779_000_100, "d3", 86_823_994
    logs.append(
        encode_fill(
            "V2",
            at=_at(blk, 0, tx, ts),
            order_hash=_h("e5"),
            maker=_w(0xA4),
            taker=_w(0xC1),
            side="SELL",
            token_id=NEG_NO,
            shares=8_000_000,
            collateral=2_000_000,
            exchange=c.V2_NEG_RISK_CTF_EXCHANGE,
        )
    )
    logs.append(
        encode_fill(
            "V2",
            at=_at(blk, 1, tx, ts),
            order_hash=_h("e6"),
            maker=_w(0xC1),
            taker=c.V2_NEG_RISK_CTF_EXCHANGE,
            side="BUY",
            token_id=NEG_NO,
            shares=8_000_000,
            collateral=2_000_000,
            fee=30_000,
            exchange=c.V2_NEG_RISK_CTF_EXCHANGE,
        )
    )
    logs.append(
        encode_match(
            "V2",
            at=_at(blk, 2, tx, ts),
            taker_order_hash=_h("e6"),
            taker_order_maker=_w(0xC1),
            side="BUY",
            token_id=NEG_NO,
            shares=8_000_000,
            collateral=2_000_000,
            exchange=c.V2_NEG_RISK_CTF_EXCHANGE,
        )
    )
    # ExchangeV3: a structured-id market, a SELL taker against a BUY maker.
    ts, tx, blk = 1_782_000_000, "d4", 88_000_000
    logs.append(
        encode_fill(
            "V3",
            at=_at(blk, 5, tx, ts),
            order_hash=_h("e7"),
            maker=_w(0xA5),
            taker=_w(0xC2),
            side="BUY",
            token_id=V3_YES,
            shares=12_000_000,
            collateral=7_200_000,
        )
    )
    logs.append(
        encode_fill(
            "V3",
            at=_at(blk, 6, tx, ts),
            order_hash=_h("e8"),
            maker=_w(0xC2),
            taker=c.V3_EXCHANGE,
            side="SELL",
            token_id=V3_YES,
            shares=12_000_000,
            collateral=7_200_000,
            fee=43_200,
        )
    )
    logs.append(
        encode_match(
            "V3",
            at=_at(blk, 7, tx, ts),
            taker_order_hash=_h("e8"),
            taker_order_maker=_w(0xC2),
            side="SELL",
            token_id=V3_YES,
            shares=12_000_000,
            collateral=7_200_000,
        )
    )
    # The BTC market resolves YES.
    logs.append(
        encode_condition_resolution(
            at=_at(88_100_000, 0, "c4", 1_782_200_000),
            condition_id=BTC,
            oracle=UMA_ORACLE,
            question_id=_h("a1"),
            payout_numerators=[1, 0],
        )
    )
    return logs


def render() -> str:
    return "".join(json.dumps(log, separators=(",", ":")) + "\n" for log in build())


if __name__ == "__main__":
    sys.stdout.write(render())
