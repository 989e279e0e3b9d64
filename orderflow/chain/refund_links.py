"""FeeModule refunds linked to the fill they refund, and taken off that fill's fee.

Called by ``store.store_batch`` inside its transaction, after the fills and the refunds
(:mod:`orderflow.chain.store_refunds`). A refund and its fill share a transaction, so they
normally arrive in the same batch; a refund stored before its fill (a batch split by
``store_guard``) stays unlinked until the fill comes: linking looks at the unlinked refunds (a
partial index) of every transaction with a refund or a V1 fill in the batch.

Matching (within one transaction, fills of the V1 exchanges only):

* 2025 module — the fill whose order hash and wallet are the refund's;
* 2023 module — a maker fill (not the taker's aggregate row) of the refund's wallet whose fee
  asset is the refunded asset (``token_id`` 0: collateral, a SELL; else that token, a BUY);
* in both, a fill not refunded yet whose fee covers the refund, the lowest log index first.

A refund is applied once: the fill's ``fee_refunded`` goes from 0 to the refund and its ``fee``
down by as much, in the same statement that records the link. A rollback deletes both rows
(same block), and a re-ingested fill is linked again.

A fill deleted on its own (``store_replace``: the node's log replaced an imported row;
``store_forks``: a fork's left-over beside the node's block) leaves its refund: the node's log of
the refund is the same row (same transaction and log index), so its insert stores nothing, and a
refund still linked is never applied again. ``unlink_refunds`` unlinks it (unless another stored
fill holds the link) and moves it to the node's block of its transaction when that is known, so
that the link of the batch applies it to the node's fill."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import NamedTuple

import asyncpg

from orderflow.chain.store_sql import CHAIN_FILTER

SELECT_UNLINKED = """
SELECT tx_hash, log_index, wallet_address, token_id::text AS token_id, refund, order_hash
  FROM orderflow_fee_refunds
 WHERE chain_id = $1 AND trade_log_index IS NULL AND tx_hash = ANY($2::text[])
"""

# Trades by transaction: the chain a filter, not an index condition (store_sql.CHAIN_FILTER).
SELECT_CANDIDATES = f"""
SELECT tx_hash, log_index, order_hash, wallet_address, token_id::text AS token_id, fee_asset,
       is_taker_aggregate, fee
  FROM orderflow_trades
 WHERE {CHAIN_FILTER} AND tx_hash = ANY($2::text[]) AND exchange_version = 'V1'
   AND fee_refunded = 0
"""

APPLY = f"""
WITH links AS (
    SELECT * FROM unnest($2::text[], $3::int[], $4::int[], $5::numeric[])
             AS l(tx_hash, refund_log_index, trade_log_index, refund)
), trades AS (
    UPDATE orderflow_trades t
       SET fee = t.fee - l.refund, fee_refunded = l.refund
      FROM links l
     WHERE t.{CHAIN_FILTER} AND t.tx_hash = l.tx_hash AND t.log_index = l.trade_log_index
       AND t.fee_refunded = 0 AND t.fee >= l.refund
    RETURNING t.tx_hash, t.log_index
)
UPDATE orderflow_fee_refunds r
   SET trade_log_index = l.trade_log_index
  FROM links l JOIN trades t ON t.tx_hash = l.tx_hash AND t.log_index = l.trade_log_index
 WHERE r.chain_id = $1 AND r.tx_hash = l.tx_hash AND r.log_index = l.refund_log_index
"""


# The refunds linked to fills just deleted ($2, $3: their transaction and log index), in the
# caller's transaction after the delete: each waits for its fill again (trade_log_index NULL,
# the partial index SELECT_UNLINKED reads), unless a stored fill refunded already still holds
# that (transaction, log index) — a second copy at another block, refunded by the same APPLY,
# keeps it (one not refunded is a candidate of the link again: the refund goes to it). A refund
# whose fill the node's log replaced goes to that log's block, hash and time ($4-$6, NULL: left
# as they are): a refund shares its fill's transaction, hence its block, and a rollback or
# retraction of the node's block must find it there. Refunds are few: the trades probe (by
# transaction: the hash index of each partition) runs for the refunds found only.
UNLINK = f"""
UPDATE orderflow_fee_refunds r
   SET trade_log_index = CASE WHEN EXISTS (
           SELECT 1 FROM orderflow_trades t
            WHERE t.{CHAIN_FILTER} AND t.tx_hash = r.tx_hash AND t.log_index = r.trade_log_index
              AND t.fee_refunded > 0)
       THEN r.trade_log_index END,
       block_number = coalesce(g.block_number, r.block_number),
       block_hash = coalesce(g.block_hash, r.block_hash),
       timestamp = coalesce(to_timestamp(g.ts), r.timestamp)
  FROM unnest($2::text[], $3::int[], $4::bigint[], $5::text[], $6::bigint[])
       AS g(tx_hash, log_index, block_number, block_hash, ts)
 WHERE r.chain_id = $1 AND r.tx_hash = g.tx_hash AND r.trade_log_index = g.log_index
