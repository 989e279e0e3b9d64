"""Closing lines and marks of tokens some of whose fills are no longer in ``orderflow_trades``.

A partition of the trades detached for archiving (``orderflow db partitions detach``, or by
hand; docs/scaling.md 3.1) takes its fills out of every statement that reads the trades, while
the per-(wallet, token) sums (migration 011) keep its positions. The closing lines
(:data:`orderflow.reputation.evidence_sql.CLOSES`: the last trade by the token's closing time and
the one before it, and an open token's last trade) are read from the trades: computed again
from what is attached, a line whose trades were detached comes out missing or wrong, and with it
every wallet's closing-line value (the edge's control variate: ``edge_raw`` and ``clv_edge``).

So a line computed again (a full run, or an incremental run's changed tokens) that differs from
the stored one (:data:`CLOSES`, what the last live run kept) is checked: when the token's fills in
the sums (``rep_positions.fills``, every fill at or before the cut-off) outnumber its fills in the
trades at or before the cut-off, some are detached, and the stored resolved line stays (when there
is one) if it was read with every fill of the token attached (``whole``) and the new one closes no
later (a newer fill made it). Only tokens whose line differs, or that have no stored line, are
counted (their fills, by the token index ``orderflow_trades_token_time``, migration 028). A detach
by hand is found the same way: nothing needs marking. ``whole`` is kept with the line: a new line
that differs is whole unless its token is counted short, one the same as the stored line is as
whole as it, a line kept is whole. Until 7 Dec 2026 a stored line stayed whatever it was read
from, so one an incremental run read while the partition was already detached (from the attached
fills alone) stayed against the reference's read of the same fills (seed 21 of
tests/reputation/test_incremental_property.py ``test_deletes_while_detached``: ``prev_price``
None against 0.3). Not by the blocks a line read (as the marks are): a detached month between
two attached ones moved a line whose newest and oldest read fills were both attached
(tests/reputation/test_detach_scores.py; its window's prints are read through the wash groups,
which the detached fills made too).

Two more conditions since 7 Dec 2026 (tests/reputation/test_closes_whole_detached.py, failing
first, seeds 1-3). A stored line stays only while its last fill (``close_block``: the block of
the token's last trade by its closing time, ``close_at``; the line's window ends there) is still
there -- in a detached partition, or attached and in the trades: attached and gone, a rollback
(a reorg, a retracted block, a replaced import) took it and every later fill, and the line read
fills no longer on the chain; it is read again from what is attached (before, a reorg taking a
line's last prints while an older partition was detached kept the line of the prints it took).
And the first live run, which has no stored line to compare with, judges every line it computes
as a new one (:data:`NONE_STORED`: whole unless its token is counted short; the tokens counted
only when the sums hold more fills than the trades, :data:`ANY_SHORT`; before, every line
of that run was whole, so one read from the attached fills alone was kept against later fills
of its window). Not covered: a fill deleted inside the window but not its last (one block
retracted, an import's fill replaced by the node's), and fills of the window stored after the
line (a late backfill) when the line was whole: the token is counted short either way, and the
stored line stays.

An open token's mark is kept by its fill's block: ``rep_close`` carries the block of the fill
its mark is read at (``mark_block``), and a stored mark whose block is in no attached partition
(detached, or dropped after archiving; the partitions' bounds from the catalog) is one no run can
read again. Before a run replaces stored rows, their marks of such blocks are kept
(:data:`REMEMBER`, the newest per token, in :data:`DETACHED_MARKS`, migration 093: apart from
the rows, which a run rewrites and where a token nobody holds open has none); the kept mark is
the token's where it is newer than the attached fills' (where no attached fill marks the token:
always: :data:`MARKS`); a full run drops those whose block is attached again (:data:`PRUNE`). A
stored mark whose block is in an attached partition is read again from the trades, or not at
all: its fill was deleted (a rollback, a retracted block, an import replaced) and its mark goes
with it. Until 7 Dec 2026 a mark now missing kept the stored one whatever its fill, so a
database that had stored the mark of a fill a rollback then deleted kept it, and one that had
not kept the detached fills' (tests/reputation/test_incremental_property.py
``test_deletes_while_detached``, seed 9: ``unrealized_pnl`` -177.61 against -196.61).

An incremental run and a full run therefore keep the same lines and marks, and a detached
month leaves the closing lines and marks its fills made. Not kept: a line no live run computed
while the fills were attached (a token resolved after its fills were detached: its line is read
from the attached fills); a line kept is the stored one even if the token's resolution moved
since (a reorg of a resolution whose fills are detached).
"""

from __future__ import annotations

from datetime import datetime

import asyncpg

from orderflow.db import table_exists
from orderflow.reputation.gate import GATED_TRADES
from orderflow.reputation.probe import among

