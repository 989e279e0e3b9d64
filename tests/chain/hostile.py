"""Hostile or corrupt log values, as JSON text a node or a file can carry (shared by tests).

Each case is one raw JSON line built from a valid fill by replacing a fragment of its text,
because several of these values (NaN, a lone surrogate escape, 1e400) only exist as JSON text:
``json.dumps`` would never write them. ``stored`` says whether the log is still a valid fill
(the hostile value sits in a field the decoder does not read).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from orderflow.chain.encode_trades import encode_fill
from tests.chain.factory import addr, at, h32

TOKEN = 8851848546962572193739008211889046036776198486765606333032192644001246174440


def fill(block: int, log_index: int, tx: int, *, maker: int = 0xA1) -> dict[str, Any]:
    """A plain V2 BUY of 10 shares at 0.5 (not a taker aggregate)."""
    return encode_fill(
        "V2",
        at=at(block, log_index, tx),
        order_hash=h32(1000 + 100 * tx + log_index),
        maker=addr(maker),
        taker=addr(0xB0),
        side="BUY",
        token_id=TOKEN,
        shares=10_000_000,
        collateral=5_000_000,
    )


@dataclass(frozen=True)
class Hostile:
    name: str
    field: str  # the field whose JSON value is replaced ("" = the whole line)
    value: str  # JSON text of the hostile value
    stored: bool = False  # still a storable fill

    def line(self, raw: dict[str, Any]) -> str:
        if not self.field:
            return self.value
        text = json.dumps({k: v for k, v in raw.items() if k != self.field})
        return text[:-1] + f', "{self.field}": {self.value}}}'


DEEP = "[" * 100_000 + "]" * 100_000

CASES = [
    Hostile("logIndex 2**31", "logIndex", '"0x80000000"'),
    Hostile("logIndex 2**64", "logIndex", '"0x10000000000000000"'),
    Hostile("blockNumber 2**63", "blockNumber", '"0x8000000000000000"'),
    Hostile("blockNumber 2**256", "blockNumber", '"0x1' + "0" * 64 + '"'),
    Hostile("logIndex NaN", "logIndex", "NaN"),
    Hostile("blockNumber Infinity", "blockNumber", "-Infinity"),
    Hostile("logIndex 1e400", "logIndex", "1e400"),
    Hostile("NaN in a field nobody reads", "transactionIndex", "NaN", stored=True),
    Hostile("lone surrogate in address", "address", '"0xe111180000d2663c0091e4f4\\ud800"'),
    Hostile("lone surrogate in topics", "topics", '["\\udfff", "x"]'),
    Hostile("lone surrogate in data", "data", '"0x\\ud83d"'),
    Hostile("lone surrogate in an unread field", "transactionIndex", '"\\ud800"', stored=True),
    Hostile("NUL in address", "address", '"0x\\u0000e111"'),
    Hostile("NUL in topic0", "topics", '["0xd543\\u0000"]'),
    Hostile("negative logIndex", "logIndex", "-1"),
    Hostile("boolean logIndex", "logIndex", "true"),
    Hostile("float blockNumber", "blockNumber", "12.5"),
    Hostile("null blockHash", "blockHash", "null"),
    Hostile("object topics", "topics", '{"0": "x"}'),
    Hostile("huge data", "data", '"0x' + "ab" * 300_000 + '"'),
    Hostile("huge integer", "logIndex", "9" * 5000),
    Hostile("timestamp past year 9999", "blockTimestamp", '"0xffffffffffff"'),
    Hostile("deeply nested logIndex", "logIndex", DEEP),
    Hostile("deeply nested unread field", "removed", DEEP, stored=True),
    Hostile("deeply nested line", "", DEEP),
    Hostile("a bare string line", "", '"\\ud800"'),
]
