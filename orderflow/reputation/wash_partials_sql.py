"""The incremental counterparty evidence's statements: ``WASH``'s exact partial sums per (wallet,
counterparty, market, bucket) -- the cells (migration 023) -- and ``rep_wash`` assembled from
them (:mod:`orderflow.reputation.wash_state` runs them).

Every figure of ``rep_wash`` is a sum over a wallet's fills (pass 1's and pass 2's off-market
volume and count, the deviation's numerator and denominator, the off-market share of its taker
rows, the off-market taker amounts) or a function of per-pair volumes and share volumes (groups,
hosts). The sums are NUMERIC: a sum of the cells' sums is the sum of the fills, to the digit and
to the display scale (a NUMERIC sum's scale is its terms' largest, and so is a sum of sums; the
deviation's division rounds by both operands' scales), so the figures assembled from the cells
are ``WASH``'s bits. A fill's distance to the prevailing price depends on the trades of its own
bucket and the two next to it, and on pass 1's verdict on every wallet trading there (pass 2's
market leaves out the off-market wallets): the cells of a bucket are recomputed from the trades
of that bucket and its neighbours, with ``WASH``'s own fragments
(:mod:`orderflow.reputation.wash_sql`).

Every statement takes ``WASH``'s parameters ($1 = as_of, $2..$8 as :func:`wash_settings`) and $9,
the largest ``orderflow_trades.id`` the run counts; ``PARAMS`` gives them the types of their first
use in ``WASH`` (an unused CTE: PostgreSQL types every parameter of a statement). ``{trades}`` is
the trades read: the gated table up to $9 (a build) or ``rep_wash_rows`` (a region's trades);
``{only}`` the buckets whose cells are made.
"""

from __future__ import annotations

from orderflow.reputation.gate import GATED_TRADES, gated_in_runs
from orderflow.reputation.wash_exits_sql import sells_over
from orderflow.reputation.wash_keys_sql import judged
from orderflow.reputation.wash_ring_sql import RING_MAX
from orderflow.reputation.wash_sql import (
    DEV2,
    DIST,
    F_INV,
    GROUPS,
    LEAST,
    PASS1_REF,
    PASS2_REF,
    TOT,
    hosts,
)

# How WASH keys a fill's market and bucket (its f).
MK = "coalesce(t.market_id::text, t.token_id::text)"
BUCKET = "floor(extract(epoch FROM t.timestamp) / $3::float8)::int8"

PARAMS = """_params AS (
    SELECT $1::timestamptz, $3::float8, $2::numeric, $4::int, $5::float8, $6::float8, $7::int,
           $8::float8, $9::int8
), """

# The trades a build reads: every gated row up to $9.
BUILD_TRADES = f"SELECT * FROM ({GATED_TRADES}) g WHERE g.id <= $9::int8"
# A region's trades (below).
REGION_TRADES = "SELECT * FROM rep_wash_rows"
# The buckets a region recomputes.
IN_REGION = "(mk, b) IN (SELECT mk, b FROM rep_wash_s)"

# The columns of a trade the region's statements read (pass1, cells, taker): rep_wash_rows keeps
# only these, a third of a trade's width (the hashes, the block, the trace context stay behind).
REGION_COLUMNS = (
    "wallet_address",
    "taker_address",
    "is_taker_aggregate",
    "exchange",
    "side",
    "token_id",
    "market_id",
    "outcome_index",
    "price",
    "size",
    "usdc_size",
    "fee",
    "fee_asset",
    "timestamp",
)
_REGION_SELECT = ", ".join(f"t.{c}" for c in REGION_COLUMNS)

# Every trade (a match's rows and the takers' own rows) in the buckets of rep_wash_s and the one
# before and after each, read by the token index: consecutive buckets of a market are one range
# per token (a second of margin either side; the bucket is then taken as WASH takes it).
# The range is the index scan's own condition: a LATERAL subquery kept apart (OFFSET 0) is
# planned with the run's bounds as parameters. Joined directly, the planner parameterized the
# scan by the token alone and filtered every trade of the token by time above it (a busy
# token's whole history for an hour of it: tests/reputation/test_wash_region_reads.py).
# The buckets of {buckets} (mk, b) and the one before and after each: a region's buckets from
# the changed ones (wash_state), and the buckets whose trades a region reads from its own.
NEXT_TO = """SELECT DISTINCT r.mk, r.b + d.d AS b
      FROM {buckets} r CROSS JOIN (VALUES (-1::int8), (0), (1)) d(d)"""


