"""A taker's executed amounts from maker fills an earlier batch or file stored.

A file of OrderFilled rows holds no OrdersMatched: each taker aggregate's executed amounts are
rebuilt from the maker fills before it in its exchange and transaction
(``amounts.correct_unmatched_takers``), and kept as reported when those makers deliver less
than the taker received — some are not in the batch. A log-ordered dump split into files by row
count (a dataset's shards, an export's pages) puts a transaction's first maker fills at the end
of one file and the rest of it at the start of the next: those makers are stored already. Here
they are read back (by transaction hash, in the taker's block: one index probe of its
partition) and the correction runs again over them and the batch's fills of the transaction;
only the batch's fills change. Until 7 Dec 2026 such a taker was stored at the amounts its
OrderFilled reported, for good (the chain's backfill keeps a stored fill's giving amount).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import asyncpg

from orderflow.chain.amounts import correct_unmatched_takers
from orderflow.chain.events import Fill, FillFields

# The stored fills of the transactions, in the takers' blocks (partition pruning); amounts in
# base units (the ledger's usdc columns hold them exactly, six decimals).
STORED_FILLS = """
SELECT tx_hash, log_index, exchange, order_hash, is_taker_aggregate, side, token_id::text,
       (size * 1000000)::numeric(78, 0)::text AS shares,
       (usdc_size * 1000000)::numeric(78, 0)::text AS collateral
  FROM orderflow_trades
 WHERE chain_id = $1 AND block_number = ANY($2::bigint[]) AND tx_hash = ANY($3::text[])
"""


@dataclass(frozen=True, slots=True)
class _Ref:
    tx_hash: str
    log_index: int
    address: str


@dataclass(slots=True)
class _StoredFill:
    """A stored fill as the correction reads it (:class:`FillFields`)."""

    ref: _Ref
    order_hash: str
    is_taker_aggregate: bool
    side: str
    token_id: int
    shares: int
    collateral: int


async def complete_from_stored(
    conn: asyncpg.Connection, chain_id: int, fills: Sequence[Fill], short: Sequence[Fill]
) -> int:
    """Correct the ``short`` takers of ``fills`` (a batch's, in place) with the maker fills
    stored for their transactions; returns how many were corrected."""
    if not short:
        return 0
    txs = {f.ref.tx_hash for f in short}
    blocks = sorted({f.ref.block_number for f in short})
    stored = await conn.fetch(STORED_FILLS, chain_id, blocks, sorted(txs))
    if not stored:
        return 0
    ours = {(f.ref.tx_hash, f.ref.log_index) for f in fills if f.ref.tx_hash in txs}
    group: list[FillFields] = [
        _StoredFill(
            _Ref(r["tx_hash"], r["log_index"], r["exchange"]),
            r["order_hash"],
            r["is_taker_aggregate"],
            r["side"],
            int(r["token_id"]),
            int(r["shares"]),
            int(r["collateral"]),
        )
        for r in stored
        if (r["tx_hash"], r["log_index"]) not in ours  # the batch's own copy stands
    ]
    group.extend(f for f in fills if f.ref.tx_hash in txs)
    before = [(f.shares, f.collateral) for f in short]
    correct_unmatched_takers(group)
    return sum(1 for f, was in zip(short, before, strict=True) if (f.shares, f.collateral) != was)