# The stored closing lines and marks (kept by a live run, :mod:`orderflow.reputation.stored_inputs`,
# which names its tables after this one).
CLOSES = "orderflow_reputation_closes"

# Whether the stored lines have the column $2 (a table stored before ``whole`` has not: every
# line whole; before ``close_block``: the stored line's last fill unknown, as before it).
_HAS_COLUMN = """
SELECT EXISTS (SELECT 1 FROM pg_attribute
                WHERE attrelid = to_regclass($1) AND attname = $2 AND NOT attisdropped)
"""

# No stored line (the first live run): every computed line is new, judged as one is.
NONE_STORED = "(SELECT * FROM rep_close WHERE false)"

# The stored lines of rep_close's tokens alone, read by the table's primary key: what KEEP's
# join with rep_close keeps of them (an incremental run's few thousand changed tokens; a hash
# join read every stored line, ≈ 200,000 at 1 M wallets). A full run's rep_close holds every
# token: it reads the table (:data:`CLOSES`).
_THEIRS = (
    f"(SELECT * FROM {CLOSES} s WHERE {among('s.token_id', 'SELECT token_id FROM rep_close')})"
)

# Whether any token may be counted short ($1 = as_of): the fills in the sums outnumber those in
# the trades at the cut-off, all tokens together (one count of the time index, not one a token:
# nothing detached, the usual first run, then needs no count a token).
ANY_SHORT = f"""
SELECT (SELECT coalesce(sum(fills), 0) FROM rep_positions)
       > (SELECT count(*) FROM ({GATED_TRADES}) t)
"""

# The marks of fills no longer attached, per token (migration 093).
DETACHED_MARKS = "orderflow_reputation_detached_marks"

# The block ranges [lo, hi) of the partitions of the trades attached now (a partition's bound is
# ``FOR VALUES FROM ('lo') TO ('hi')``: orderflow.chain.partitions, by block number).
_ATTACHED = r"""attached AS (
    SELECT b[1]::bigint AS lo, b[2]::bigint AS hi
      FROM pg_inherits i
      JOIN pg_class c ON c.oid = i.inhrelid
     CROSS JOIN LATERAL regexp_match(pg_get_expr(c.relpartbound, c.oid),
                                     'FROM \(''?(-?[0-9]+)''?\) TO \(''?(-?[0-9]+)''?\)') AS b
     WHERE i.inhparent = 'orderflow_trades'::regclass)"""


def _detached(block: str) -> str:
    """Whether the fills of block ``block`` are in no attached partition (reads ``attached``)."""
    return f"NOT EXISTS (SELECT 1 FROM attached a WHERE {block} >= a.lo AND {block} < a.hi)"


# $1 = as_of. Reads rep_close (just computed), rep_positions (every position of its tokens: a
# full run's, or the incremental run's positions of the changed tokens) and the stored lines
# (@STORED@: the table, or none, :data:`NONE_STORED`). ``whole``: whether the line was read with
# every fill of its token attached. A new line the same as the stored one is as whole as it; one
# that differs (or a token with no stored line) is whole unless the token's fills in the sums
# outnumber its attached ones (``cut``: counted only for those), and then the stored line stays
# where it is whole (a table stored before the column: every line, ``@WHOLE@`` true), the new
# one closes no later and the stored line's last fill (its ``close_block``, @CLOSE_BLOCK@; a
# table stored before it: NULL, unchecked) is still there: detached, or attached and in the
# trades -- attached and gone, a rollback (a retracted block, a replaced import) took it, and
# with it every later fill of the token, so the line read fills no longer on the chain.
KEEP = f"""
WITH {_ATTACHED}, cmp AS (
    SELECT r.token_id, s.close_price, s.close_at, s.prev_price, r.close_at AS new_at,
           (r.close_price, r.close_at, r.prev_price)
           IS NOT DISTINCT FROM (s.close_price, s.close_at, s.prev_price) AS same,
           @WHOLE@ AS stored_whole, @CLOSE_BLOCK@ AS close_block
      FROM rep_close r
      LEFT JOIN @STORED@ s ON s.token_id = r.token_id
     WHERE r.close_at IS NOT NULL OR s.close_at IS NOT NULL
), summed AS (  -- one pass over the positions (rep_positions has no index: no probe a token)
    SELECT p.token_id, sum(p.fills) AS fills
      FROM rep_positions p
      JOIN cmp c ON c.token_id = p.token_id AND NOT c.same
     GROUP BY p.token_id
), judged AS (
    SELECT c.*,
           CASE WHEN NOT c.same THEN
                m.fills > (SELECT count(*) FROM ({GATED_TRADES}) t WHERE t.token_id = c.token_id)
           END AS cut
      FROM cmp c
      LEFT JOIN summed m ON m.token_id = c.token_id
     WHERE NOT (c.same AND c.stored_whole)
), k AS (
    SELECT j.*, coalesce(j.cut AND j.close_at IS NOT NULL AND j.stored_whole
                         AND (j.new_at IS NULL OR j.new_at <= j.close_at)
                         AND (j.close_block IS NULL OR {_detached("j.close_block")}
                              OR EXISTS (SELECT 1 FROM ({GATED_TRADES}) t
                                          WHERE t.token_id = j.token_id
                                            AND t.timestamp = j.close_at
                                            AND t.block_number = j.close_block)), false) AS stays
      FROM judged j
)
UPDATE rep_close r
   SET close_price = CASE WHEN k.stays THEN k.close_price ELSE r.close_price END,
       close_at = CASE WHEN k.stays THEN k.close_at ELSE r.close_at END,
       prev_price = CASE WHEN k.stays THEN k.prev_price ELSE r.prev_price END,
       close_block = CASE WHEN k.stays THEN k.close_block ELSE r.close_block END,
       whole = CASE WHEN k.same THEN k.stored_whole ELSE k.stays OR NOT coalesce(k.cut, false) END
  FROM k
 WHERE k.token_id = r.token_id
"""


