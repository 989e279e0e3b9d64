"""FeeModule refunds stored: inserted, replaced by the node's log, refused from an import.

Called by ``store.store_batch`` inside its transaction, after the fills; linking each refund to
the fill it refunds, and taking it off that fill's fee, is :mod:`orderflow.chain.refund_links`
(``link_refunds``, ``unlink_refunds``).

The node's log of a refund is the chain, as its fills are (``store_replace``): a stored refund
with the (chain, transaction hash, log index) of one of the node's batch but other content (an
import's other amount, wallet, token, order, charged fee or block) is replaced by it
(``replace_refunds``, for the node's batches only, before the insert: one probe of the primary
key per refund of the batch): deleted, its fill's fee as charged again, a dead letter naming it;
the node's is then inserted and the batch's link applies it. Until 6 Dec 2026 the insert skipped
the stored row: the import's amount stayed, and so did the fee it left on its fill
(``tests/history/test_refund_replaced.py``). An import's refund that differs from a stored one is
not stored (the first stored stays, as for an import's fills, until the node's log comes): it is
a dead letter naming both (``refused_refunds``). Until 6 Dec 2026 it was dropped without one
(``tests/chain/test_refund_import_differs.py``).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import asyncpg

from orderflow.chain.dead_letters import row_dead_letter, stored_place
from orderflow.chain.events import DeadLetter, FeeRefund
from orderflow.chain.store_sql import CHAIN_FILTER

log = logging.getLogger(__name__)

# The batch's refunds ($2-$12), and the stored columns of each (its key: the chain, $1, and
# the first two), as INSERT_REFUNDS stores them and DIFFERING compares them.
_ROWS = """unnest($2::text[], $3::int[], $4::bigint[], $5::text[], $6::bigint[], $7::text[],
              $8::text[], $9::text[], $10::text[], $11::text[], $12::text[])
       AS r(tx_hash, log_index, block_number, block_hash, ts, module, wallet, token_id, refund,
            order_hash, fee_charged)"""
_STORED = (
    "block_number",
    "block_hash",
    "timestamp",
    "fee_module",
    "wallet_address",
    "token_id",
    "refund",
    "order_hash",
    "fee_charged",
)
_VALUES = """r.block_number, r.block_hash, to_timestamp(r.ts), r.module, r.wallet,
       r.token_id::numeric, r.refund::numeric / 1000000, r.order_hash,
       r.fee_charged::numeric / 1000000"""

INSERT_REFUNDS = f"""
INSERT INTO orderflow_fee_refunds (chain_id, tx_hash, log_index, {", ".join(_STORED)})
SELECT $1, r.tx_hash, r.log_index, {_VALUES}
  FROM {_ROWS}
ON CONFLICT (chain_id, tx_hash, log_index) DO NOTHING
"""

# For the node's logs: stored refunds with the key of one of the batch's whose content differs
# (an import's: its amount, wallet, token, order, block…), by the primary key. The node's log is
# the chain: such a row is undone (UNDO_REFUNDS) and the node's inserted in its place.
DIFFERING = f"""
SELECT s.tx_hash, s.log_index, s.block_number, s.block_hash, s.fee_module, s.wallet_address,
       s.token_id::text AS token_id, s.refund, r.block_number AS chain_block,
       r.wallet AS chain_wallet, (r.refund::numeric / 1000000)::numeric(38, 6) AS chain_refund
  FROM {_ROWS}
  JOIN orderflow_fee_refunds s
    ON s.chain_id = $1 AND s.tx_hash = r.tx_hash AND s.log_index = r.log_index
 WHERE ({", ".join(f"s.{column}" for column in _STORED)})
       IS DISTINCT FROM ({_VALUES})
"""

# Those refunds ($2, $3: their transaction and log index) deleted, and each one's application to
# its fill undone: the fee as charged again (APPLY set ``fee_refunded`` to the refund). The
# fills by transaction (the hash index of each partition).
UNDO_REFUNDS = f"""
WITH d AS (
    DELETE FROM orderflow_fee_refunds f
     USING unnest($2::text[], $3::int[]) AS g(tx_hash, log_index)
     WHERE f.chain_id = $1 AND f.tx_hash = g.tx_hash AND f.log_index = g.log_index
    RETURNING f.tx_hash, f.trade_log_index, f.refund)
UPDATE orderflow_trades t
   SET fee = t.fee + d.refund, fee_refunded = 0
  FROM d
 WHERE t.{CHAIN_FILTER} AND t.tx_hash = d.tx_hash AND t.log_index = d.trade_log_index
   AND t.fee_refunded = d.refund
