"""Raw logs as Polymarket's contracts emit them (address, topics, data), for the relay to emit.

Written from the event ABIs (docs/listener.md): indexed fields are topics, the rest are 32-byte
words of data in declaration order. Only what the listener tests need.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

from orderflow.chain import contracts as c
from orderflow.chain.tokens import condition_id, ctf_position_ids

V2_EXCHANGE = c.V2_CTF_EXCHANGE
ALICE = "0x" + "a1" * 20
BOB = "0x" + "b0" * 20
# A real CTF position id (conditionId 0x2e6af11e…, outcome 0), so the fill is a normal trade.
TOKEN = 8851848546962572193739008211889046036776198486765606333032192644001246174440


def word(value: int | str) -> str:
    if isinstance(value, str):
        return value.removeprefix("0x").rjust(64, "0")
    return value.to_bytes(32, "big").hex()


def order_filled_v2(
    *,
    order_hash: int,
    maker: str = ALICE,
    taker: str = BOB,
    side: int = 0,
    token_id: int = TOKEN,
    maker_amount: int = 3_550_000,
    taker_amount: int = 5_000_000,
    fee: int = 0,
    exchange: str = V2_EXCHANGE,
) -> dict[str, Any]:
    """A CLOB V2 OrderFilled; ``order_hash`` is any number that makes the log distinct."""
    return {
        "address": exchange,
        "topics": [
            c.TOPIC_ORDER_FILLED_V2,
            "0x" + word(order_hash),
            "0x" + word(maker),
            "0x" + word(taker),
        ],
        "data": "0x"
        + "".join(word(v) for v in (side, token_id, maker_amount, taker_amount, fee, 0, 0)),
    }


def malformed_fill(order_hash: int) -> dict[str, Any]:
    """OrderFilled topic0 from a V2 exchange, but with only two data words: undecodable."""
    raw = order_filled_v2(order_hash=order_hash)
    raw["data"] = "0x" + word(0) + word(TOKEN)
    return raw


async def wait_until(
    check: Callable[[], Awaitable[bool]], *, timeout: float = 30.0, what: str = "condition"
) -> None:
    """Poll ``check`` until true; fail the test (never on timing alone) after ``timeout``."""
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


ORACLE = "0x" + "0c" * 20


def condition_of(question: int, *, oracle: str = ORACLE, slots: int = 2) -> str:
    """The condition id ConditionalTokens gives (oracle, question id, outcome count)."""
    return condition_id(oracle, "0x" + word(question), slots)


def token_of(question: int, outcome: int, *, oracle: str = ORACLE) -> int:
    """The CTF position id of one outcome (USDC.e collateral, or wrapped for neg-risk)."""
    collateral = c.NEG_RISK_WRAPPED_COLLATERAL if oracle == c.NEG_RISK_ADAPTER else c.USDC_E
    return ctf_position_ids(condition_of(question, oracle=oracle), 2, collateral)[outcome]


def condition_preparation(question: int, *, oracle: str = ORACLE) -> dict[str, Any]:
    """ConditionalTokens ConditionPreparation of a binary condition."""
    return {
        "address": c.CONDITIONAL_TOKENS,
        "topics": [
            c.TOPIC_CONDITION_PREPARATION,
            condition_of(question, oracle=oracle),
            "0x" + word(oracle),
            "0x" + word(question),
        ],
        "data": "0x" + word(2),
    }


def condition_resolution(
    question: int, payouts: tuple[int, int] = (1, 0), *, oracle: str = ORACLE
) -> dict[str, Any]:
    """ConditionalTokens ConditionResolution (payoutNumerators is a dynamic array)."""
    return {
        "address": c.CONDITIONAL_TOKENS,
        "topics": [
            c.TOPIC_CONDITION_RESOLUTION,
            condition_of(question, oracle=oracle),
            "0x" + word(oracle),
            "0x" + word(question),
        ],
        "data": "0x" + "".join(word(v) for v in (2, 64, 2, *payouts)),
    }