"""


class Deleted(NamedTuple):
    """A fill deleted on its own, and where the node's log of it is (``unlink_refunds``)."""

    tx_hash: str
    log_index: int
    block: tuple[int, str, int] | None = None  # the node's (number, hash, epoch seconds)


@dataclass(frozen=True, slots=True)
class _Refund:
    tx_hash: str
    log_index: int
    wallet: str
    token_id: str
    refund: Decimal
    order_hash: str | None


@dataclass(frozen=True, slots=True)
class _Candidate:
    tx_hash: str
    log_index: int
    order_hash: str
    wallet: str
    token_id: str
    fee_asset: str
    is_taker_aggregate: bool
    fee: Decimal


def _fits(r: _Refund, t: _Candidate) -> bool:
    if t.tx_hash != r.tx_hash or t.wallet != r.wallet or t.fee < r.refund:
        return False
    if r.order_hash is not None:
        return t.order_hash == r.order_hash
    if t.is_taker_aggregate:
        return False  # the 2023 module refunds maker orders only
    if not int(r.token_id):
        return t.fee_asset == "COLLATERAL"
    return t.fee_asset == "SHARES" and t.token_id == r.token_id


def assign(
    refunds: Sequence[_Refund], candidates: Sequence[_Candidate]
) -> list[tuple[_Refund, _Candidate]]:
    """Each refund to one fill, each fill at most once, in log order (pure; tested alone)."""
    taken: set[tuple[str, int]] = set()
    links = []
    ordered = sorted(candidates, key=lambda c: (c.tx_hash, c.log_index))
    for r in sorted(refunds, key=lambda r: (r.tx_hash, r.log_index)):
        for t in ordered:
            if (t.tx_hash, t.log_index) not in taken and _fits(r, t):
                taken.add((t.tx_hash, t.log_index))
                links.append((r, t))
                break
    return links


async def link_refunds(conn: asyncpg.Connection, chain_id: int, tx_hashes: list[str]) -> int:
    """Apply the refunds of these transactions still waiting for their fill; returns how many.

    ``tx_hashes``: the transactions of the batch's refunds and V1 fills (refunds apply to V1
    fills only, so a batch of V2/V3 trades costs nothing here)."""
    if not tx_hashes:
        return 0
    waiting = [
        _Refund(
            r["tx_hash"],
            r["log_index"],
            r["wallet_address"],
            r["token_id"],
            r["refund"],
            r["order_hash"],
        )
        for r in await conn.fetch(SELECT_UNLINKED, chain_id, tx_hashes)
    ]
    if not waiting:
        return 0
    candidates = [
        _Candidate(
            c["tx_hash"],
            c["log_index"],
            c["order_hash"],
            c["wallet_address"],
            c["token_id"],
            c["fee_asset"],
            c["is_taker_aggregate"],
            c["fee"],
        )
        for c in await conn.fetch(SELECT_CANDIDATES, chain_id, sorted({r.tx_hash for r in waiting}))
    ]
    links = assign(waiting, candidates)
    if not links:
        return 0
    status = await conn.execute(
        APPLY,
        chain_id,
        [r.tx_hash for r, _ in links],
        [r.log_index for r, _ in links],
        [t.log_index for _, t in links],
        [r.refund for r, _ in links],
    )
    return int(status.rsplit(" ", 1)[-1])


async def unlink_refunds(conn: asyncpg.Connection, chain_id: int, gone: Sequence[Deleted]) -> None:
    """The refunds of the fills ``gone`` (just deleted) wait for their fill again, at the node's
    block of it when known (``UNLINK``); the batch's ``link_refunds`` then applies them to the
    node's fill, as if only its logs had been stored."""
    if not gone:
        return
    await conn.execute(
        UNLINK,
        chain_id,
        [g.tx_hash for g in gone],
        [g.log_index for g in gone],
        [g.block[0] if g.block else None for g in gone],
        [g.block[1] if g.block else None for g in gone],
        [g.block[2] if g.block else None for g in gone],
    )