def _region_rows(head: str, buckets: str) -> str:
    """The trades of the buckets ``buckets`` selects (mk, b), into ``head``."""
    return f"""
{head}
WITH {PARAMS}s AS (
    {buckets}
), runs AS (
    SELECT mk, min(b) AS lo, max(b) AS hi
      FROM (SELECT mk, b, b - row_number() OVER (PARTITION BY mk ORDER BY b) AS g FROM s) x
     GROUP BY mk, g
)
SELECT {_REGION_SELECT}
  FROM runs r
  JOIN orderflow_wash_tokens k ON k.mk = r.mk
  {gated_in_runs("k.token_id")}
 WHERE t.id <= $9::int8 AND {MK} = r.mk AND {BUCKET} BETWEEN r.lo AND r.hi
"""


_NEW_TABLE = "CREATE TEMP TABLE rep_wash_rows ON COMMIT DROP AS"
REGION_ROWS = _region_rows(_NEW_TABLE, NEXT_TO.format(buckets="rep_wash_s"))

# A second region of the same update (pass 2's, whose buckets are pass 1's and those of the
# wallets whose verdict flipped): the trades the first one read (rep_wash_rows1, of the buckets
# next to rep_wash_s1) in the buckets this one reads, then the trades of the buckets it lacks.
# The same rows as REGION_ROWS (a trade lies in one bucket, read once; the same bounds: ids up
# to $9, the gate at $1), without reading again what pass 1 read.
REGION_ROWS_KEPT = f"""
{_NEW_TABLE}
WITH {PARAMS}s AS (
    {NEXT_TO.format(buckets="rep_wash_s")}
)
SELECT t.* FROM rep_wash_rows1 t WHERE ({MK}, {BUCKET}) IN (SELECT mk, b FROM s)
"""
REGION_ROWS_MORE = _region_rows(
    "INSERT INTO rep_wash_rows",
    f"{NEXT_TO.format(buckets='rep_wash_s')}\n    EXCEPT {NEXT_TO.format(buckets='rep_wash_s1')}",
)

# Pass 1's off-market fills and volume per (wallet, market, bucket) of {only}.
_PASS1 = (
    "WITH "
    + PARAMS
    + F_INV
    + PASS1_REF
    + f"""), dev AS (
    SELECT i.w, i.cp, i.mk, i.b, i.size, {LEAST} AS d
      FROM inv i JOIN ref r ON r.w = i.w COLLATE "C" AND r.mk = i.mk COLLATE "C" AND r.b = i.b
"""
)


def pass1(trades: str, only: str) -> str:
    """``rep_wash_p1``: pass 1's sums per (wallet, market, bucket) of ``only``."""
    return (
        "CREATE TEMP TABLE rep_wash_p1 ON COMMIT DROP AS\n"
        + _PASS1.replace("{trades}", trades)
        + f""")
SELECT w, mk, b, count(*) FILTER (WHERE d >= {DIST}) AS p1n,
       sum(size) FILTER (WHERE d >= {DIST}) AS p1v, sum(size) AS p1s
  FROM dev WHERE {only} GROUP BY w, mk, b
"""
    )


# Pass 1's verdicts as stored (what pass 2 of a region is computed against).
_STORED_OFF1 = """), off1 AS (
    SELECT w COLLATE "C" AS w FROM orderflow_wash_wallets WHERE off1
"""


# Pass 2's prevailing prices of the cells' buckets, kept by the cells statement for the taker
# statement's sales (:func:`taker`), which computed them again from the trades before (pass 1's
# sums, pass 2's market, its sums and prices: tests/reputation/test_wash_reads.py).
REF2 = "rep_wash_ref2"


def _pass2(trades: str) -> str:
    """The CTEs up to pass 2's prevailing prices (``ref2``) and their deviations (``dev2``),
    against the stored verdicts (``orderflow_wash_wallets.off1``), over ``trades``."""
    return _PASS1.replace("{trades}", trades) + _STORED_OFF1 + PASS2_REF + DEV2


def ref2_table(trades: str) -> str:
    """:data:`REF2`, empty: the columns of pass 2's prices (the cells statement fills it)."""
    head = f"CREATE TEMP TABLE {REF2} ON COMMIT DROP AS\n"
    return f"{head}{_pass2(trades)})\nSELECT * FROM ref2\nWITH NO DATA"