"""


def _columns(rows: Sequence[tuple[FeeRefund, int]]) -> list[list[object]]:
    """The refunds (each with its block's epoch seconds) as ``_ROWS``'s arrays, $2-$12."""
    return [
        [r.ref.tx_hash for r, _ in rows],
        [r.ref.log_index for r, _ in rows],
        [r.ref.block_number for r, _ in rows],
        [r.ref.block_hash for r, _ in rows],
        [ts for _, ts in rows],
        [r.ref.address for r, _ in rows],
        [r.wallet for r, _ in rows],
        [str(r.token_id) for r, _ in rows],
        [str(r.refund) for r, _ in rows],
        [r.order_hash for r, _ in rows],
        [None if r.fee_charged is None else str(r.fee_charged) for r, _ in rows],
    ]


async def insert_refunds(
    conn: asyncpg.Connection, chain_id: int, rows: Sequence[tuple[FeeRefund, int]]
) -> int:
    """Store refunds (each with its block's epoch seconds); returns how many were new."""
    if not rows:
        return 0
    status = await conn.execute(INSERT_REFUNDS, chain_id, *_columns(rows))
    return int(status.rsplit(" ", 1)[-1])


async def replace_refunds(
    conn: asyncpg.Connection, chain_id: int, rows: Sequence[tuple[FeeRefund, int]]
) -> list[DeadLetter]:
    """For the node's refunds ``rows``, before ``insert_refunds``: a stored refund with the key
    of one of them but other content (an import's) is deleted, its fill's fee as charged again,
    so that the node's is inserted and the batch's link applies it. A dead letter each."""
    if not rows:
        return []
    found = await conn.fetch(DIFFERING, chain_id, *_columns(rows))
    if not found:
        return []
    await conn.execute(
        UNDO_REFUNDS, chain_id, [r["tx_hash"] for r in found], [r["log_index"] for r in found]
    )
    letters = [_replaced(chain_id, r) for r in found]
    log.warning(
        "stored refunds the node's logs contradict replaced by the node's",
        extra={"rows": len(found), "first": letters[0].reason},
    )
    return letters


async def refused_refunds(
    conn: asyncpg.Connection, chain_id: int, rows: Sequence[tuple[FeeRefund, int]]
) -> list[DeadLetter]:
    """For an import's refunds ``rows``, after ``insert_refunds`` stored fewer than all: each
    one the insert skipped because a refund of its key with other content is stored (another
    amount, wallet, token, order, charged fee or block) is a dead letter naming both; the
    stored one stays (an import is not the chain: the node's log replaces it,
    ``replace_refunds``). An identical replay is none."""
    found = await conn.fetch(DIFFERING, chain_id, *_columns(rows))
    raws = {(r.ref.tx_hash, r.ref.log_index): r.ref.raw for r, _ in rows}
    letters = []
    for r in found:
        reason = (
            f"FeeRefunded at block {r['chain_block']}, log index {r['log_index']} (tx "
            f"{r['tx_hash']}) not stored: that (chain, transaction hash, log index) is already "
            f"held by a refund with other content (stored at block {r['block_number']}, hash "
            f"{r['block_hash']}: {r['refund']} to {r['wallet_address']}; this one: "
            f"{r['chain_refund']} to {r['chain_wallet']}; or the token, order or block) — the "
            "stored one stays until the node's log of it replaces it if it is wrong"
        )
        raw = raws.get((r["tx_hash"], r["log_index"]))
        letters.append(
            row_dead_letter(
                chain_id,
                r,
                raw if raw is not None else {"staged": "FeeRefunded", **stored_place(r)},
                reason,
                block="chain_block",
                address="fee_module",
            )
        )
    return letters


def _replaced(chain_id: int, r: asyncpg.Record) -> DeadLetter:
    """The dead letter of a stored refund the node's log replaced."""
    reason = (
        f"FeeRefunded stored at block {r['block_number']} (hash {r['block_hash']}), tx "
        f"{r['tx_hash']}, log index {r['log_index']}, differs from the node's log of block "
        f"{r['chain_block']} (stored: {r['refund']} to {r['wallet_address']}; the node's: "
        f"{r['chain_refund']} to {r['chain_wallet']}; or the token, order or block) (an "
        "imported row, or a fork's left over); replaced by the node's"
    )
    raw: dict[str, Any] = {
        "replaced": "FeeRefunded",
        **stored_place(r),
        "fee_module": r["fee_module"],
        "wallet_address": r["wallet_address"],
        "token_id": r["token_id"],
        "refund": str(r["refund"]),
        "chain_block": r["chain_block"],
    }
    return row_dead_letter(chain_id, r, raw, reason, address="fee_module")
