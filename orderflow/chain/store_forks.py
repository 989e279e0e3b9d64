"""For the node's logs: what another fork left at the heights whose headers a batch records.

The node's batch (``store_batch(…, blocks=…, authoritative=True)``: the listener's backfill
ranges and live blocks) records the header of each block it read, and a row held at such a
height under another block hash is not of that block: a fork's left-over that no rollback
removed (a file recorded from a node's ``logs`` subscription across a reorg, from a node that
never sends ``removed: true``), or an imported row naming a wrong block under its real block's
hash. ``store_replace`` does not see it unless it holds a staged row's (transaction hash, log
index) at another block or its (block, log index): a transaction re-mined in the canonical block
usually has other log indexes, so the fork's fill stayed beside the node's, one fill counted
twice (trades, volume, wallet counters, position sums), while ``orderflow_blocks`` said the
height is the node's block (until 6 Dec 2026). Imports cannot add one later: a staged row
under another hash than the recorded one is refused (``store_sql.ORPHANED``).

So, right after the headers are recorded and before anything else of the batch is stored, the
fills, matches, refunds, conditions and resolutions held at their heights under another hash
are looked up (one SELECT, each table by its (chain, block) index — the conditions' since
migration 085; the DELETEs of partitioned tables cost their planning over every partition and
their statement triggers even when they delete nothing) and, for each height where some are,
everything held there under another hash is undone as a retraction of that block would
(``rollback.undo_forked``: the wallet counters, the sums through the delete trigger, refunds,
resolutions — a market Gamma resolved goes back to Gamma's —, conditions and their tokens).
Each row found is a dead letter naming it and the node's hash; fills and matches are counted in
``StoreStats.replaced_trades`` / ``replaced_matches`` as ``store_replace``'s rows are, with a
warning. A refund linked to a fill that went but is held under the node's hash waits for its
fill again (``refund_links.unlink_refunds``). Until 6 Dec 2026 conditions and resolutions
were not looked up: one held alone at a fork's height (no fill there) stayed, a market resolved
by an orphaned block (``tests/chain/test_fork_leftover_markets.py``).
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import asyncpg

from orderflow.chain.block_times import BlockHeader
from orderflow.chain.dead_letters import row_dead_letter
from orderflow.chain.events import DeadLetter
from orderflow.chain.refund_links import Deleted, unlink_refunds
from orderflow.chain.rollback import undo_forked

log = logging.getLogger(__name__)


def _held(lo: str, hi: str) -> str:
    """Every row the listener stores with its block, held at heights ``lo``..``hi`` (SQL
    parameters) of chain ``$1``: its kind, block, hash, transaction, log index and contract (none
    for ConditionalTokens' conditions and resolutions). The range bounds each table's index scan
    (and the partitions read) whatever plan the query gets."""
    between = f"BETWEEN {lo}::bigint AND {hi}::bigint"
    return f"""SELECT 'OrderFilled' AS kind, t.block_number, t.block_hash, t.tx_hash, t.log_index,
               t.exchange AS address
          FROM orderflow_trades t
         WHERE t.chain_id = $1 AND t.block_number {between}
        UNION ALL
        SELECT 'OrdersMatched', m.block_number, m.block_hash, m.tx_hash, m.log_index, m.exchange
          FROM orderflow_matches m
         WHERE m.chain_id = $1 AND m.block_number {between}
        UNION ALL
        SELECT 'FeeRefunded', f.block_number, f.block_hash, f.tx_hash, f.log_index, f.fee_module
          FROM orderflow_fee_refunds f
         WHERE f.chain_id = $1 AND f.block_number {between}
        UNION ALL
        SELECT 'ConditionPreparation', c.block_number, c.block_hash, c.tx_hash, c.log_index, NULL
          FROM orderflow_conditions c
         WHERE c.chain_id = $1 AND c.block_number {between}
        UNION ALL
        SELECT 'ConditionResolution', o.block_number, o.block_hash, o.tx_hash, o.log_index, NULL
          FROM orderflow_market_outcomes o
         WHERE o.chain_id = $1 AND o.block_number {between}"""


# The rows held at the headers' heights ($2) under another hash than theirs ($3), in the range of
# the heights ($4, $5): a batch's headers are of the blocks it read, new ones (nothing held: an
# index probe) or a replay's (their rows read once).
_FOUND = f"""
SELECT b.number, b.hash AS chain_hash, r.kind, r.tx_hash, r.log_index, r.block_hash, r.address
  FROM unnest($2::bigint[], $3::text[]) AS b(number, hash)
  JOIN ({_held("$4", "$5")}) r
    ON r.block_number = b.number AND r.block_hash <> b.hash
 ORDER BY b.number, r.kind, r.log_index
"""


# The heights of [$2, $3] holding a row of the filter's contracts ($4: its addresses; $5: it
# names ConditionalTokens, whose conditions and resolutions carry no address) under another block
# hash than the node's reply names for that height ($6, $7: each block of the reply's logs and its
# hash; an anti-join). A backfill range fetches their headers with its own (``held_elsewhere``).
_HELD_ELSEWHERE = f"""
SELECT DISTINCT r.block_number
  FROM ({_held("$2", "$3")}) r
 WHERE CASE WHEN r.address IS NULL THEN $5 ELSE r.address = ANY($4::text[]) END
   AND NOT EXISTS (SELECT 1 FROM unnest($6::bigint[], $7::text[]) AS k(number, hash)
                    WHERE k.number = r.block_number AND k.hash = r.block_hash)
"""


async def held_elsewhere(
    conn: asyncpg.Connection,
    chain_id: int,
    start: int,
    end: int,
    addresses: Collection[str],
    ctf: bool,
    reply: Iterable[tuple[int, str]],
) -> set[int]:
    """The heights of [start, end] where a row of ``addresses``' contracts (``ctf``: also
    conditions and resolutions) is held under another block hash than the node's reply names
    there (``reply``: each of its logs' block number and hash), or where the reply has no log.

    The node's batch undoes what is held at its headers' heights under another hash
    (``drop_forked``), and a backfill records a header only where a block holds our logs
    within the reorg window, ends a range, or is among the run's top blocks: a fork's row at
    another height stayed (until 6 Dec 2026: ``tests/chain_live/test_fork_leftover_unrecorded.py``).
    So a range fetches the headers of these heights with its own, and stores them with it.
    Nothing stored in the range (a first read): an index probe of each table."""
    known = dict.fromkeys(reply)
    rows = await conn.fetch(
        _HELD_ELSEWHERE,
        chain_id,
        start,
        end,
        [a.lower() for a in addresses],
        ctf,
        [n for n, _ in known],
        [h.lower() for _, h in known],
    )
    return {r[0] for r in rows}


@dataclass(slots=True)
class Forked:
    """What ``drop_forked`` removed: fills and matches (refunds, conditions and resolutions go
    uncounted, as in a rollback) and a dead letter for each fill, match, refund, condition and
    resolution."""

    trades: int = 0
    matches: int = 0
    dead: list[DeadLetter] = field(default_factory=list)


async def drop_forked(
    conn: asyncpg.Connection, chain_id: int, blocks: Sequence[BlockHeader]
) -> Forked:
    """Undo what is held at the heights of ``blocks`` (the node's headers, just recorded) under
    another block hash; in the caller's transaction (``store.store_batch``'s)."""
    done = Forked()
    headers = {b.number: b.hash.lower() for b in blocks}  # the last one of a height: the upsert's
    if not headers:
        return done
    found = await conn.fetch(
        _FOUND,
        chain_id,
        list(headers),
        list(headers.values()),
        min(headers),
        max(headers),
    )
    if not found:
        return done
    for number in dict.fromkeys(r["number"] for r in found):
        await undo_forked(conn, chain_id, number, headers[number])
    # A refund held under the node's hash whose linked fill went: it waits for its fill again.
    fills = [r for r in found if r["kind"] == "OrderFilled"]
    await unlink_refunds(conn, chain_id, [Deleted(r["tx_hash"], r["log_index"]) for r in fills])
    done.trades = len(fills)
    done.matches = sum(r["kind"] == "OrdersMatched" for r in found)
    numbers = {h: n for n, h in headers.items()}  # a row's hash may be another header's
    done.dead = [_forked(chain_id, r, numbers.get(r["block_hash"])) for r in found]
    log.warning(
        "rows held under another block hash than the node's header of their height removed",
        extra={"rows": len(found), "first": done.dead[0].reason},
    )
    return done


def _forked(chain_id: int, r: asyncpg.Record, real: int | None) -> DeadLetter:
    """The dead letter of a row held under another hash than the node's header of its height;
    ``real``: the height whose header in the batch has the row's hash, if one has."""
    at = (
        f"{r['kind']} stored at block {r['number']} (hash {r['block_hash']}), tx {r['tx_hash']}, "
        f"log index {r['log_index']}"
    )
    if real is not None:  # an import's row naming a wrong block, with its real block's hash
        why = f"that hash is the node's block {real}: the stored row named a wrong block"
    else:
        why = (
            f"the node's block {r['number']} is {r['chain_hash']}, which does not hold it (a "
            "fork's left over, or an imported row naming a wrong block)"
        )
    reason = f"{at}: {why}; removed with the rest held there under that hash"
    raw: dict[str, Any] = {
        "forked": r["kind"],
        "tx_hash": r["tx_hash"],
        "log_index": r["log_index"],
        "block_number": r["number"],
        "block_hash": r["block_hash"],
        "address": r["address"],
        "chain_hash": r["chain_hash"],
    }
    return row_dead_letter(chain_id, r, raw, reason, block="number", address="address")
