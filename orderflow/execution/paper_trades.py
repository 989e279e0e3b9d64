"""The on-chain settlement of paper fills: a level a reorg took away never filled anything.

A paper fill is booked from a maker fill the listener stored
(:mod:`orderflow.execution.paper_book`). Until the listener can no longer roll its block back
(:data:`FINAL_AFTER`: past its reorg window, ``REORG_WINDOW_BLOCKS`` = 256 Polygon blocks of
about 2 s), a reorg may delete it (:mod:`orderflow.chain.rollback`), and the liquidity the paper
order took never existed. The paper exchange answers for a paper fill's trade as the CLOB's
trades endpoint answers for a live one (:meth:`PaperBroker.trade`): ``MINED`` while its level is
stored and a reorg can still take it, ``CONFIRMED`` after, ``FAILED`` once the level is gone —
and then the match is marked reversed and the order's filled amount goes down (its unfilled part
rests again until its expiry). The desk's settlement books the reversal exactly as for a live
trade that failed (:mod:`orderflow.execution.trade_status`).

A reversed level still counts as taken: if the reorg's canonical chain holds the same maker fill
under the same (tx, log index), it is not offered again (the paper fill is lost, not doubled).
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime, timedelta

import asyncpg

from orderflow.execution.broker import ExchangeFill, FillReport
from orderflow.execution.depth import LevelKey
from orderflow.execution.paper_book import MATCH_LOCK, PAPER_TRADE

# How long after its block a level can still be rolled back: the listener's reorg window
# (256 blocks x ~2 s, about 9 minutes), with room for its lag.
FINAL_AFTER = timedelta(minutes=15)

# Whether each match's level is still stored: its maker fill in its block, so that only the
# block's partition is probed (pruned at execution by the match's block), not every partition on
# every pass for FINAL_AFTER. Same block and time, as on one chain two heights never share a
# time: a fill the new chain holds at another height was never this level.
_LEVEL_MATCHES = """
SELECT m.order_key, m.level_time, m.price, m.shares, m.usdc, m.fee, m.reversed_at,
       EXISTS (SELECT 1 FROM orderflow_trades t
                WHERE t.tx_hash = m.level_tx AND t.log_index = m.level_log
                  AND t.block_number = m.level_block AND t.timestamp = m.level_time) AS stored
  FROM orderflow_paper_matches m
 WHERE m.order_key = ANY($1::text[]) AND m.level_tx = $2 AND m.level_log = $3
 ORDER BY m.order_key
"""

_REVERSE = """
WITH m AS (
    UPDATE orderflow_paper_matches SET reversed_at = $4
     WHERE order_key = $1 AND level_tx = $2 AND level_log = $3 AND reversed_at IS NULL
    RETURNING order_key, shares)
UPDATE orderflow_paper_orders o SET filled = o.filled - m.shares FROM m
 WHERE o.order_key = m.order_key
"""


def level_of(trade_id: str) -> LevelKey | None:
    """The level a paper fill's trade id names (``paper:<tx>:<log index>``; None: not one)."""
    prefix, _, rest = trade_id.partition(PAPER_TRADE)
    tx, _, log = rest.rpartition(":")
    if prefix or not tx or not log.isdigit():
        return None
    return tx, int(log)


async def trade(
    conn: asyncpg.Connection, trade_id: str, keys: Collection[str], now: datetime
) -> list[ExchangeFill]:
    """The paper fills of these orders under ``trade_id``, with their settlement status; a
    level no longer stored is reversed here (once: under the matching pass's lock)."""
    level = level_of(trade_id)
    if level is None:
        return []
    out: list[ExchangeFill] = []
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", MATCH_LOCK)
        for r in await conn.fetch(_LEVEL_MATCHES, list(keys), *level):
            if r["reversed_at"] is None and not r["stored"]:
                await conn.execute(_REVERSE, r["order_key"], *level, now)
                status = "FAILED"
            elif r["reversed_at"] is not None:
                status = "FAILED"
            elif r["level_time"] <= now - FINAL_AFTER:
                status = "CONFIRMED"
            else:
                status = "MINED"
            out.append(
                ExchangeFill(
                    order_id=r["order_key"],
                    fill=FillReport(
                        fill_key=trade_id,
                        shares=r["shares"],
                        usdc=r["usdc"],
                        fee=r["fee"],
                        price=r["price"],
                        at=r["level_time"],
                        trade_status=status,
                    ),
                )
            )
    return out
