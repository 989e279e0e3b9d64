"""The writers' record of (transaction, block) pairs (migration 070, ``orderflow_writer_txs``):
where the search for a row stored at another block than its log's looks first
(``store_replace``, docs/listener.md "Storage"), and each batch's record of its own pairs.

A pair's key is 62 bits of the transaction hash (``orderflow_tx_key``) with the writer's code in
its top two bits; each code is one range of the key.
"""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg

_FILLS, _MATCHES = "orderflow_tmp_fills", "orderflow_tmp_matches"  # the staging tables

# Where a writer whose rows the batch's search reads (the other kind, either, and, for an
# import, the imports: two dumps can disagree on a row's block) stored the batch's transactions
# at another block (migration 070): the blocks a search reads, or NULLs (nothing to search, the
# usual answer). Each staged transaction's key is probed under each code the search reads
# (``Kind.reads``), an array, so that the plan is an index probe per transaction and code
# whatever the staging tables' (absent) statistics say; and not at all while none of those
# codes' ranges of the key holds a pair (one probe of each range: an import into an empty
# database). Each batch records its pairs under its own code.
_RANGE = 4611686018427387903  # a code's range of the key: its 62 low bits


def _holds(i: int) -> str:
    """Whether code ``$i``'s range of the key holds a pair (one probe)."""
    return (
        f"EXISTS (SELECT FROM orderflow_writer_txs e\n"
        f"                WHERE e.tx_key BETWEEN ${i}::bigint AND ${i}::bigint + {_RANGE})"
    )


def _elsewhere(staging: str, codes: int) -> str:
    # A code whose range holds no pair is probed as NULL (an initplan, evaluated once): the
    # index skips a NULL array element, so an import beside no node probes one key per
    # transaction, not three (docs/benchmarks.md "The store's statements besides the trades").
    probes = ", ".join(
        f"s.k | (SELECT ${i}::bigint WHERE {_holds(i)})" for i in range(1, codes + 1)
    )
    ranges = "\n    OR ".join(_holds(i) for i in range(1, codes + 1))
    return f"""
SELECT min(w.block_number), max(w.block_number)
  FROM (SELECT DISTINCT orderflow_tx_key(x.tx_hash) AS k, x.block_number
          FROM {staging} x) s
  JOIN orderflow_writer_txs w
    ON w.tx_key = ANY (ARRAY[{probes}])
   AND w.block_number <> s.block_number
 WHERE {ranges}
"""


_RECORD = """
INSERT INTO orderflow_writer_txs (tx_key, block_number)
SELECT DISTINCT orderflow_tx_key(x.tx_hash) | $1::bigint, x.block_number FROM {staging} x
ON CONFLICT DO NOTHING
"""
# Both staging tables' pairs in one statement (a batch's matches are mostly in its fills'
# transactions: their pairs would each be probed again as conflicts by a second statement).
RECORD_BOTH = """
INSERT INTO orderflow_writer_txs (tx_key, block_number)
SELECT DISTINCT orderflow_tx_key(x.tx_hash) | $1::bigint, x.block_number
  FROM (SELECT tx_hash, block_number FROM orderflow_tmp_fills
        UNION ALL
        SELECT tx_hash, block_number FROM orderflow_tmp_matches) x
ON CONFLICT DO NOTHING
"""
# The writers' codes, in the key's top two bits (migration 070): each code one range of it.
IMPORTED, EITHER, NODES = 0, 1 << 62, -(1 << 63)  # 00, 01 (stored before 070), 10


@dataclass(frozen=True, slots=True)
class Kind:
    """A writer's code in ``orderflow_writer_txs.tx_key`` and the codes its search reads: the
    node's, the other kind's and either's; an import's, every code (another dump's row of the
    same log at another block is a second copy too)."""

    code: int
    reads: tuple[int, ...]


IMPORT = Kind(code=IMPORTED, reads=(IMPORTED, EITHER, NODES))
NODE = Kind(code=NODES, reads=(IMPORTED, EITHER))


# By the number of codes a search reads (``len(Kind.reads)``).
ELSEWHERE_FILLS = {n: _elsewhere(_FILLS, n) for n in (2, 3)}
ELSEWHERE_MATCHES = {n: _elsewhere(_MATCHES, n) for n in (2, 3)}
RECORD_FILLS = _RECORD.format(staging=_FILLS)
RECORD_MATCHES = _RECORD.format(staging=_MATCHES)


async def record_pairs(
    conn: asyncpg.Connection, fills: bool, matches: bool, *, authoritative: bool
) -> None:
    """Record the (transaction, block) pairs of the staged fills and/or matches under the
    writer's code, in one statement when both are due. Recording a batch's fills after its
    matches were searched changes no search's outcome: a fill's pair widens a match search's
    blocks only, and that search reads the stored matches, whose own pairs are recorded."""
    code = (NODE if authoritative else IMPORT).code
    if fills and matches:
        await conn.execute(RECORD_BOTH, code)
    elif fills or matches:
        await conn.execute(RECORD_FILLS if fills else RECORD_MATCHES, code)


async def elsewhere(
    conn: asyncpg.Connection, statements: dict[int, str], kind: Kind
) -> tuple[int, int] | None:
    """The lowest and highest block where the writers whose codes ``kind`` reads (another
    kind, either before migration 070, and for an import the imports too) stored a transaction
    whose key is one of a staging table's rows' (``statements``: its ``ELSEWHERE_*``) at
    another block than the staged row's, or None. A key two transactions share only widens the
    search."""
    found = await conn.fetchrow(statements[len(kind.reads)], *kind.reads)
    if found is None or found[0] is None:
        return None
    return int(found[0]), int(found[1])
