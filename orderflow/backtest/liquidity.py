"""The order book a follower meets, as far as the chain reveals it.

The chain shows fills, not the book. What it does show is every maker order that was filled:
a maker fill is resting liquidity that was there until a taker consumed it. So the book a
follower's order meets ``latency`` after its leader's trade is taken to be the maker fills of
the *next* trades in the same token, after that moment and within ``window``: their prices are
the levels, their sizes the depth. Those makers had their orders resting when the follower
arrived (or shortly after) — the follower would have taken them before the later taker did.

A follower BUYing token ``T`` meets the asks of ``T``: maker orders selling ``T`` at ``p``, and
maker orders buying the complement token at ``q`` (matched by minting, an ask of ``T`` at
``1 - q`` in Polymarket's unified book). A follower SELLing meets the bids: makers buying ``T``,
and makers selling the complement (merged, a bid of ``T`` at ``1 - q``).

The follower walks the levels best price first up to its limit price, each level at its own
price, paying the taker fee on each (the executor's paper fee formula). Its own impact stays:
every share it took is remembered (per follower) and is not there for its next order, so a
second order in the same token walks further up the book. Nothing revealed within the window
means no fill (the signal is skipped ``no_liquidity``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, MutableMapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Literal

import asyncpg

from orderflow.execution.paper import paper_fill

Side = Literal["BUY", "SELL"]
LevelKey = tuple[str, int]  # (tx_hash, log_index) of the maker fill
ZERO = Decimal(0)

_LEVELS = """
SELECT t.tx_hash, t.log_index, t.timestamp,
       CASE WHEN t.token_id = $1 THEN t.price ELSE 1 - t.price END AS price,
       t.size
  FROM orderflow_trades t
 WHERE NOT t.is_taker_aggregate
   AND t.timestamp > $3 AND t.timestamp <= $4
   AND ((t.token_id = $1 AND t.side = $5) OR (t.token_id = $2 AND t.side = $6))
 ORDER BY t.timestamp, t.block_number, t.log_index
"""

_COMPLEMENT = "SELECT complement_token_id FROM orderflow_tokens WHERE token_id = $1"


@dataclass(frozen=True, slots=True)
class Level:
    """One revealed maker order, priced in the followed token."""

    key: LevelKey
    time: datetime
    price: Decimal
    shares: Decimal


@dataclass(frozen=True, slots=True)
class DepthFill:
    """What walking the book gave: gross shares and collateral, fees, levels touched."""

    shares: Decimal
    usdc: Decimal
    fee: Decimal
    levels: int

    @property
    def price(self) -> Decimal | None:
        """Average price per share (None when nothing filled)."""
        return None if self.shares <= 0 else self.usdc / self.shares


def _better_first(levels: Iterable[Level], side: Side) -> list[Level]:
    """Best price first for a taker on ``side`` (cheapest ask / highest bid), then oldest."""
    if side == "BUY":
        return sorted(levels, key=lambda lv: (lv.price, lv.time, lv.key))
    return sorted(levels, key=lambda lv: (-lv.price, lv.time, lv.key))


def available(level: Level, consumed: Mapping[LevelKey, Decimal]) -> Decimal:
    return max(ZERO, level.shares - consumed.get(level.key, ZERO))


def best_price(
    levels: Iterable[Level], side: Side, consumed: Mapping[LevelKey, Decimal]
) -> Decimal | None:
    """The price a taker on ``side`` would get first, after the follower's own consumption."""
    for level in _better_first(levels, side):
        if available(level, consumed) > 0:
            return level.price
    return None


def walk(
    levels: Iterable[Level],
    side: Side,
    shares: Decimal,
    limit: Decimal,
    fee_rate: Decimal,
    consumed: MutableMapping[LevelKey, Decimal],
    at: datetime,
) -> DepthFill:
    """Take up to ``shares`` from the best levels within ``limit``; remember what was taken."""
    remaining, usdc, fee, touched = shares, ZERO, ZERO, 0
    for level in _better_first(levels, side):
        if remaining <= 0:
            break
        if (side == "BUY" and level.price > limit) or (side == "SELL" and level.price < limit):
            break
        take = min(available(level, consumed), remaining)
        if take <= 0:
            continue
        report = paper_fill(take, level.price, fee_rate, at)
        usdc += report.usdc
        fee += report.fee
        remaining -= take
        touched += 1
        consumed[level.key] = consumed.get(level.key, ZERO) + take
    return DepthFill(shares - remaining, usdc, fee, touched)


class ChainDepth:
    """Reads revealed levels from ``orderflow_trades`` (any stored history, simulated or real)."""

    def __init__(self) -> None:
        self._complements: dict[int, int | None] = {}

    async def complement(self, conn: asyncpg.Connection, token_id: int) -> int | None:
        if token_id not in self._complements:
            value = await conn.fetchval(_COMPLEMENT, Decimal(token_id))
            self._complements[token_id] = None if value is None else int(value)
        return self._complements[token_id]

    async def levels(
        self,
        conn: asyncpg.Connection,
        token_id: int,
        side: Side,
        after: datetime,
        until: datetime,
    ) -> list[Level]:
        """Levels a taker on ``side`` of ``token_id`` meets, revealed in ``(after, until]``."""
        complement = await self.complement(conn, token_id)
        same, other = ("SELL", "BUY") if side == "BUY" else ("BUY", "SELL")
        rows = await conn.fetch(
            _LEVELS,
            Decimal(token_id),
            None if complement is None else Decimal(complement),
            after,
            until,
            same,
            other,
        )
        return [
            Level((r["tx_hash"], r["log_index"]), r["timestamp"], r["price"], r["size"])
            for r in rows
        ]
