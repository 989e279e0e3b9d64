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

The follower's order rests at its limit for its life and meets these levels as they are revealed
(:mod:`orderflow.backtest.resting`), by the paper exchange's rule
(:func:`orderflow.execution.depth.fill_resting`): the offers it could have met on arrival, best
price first up to its limit, each at its own price with the taker fee (the executor's paper fee
formula); the flow revealed beyond that limit — sellers below a BUY's limit, in either book — at
the limit, as maker. Its own impact stays: every share it took is remembered (per follower) and
is not there for another of its orders. Nothing revealed within the window means no fill (the
signal is skipped ``no_liquidity``).
"""

from __future__ import annotations

from bisect import bisect_right
from datetime import datetime, timedelta

import asyncpg

from orderflow.backtest.history import COMPLEMENT_JOIN
from orderflow.chain import pruning
from orderflow.execution.depth import Level, LevelKey
from orderflow.signals.quotes import levels_of
from orderflow.signals.views import Side

# Every maker fill of a time range, with its token's complement (history.COMPLEMENT_JOIN): each
# is a level of two books.
_MAKER_FILLS = f"""
SELECT t.tx_hash, t.log_index, t.timestamp, t.token_id, t.side, t.price, t.size,
       comp.token_id AS complement_token_id
  FROM orderflow_trades t{COMPLEMENT_JOIN}
 WHERE NOT t.is_taker_aggregate AND t.timestamp > $1 AND t.timestamp <= $2
   AND {pruning.since("$1", "t")} AND {pruning.until("$2", "t")}
 ORDER BY t.timestamp, t.block_number, t.log_index
"""


class ChainDepth:
    """Reads revealed levels from ``orderflow_trades`` (any stored history, simulated or real).

    Requests come in time order (decision times only grow), so maker fills are read in chunks
    of ``chunk`` ahead and dropped once behind every later request: one query per chunk rather
    than one per signal, and memory bounded by a chunk plus the window.

    A maker SELL of token ``X`` at ``p`` is an ask of ``X`` at ``p`` and, through a merge, a bid
    of its complement at ``1 - p``; a maker BUY of ``X`` is a bid of ``X`` and, through a mint,
    an ask of the complement at ``1 - p`` (:func:`orderflow.signals.quotes.levels_of`, which the
    executor's quotes read fills with too).
    """

    def __init__(self, chunk: timedelta = timedelta(hours=6)) -> None:
        self.chunk = chunk
        self._books: dict[tuple[int, Side], list[Level]] = {}
        self._loaded: datetime | None = None
        self._floor: datetime | None = None

    async def _load(self, conn: asyncpg.Connection, after: datetime, until: datetime) -> None:
        if self._loaded is None or after < (self._floor or after) or after > self._loaded:
            self._books, self._loaded = {}, after  # first use, a jump, or asked about the past
        self._floor = after
        self._books = {
            key: [lv for lv in levels if lv.time > after] for key, levels in self._books.items()
        }
        end = max(until, self._loaded + self.chunk)
        for r in await conn.fetch(_MAKER_FILLS, self._loaded, end):
            key: LevelKey = (r["tx_hash"], r["log_index"])
            complement = r["complement_token_id"]
            for token, met, price in levels_of(
                int(r["token_id"]),
                None if complement is None else int(complement),
                r["side"],
                False,
                r["price"],
            ):
                self._books.setdefault((token, met), []).append(
                    Level(key, r["timestamp"], price, r["size"])
                )
        self._loaded = end

    async def levels(
        self,
        conn: asyncpg.Connection,
        token_id: int,
        side: Side,
        after: datetime,
        until: datetime,
    ) -> list[Level]:
        """Levels a taker on ``side`` of ``token_id`` meets, revealed in ``(after, until]``."""
        if self._loaded is None or until > self._loaded or after < (self._floor or after):
            await self._load(conn, after, until)
        book = self._books.get((token_id, side), [])
        times = [lv.time for lv in book]
        return book[bisect_right(times, after) : bisect_right(times, until)]