def cells(trades: str, only: str) -> str:
    """``rep_wash_cells``: the cells of ``only`` (every column of orderflow_wash_cells), pass 2
    against the stored verdicts (``orderflow_wash_wallets.off1``); pass 2's prices of those
    buckets kept in :data:`REF2` (made by :func:`ref2_table`)."""
    return (
        "CREATE TEMP TABLE rep_wash_cells ON COMMIT DROP AS\n"
        + _pass2(trades)
        + f"""), kept AS (
    INSERT INTO {REF2} SELECT * FROM ref2 WHERE {only}
), base AS (
    SELECT w, cp, mk, b, sum(size) AS vol, count(*) AS n FROM inv WHERE {only}
     GROUP BY w, cp, mk, b
), c1 AS (
    SELECT w, cp, mk, b, count(*) FILTER (WHERE d >= {DIST}) AS p1n,
           sum(size) FILTER (WHERE d >= {DIST}) AS p1v
      FROM dev WHERE {only} GROUP BY w, cp, mk, b
), c2 AS (
    SELECT w, cp, mk, b, sum(size) AS s2, sum(size * d) AS sd2,
           count(*) FILTER (WHERE d >= {DIST}) AS p2n, sum(size) FILTER (WHERE d >= {DIST}) AS p2v,
           sum(size) FILTER (WHERE taker) AS tks,
           sum(size) FILTER (WHERE taker AND d >= {DIST}) AS tkv,
           count(*) FILTER (WHERE taker AND d >= {DIST}) AS tkn
      FROM dev2 WHERE {only} GROUP BY w, cp, mk, b
)
SELECT x.w, x.cp, x.mk, x.b, x.vol, x.n, c1.w IS NOT NULL AS ref1, c1.p1n, c1.p1v,
       c2.w IS NOT NULL AS ref2, c2.s2, c2.sd2, c2.p2n, c2.p2v, c2.tks, c2.tkv, c2.tkn
  FROM base x
  LEFT JOIN c1 ON c1.w = x.w AND c1.cp = x.cp AND c1.mk = x.mk AND c1.b = x.b
  LEFT JOIN c2 ON c2.w = x.w AND c2.cp = x.cp AND c2.mk = x.mk AND c2.b = x.b
"""
    )


def taker(trades: str, only: str) -> str:
    """``rep_wash_tk``: WASH's offtok sums per (wallet, token, market, bucket) of the buckets of
    ``rep_wash_cells`` (its taker_off fraction from the cells' sums: the same NUMERIC quotient),
    and what the sales in ``only``'s buckets received above pass 2's prevailing prices (its xs,
    against the prices :func:`cells` kept: :data:`REF2`, ``only``'s buckets)."""
    return (
        "CREATE TEMP TABLE rep_wash_tk ON COMMIT DROP AS\nWITH "
        + PARAMS
        + f"""ref2o AS (
    SELECT * FROM {REF2}
"""
        + sells_over(trades, "t.wallet_address", MK, BUCKET, by_bucket=True, ref="ref2o")
        + f"""), x AS (
    SELECT w, mk, b, sum(tkv) / nullif(sum(tks), 0) AS frac
      FROM rep_wash_cells GROUP BY w, mk, b HAVING sum(tkn) > 0
), tk AS (
    SELECT t.wallet_address AS w, t.token_id, x.mk, x.b,
           sum(t.size * x.frac) FILTER (WHERE t.side = 'BUY') AS tb,
           sum(t.usdc_size * x.frac) FILTER (WHERE t.side = 'BUY') AS tcb,
           sum(t.size * x.frac) FILTER (WHERE t.side <> 'BUY') AS ts,
           sum(t.usdc_size * x.frac) FILTER (WHERE t.side <> 'BUY') AS tr,
           sum(x.frac * CASE WHEN t.fee_asset = 'SHARES' THEN t.fee * t.price
                             ELSE t.fee END) FILTER (WHERE t.fee > 0) AS tfee
      FROM ({trades}) t
      JOIN x ON x.w = t.wallet_address AND x.mk = {MK} AND x.b = {BUCKET}
     WHERE t.is_taker_aggregate
     GROUP BY t.wallet_address, t.token_id, x.mk, x.b
)
SELECT coalesce(k.w, x.w) AS w, coalesce(k.token_id, x.token_id) AS token_id,
       coalesce(k.mk, x.mk) AS mk, coalesce(k.b, x.b) AS b,
       k.tb, k.tcb, k.ts, k.tr, k.tfee, x.xg, x.xt
  FROM tk k
  FULL JOIN xs x ON x.w = k.w AND x.token_id = k.token_id AND x.mk = k.mk AND x.b = k.b
"""
    )


# A wallet's sums over its cells and its pass-1 verdict, as WASH's off1 takes it (a wallet with
# pass-1 rows and a share volume), for the wallets of rep_wash_w; {cells}: its cells.
def wallet_sums(cells: str) -> str:
    """``rep_wash_ws``: the sums of each wallet of ``rep_wash_w`` over ``cells``."""
    return f"""
CREATE TEMP TABLE rep_wash_ws ON COMMIT DROP AS
WITH {PARAMS}c AS (
    SELECT c.* FROM ({cells}) c WHERE c.w IN (SELECT w FROM rep_wash_w)
), s AS (
    SELECT w, bool_or(ref1) AS ref1, sum(p1n) AS p1n, sum(p1v) AS p1v, sum(p1s) AS p1s,
           bool_or(ref2) AS ref2,
           sum(s2) AS s2, sum(sd2) AS sd2, sum(p2n) AS p2n, sum(p2v) AS p2v
      FROM c GROUP BY w
)
SELECT w.w, t.vol AS tot, coalesce(s.ref1, FALSE) AS ref1, s.p1n, s.p1v,
       coalesce(s.ref1 AND t.vol IS NOT NULL AND s.p1n >= $7::int
                AND coalesce(s.p1v, 0) >= $6::float8 * {judged("s.p1s", "t.vol")}, FALSE)
           AS off1,
       coalesce(s.ref2, FALSE) AS ref2, s.s2, s.sd2, s.p2n, s.p2v
  FROM rep_wash_w w
  LEFT JOIN s ON s.w = w.w
  LEFT JOIN rep_wash_tot t ON t.w = w.w
"""