# Before the stored rows of the tokens ``@ONLY@`` (a condition on ``s``) are replaced: their marks
# whose fill's block is detached, kept (the newest per token). A stored row has its mark's block
# (rep_close.mark_block); a table stored before it had none (read through to_jsonb): its mark
# counts, as the rule before it had it, where no attached fill marks the token (block -1).
REMEMBER = f"""
WITH {_ATTACHED}, stored AS (
    SELECT s.token_id, (o.j ->> 'mark_price')::numeric AS mark,
           CASE WHEN o.j ? 'mark_block' THEN (o.j ->> 'mark_block')::bigint
                WHEN r.token_id IS NOT NULL AND r.mark_price IS NULL THEN -1 END AS block
      FROM {CLOSES} s
      LEFT JOIN rep_close r ON r.token_id = s.token_id
     CROSS JOIN LATERAL (SELECT to_jsonb(s) AS j) o
     WHERE @ONLY@
)
INSERT INTO {DETACHED_MARKS} AS d (token_id, mark_price, mark_block)
SELECT st.token_id, st.mark, st.block
  FROM stored st
 WHERE st.mark IS NOT NULL AND st.block IS NOT NULL AND {_detached("st.block")}
    ON CONFLICT (token_id) DO UPDATE SET mark_price = excluded.mark_price,
                                         mark_block = excluded.mark_block
 WHERE excluded.mark_block >= d.mark_block
"""

# An open token's mark from the kept one, where its fill is still detached and newer than the
# attached fills' (none: always). Reads rep_positions (which tokens are open).
MARKS = f"""
WITH {_ATTACHED}
UPDATE rep_close r
   SET mark_price = d.mark_price, mark_block = d.mark_block
  FROM {DETACHED_MARKS} d
 WHERE d.token_id = r.token_id
   AND (r.mark_block IS NULL OR d.mark_block > r.mark_block)
   AND {_detached("d.mark_block")}
   AND EXISTS (SELECT 1 FROM rep_positions p WHERE p.token_id = r.token_id AND NOT p.resolved)
"""

# A full run: the kept marks whose block is attached again (read from the trades now).
PRUNE = f"WITH {_ATTACHED} DELETE FROM {DETACHED_MARKS} d WHERE NOT ({_detached('d.mark_block')})"


def _keep(stored: str, whole: str, close_block: str) -> str:
    """:data:`KEEP` against ``stored`` (the stored lines, or :data:`NONE_STORED`)."""
    return (
        KEEP.replace("@STORED@", stored)
        .replace("@WHOLE@", whole)
        .replace("@CLOSE_BLOCK@", close_block)
    )


async def keep(conn: asyncpg.Connection, as_of: datetime, *, only: str | None = None) -> None:
    """``rep_close`` with the stored lines of the tokens whose fills are partly detached and the
    marks of fills no longer attached (see above); when no live run has stored lines yet, only
    whether each line is whole.
    ``only``: the tokens whose stored rows the run replaces (a condition on ``s``, the stored
    row; None: a full run, every row)."""
    if not await table_exists(conn, CLOSES):  # the first live run: whole where not cut
        if await conn.fetchval(ANY_SHORT, as_of):
            await conn.execute(_keep(NONE_STORED, "true", "NULL::bigint"), as_of)
        return
    has = [await conn.fetchval(_HAS_COLUMN, CLOSES, c) for c in ("whole", "close_block")]
    whole = "coalesce(s.whole, true)" if has[0] else "true"
    stored = CLOSES if only is None else _THEIRS
    await conn.execute(_keep(stored, whole, "s.close_block" if has[1] else "NULL::bigint"), as_of)
    await conn.execute(REMEMBER.replace("@ONLY@", only or "true"))
    if only is None:
        await conn.execute(PRUNE)
    await conn.execute(MARKS)