# Each wallet's top-k counterparties ($1 = wash_top_k, $2 = wash_min_fills), as WASH's ranked
# orders them, for the wallets {where} selects; its top RING_MAX (the larger ring's:
# orderflow.reputation.wash_ring_sql) if more, only for the wallets that can have a larger ring:
# more than wash_top_k of their top RING_MAX pairs with wash_min_fills fills or more (the ring's
# partners are such pairs, more than wash_top_k of them). That reads the wallet's own pairs alone
# (not its volume nor its partners'), so it stays true or false until one of its pairs changes,
# when the update stores its members again: a wallet that cannot have a larger ring is judged by
# its top-k group, which is all the closure looks up for it (wash_assemble) -- every wallet's
# top 20 doubled the hour's incremental step (docs/benchmarks.md, session 41).
def top_k(where: str) -> str:
    """``SELECT w, cp``: the top members of the stored pairs of the wallets ``where`` selects
    (their top ``wash_top_k``, or top :data:`RING_MAX` if they can have a larger ring)."""
    return f"""
SELECT w, cp FROM (
    SELECT x.w, x.cp, x.r,
           count(*) FILTER (WHERE x.r <= {RING_MAX} AND x.n >= $2::int)
               OVER (PARTITION BY x.w COLLATE "C") AS heavy
      FROM (SELECT p.w, p.cp, p.n,
                   row_number() OVER (PARTITION BY p.w COLLATE "C"
                                      ORDER BY p.vol DESC, p.cp COLLATE "C") AS r
              FROM orderflow_wash_pairs p WHERE {where}) x
     WHERE x.r <= greatest($1::int, {RING_MAX})) y
 WHERE y.r <= $1::int OR y.heavy > $1::int"""


def assemble(universe: str, rows: str, tot: str = TOT, rings: str = "TRUE") -> str:
    """``rep_wash`` from the stored sums: WASH's groups and hosts over the stored pairs and
    wallets that ``universe`` selects (``w``), its offtok, off and offpair from their sums (the
    same values, types and rows), the off-market taker amounts of the wallets ``rows`` selects.
    Over every wallet (``TRUE``) it is WASH's rep_wash; over a universe closed under what the
    rows of some wallets read (their groups' members, the groups and off-market hosts they are a
    member of, those groups' members: :mod:`orderflow.reputation.wash_state`), those rows are.
    ``tot``: the share volumes' CTE (WASH's, from ``rep_positions``, or the stored ones);
    ``rings``: the wallets whose closed groups may host (a query of ``w``: those whose
    members are all in the universe; the others' group figures would be read in part)."""
    return (
        "\nCREATE TEMP TABLE rep_wash ON COMMIT DROP AS\nWITH "
        + PARAMS
        + f"""pairs AS (
    SELECT w, cp, vol, n FROM orderflow_wash_pairs WHERE {universe}
"""
        + tot
        + GROUPS
        + f"""), offtok AS (
    SELECT w, token_id, coalesce(sum(tb), 0)::float8 AS tb, coalesce(sum(tcb), 0)::float8 AS tcb,
           coalesce(sum(ts), 0)::float8 AS ts, coalesce(sum(tr), 0)::float8 AS tr,
           coalesce(sum(tfee), 0)::float8 AS tfee, coalesce(sum(xg), 0)::float8 AS xg,
           coalesce(sum(xt), 0)::float8 AS xt
      FROM orderflow_wash_taker WHERE {rows} GROUP BY w, token_id
), off AS MATERIALIZED (
    SELECT w, (sd2 / nullif(s2, 0))::float8 AS deviation, s2 AS judged, p2v AS off_vol,
           p2n::int8 AS off_n
      FROM orderflow_wash_wallets WHERE ref2 AND {universe}
), offpair AS (
    SELECT w, cp, off_vol AS vol, off_n AS n FROM orderflow_wash_pairs
     WHERE off_n > 0 AND {universe}
"""
        + hosts(rings)
    )


ASSEMBLE = assemble("TRUE", "TRUE")
