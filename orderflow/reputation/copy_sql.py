"""The lead-lag evidence of the COPIER flag (:func:`orderflow.reputation.flags.copier_rows`).

A copy-trading bot mirrors another wallet's taker buys seconds to minutes later at the book (a
service polling the data API every 1-10 minutes): the same token, at the price the leader's fill
left (equal or worse). Its record is its leader's decisions, late: following it follows a doubly
delayed signal at a worse price, beside the leader's own. Nothing in one wallet's fills tells it;
the relation between two wallets' fills does.

``rep_buys``: the taker buys (the aggressor's rows, ``is_taker_aggregate``) gated at ``as_of``,
one per (wallet, token, block time) at its volume-weighted price, with its window-long time
bucket (``copy_window_secs``). A full run reads every one with another buy of the same token
within the window either side (:data:`BUYS`: a window count over the token's buys in time order,
the only ones a pair can hold); an incremental run the buys of some buckets (:data:`REGION_BUYS`).

``rep_copy_cells`` (:func:`cells`): per (follower, leader, token, bucket of the follower's buys)

* ``trail``: the follower's buys there with a leader's buy of the same token in the
  ``copy_window_secs`` before (strictly earlier block time), among the ``copy_look_back`` buys
  of the token just before it (:data:`BACK`), at a price no higher;
* ``lead``: the follower's buys there with a leader's buy of the same token in the window after,
  as close, at a price no lower (the same relation the other way round: the leader trails it).

A buy lies in one bucket, so a pair's figures are sums of its cells (:data:`PAIRS_OF`):
``trail``, ``lead``, and ``markets``, the tokens with a trailing buy, for the pairs past
``copy_min_markets`` of those (the only ones anything reads; nearly every pair is a chance
meeting in one token). ``rep_copy`` (:data:`COPY_ROWS`): those pairs,
with ``buys``, all the follower's taker buys (read for the followers alone, by the trades' wallet
index). The flag's rule (shares, the sign test) is numpy's, in :mod:`orderflow.reputation.flags`.

A buy's cells read the buys of its own bucket and the ones next to it (the buys between two
paired ones too: they lie within the window before the later one), so a change of a buy
changes only the cells of its bucket and the two next to it: an incremental run recomputes those
from the buys of the buckets next to them and keeps every other cell
(:mod:`orderflow.reputation.copy_state`).
"""

from __future__ import annotations

from orderflow.reputation.gate import GATED_TRADES, gated_in_runs
from orderflow.reputation.line_sql import PRICED

# How a token is known: two 64-bit hashes of it (a uint256 sorts and hashes as a 78-digit
# NUMERIC, several times slower; a merge join's sorts by it took most of the statement): two
# tokens are one only if both hashes agree (odds 2^-128 a pair of tokens); one ``tok`` shared
# only merges two tokens' window counts (more buys kept, none lost) and their market count.
TOK = "hash_numeric_extended(t.token_id, 0)"
TOK2 = "hash_numeric_extended(t.token_id, 1)"
# A buy's bucket ($3: copy_window_secs in seconds, float8).
BUCKET = "floor(extract(epoch FROM {ts}) / $3::float8)::int8"

# A taker buy at a level (line_sql.PRICED: a price strictly inside (0, 1)). A buy of shares for
# no collateral, price 0, no higher than anyone's, made its buyer a leader of every later buy;
# a print at 1.00 (no CLOB price: a wash or settlement-like print), no lower than anyone's,
# made its printer a follower of every earlier one (COPIER of a skilled taker it printed after:
# tests/reputation/test_copier_prints.py).
_TAKER_BUY = f"t.is_taker_aggregate AND t.side = 'BUY' AND {PRICED.format(t='t')}"

# One row per (wallet, token, block time) of {src} (columns w, tok, tok2, ts, usdc_size, size).
_ONE_A_TIME = f"""
SELECT row_number() OVER () AS id, w, tok, tok2, ts, sum(usdc_size) / sum(size) AS p,
       {BUCKET.format(ts="ts")} AS bucket
  FROM {{src}}
 GROUP BY w, tok, tok2, ts
"""

# Every gated taker buy with another buy of its token within the window either side.
# $1 = as_of, $2 = copy_window_secs (an interval), $3 = the same in seconds.
BUYS = f"""
CREATE TEMP TABLE rep_buys ON COMMIT DROP AS
WITH t AS (
    SELECT t.wallet_address AS w, {TOK} AS tok, {TOK2} AS tok2, t.timestamp AS ts,
           t.usdc_size, t.size
      FROM ({GATED_TRADES}) t
     WHERE {_TAKER_BUY}
), near AS (
    SELECT t.*, count(*) OVER (PARTITION BY t.tok ORDER BY t.ts
                               RANGE BETWEEN $2::interval PRECEDING AND $2::interval FOLLOWING) AS n
      FROM t
)
{_ONE_A_TIME.format(src="near WHERE n > 1")}
"""

# The buckets of {buckets} (token_id, tok, tok2, b) and the one before and after each.
NEXT_TO = """SELECT DISTINCT r.token_id, r.tok, r.tok2, r.b + d.d AS b
      FROM {buckets} r CROSS JOIN (VALUES (-1::int8), (0), (1)) d(d)"""

# The gated taker buys up to trade id $4 in the buckets of rep_copy_s and the ones next to them,
# read by the token index's time order: consecutive buckets of a token are one range (a second of
# margin either side; the bucket is then taken as BUYS takes it). The range is the index scan's
# own condition (a LATERAL subquery kept apart by OFFSET 0: orderflow.reputation.wash_partials_sql
# REGION_ROWS, tests/reputation/test_wash_region_reads.py). Every buy of a bucket is read, so a
# pair found here is one BUYS gives, and its price is the same volume-weighted one.
# $1 = as_of, $2 = copy_window_secs (an interval: unused), $3 = the same in seconds, $4 = max id.
REGION_BUYS = f"""
CREATE TEMP TABLE rep_buys ON COMMIT DROP AS
WITH _params AS (SELECT $2::interval), s AS (
    {NEXT_TO.format(buckets="rep_copy_s")}
), runs AS (
    SELECT token_id, tok, tok2, min(b) AS lo, max(b) AS hi
      FROM (SELECT s.*, b - row_number() OVER (PARTITION BY token_id ORDER BY b) AS g FROM s) x
     GROUP BY token_id, tok, tok2, g
), t AS (
    SELECT t.wallet_address AS w, r.tok, r.tok2, t.timestamp AS ts, t.usdc_size, t.size
      FROM runs r
      {gated_in_runs("r.token_id")}
     WHERE {_TAKER_BUY} AND t.id <= $4::int8
       AND {BUCKET.format(ts="t.timestamp")} BETWEEN r.lo AND r.hi
)
{_ONE_A_TIME.format(src="t")}
"""


# The buys a buy is paired with: the copy_look_back ($2) buys of its token just before it in
# (block time, wallet) order (a total order: one row per wallet, token and block time). Which
# buys these are depends only on the buys between the two, all within the window before the
# later one: in its bucket and the one before, so an incremental run's region (every buy of the
# buckets next to the cells it recomputes) gives a pair exactly when the full build does.
BACK = """PARTITION BY tok, tok2 ORDER BY ts, w COLLATE "C"
          ROWS BETWEEN $2::int8 PRECEDING AND 1 PRECEDING"""


def cells(only: str) -> str:
    """``rep_copy_cells`` from ``rep_buys``: the cells whose (tok, tok2, b) ``only`` keeps (an
    SQL condition on them; ``TRUE``: every one). $1 = copy_window_secs in seconds, $2 =
    copy_look_back.

    Each pair: a buy (c) and another wallet's earlier buy of the token (b) in the window before
    it at a price no higher, among the ``copy_look_back`` buys of the token just before c in
    (block time, wallet) order (:data:`BACK`); a trailing buy of c's wallet, a leading one of
    b's. The earlier buys come from one sort of the buys by token and time and a window frame
    of that many rows, so a buy meets at most that many, however densely its token trades (an
    equi-join on the window-long bucket met every buy of the window: x12-15 on dense buys at
    30 minutes, docs/benchmarks.md). Counted by hash aggregates (no DISTINCT: a sort by
    address)."""
    return f"""
CREATE TEMP TABLE rep_copy_cells ON COMMIT DROP AS
WITH back AS (
    SELECT c.*, array_agg(w) OVER k AS bw, array_agg(ts) OVER k AS bts, array_agg(p) OVER k AS bp,
           array_agg(bucket) OVER k AS bb, array_agg(id) OVER k AS bid
      FROM rep_buys c
    WINDOW k AS ({BACK})
), pairs AS MATERIALIZED (
    SELECT c.w AS f, b.w AS l, c.tok, c.tok2, c.bucket AS fb, b.bucket AS lb,
           c.id AS f_id, b.id AS l_id
      FROM back c, unnest(c.bw, c.bts, c.bp, c.bb, c.bid) AS b(w, ts, p, bucket, id)
     WHERE b.ts >= c.ts - make_interval(secs => $1::float8) AND b.ts < c.ts
       AND b.p <= c.p AND b.w <> c.w
),
trail AS (  -- the follower's buys trailing one of the leader's
    SELECT f, l, tok, tok2, b, count(*) AS trail
      FROM (SELECT f, l, tok, tok2, fb AS b, f_id FROM pairs
             GROUP BY f, l, tok, tok2, fb, f_id) AS x
     WHERE {only}
     GROUP BY f, l, tok, tok2, b
),
lead AS (  -- the follower's buys its leader trails
    SELECT f, l, tok, tok2, b, count(*) AS lead
      FROM (SELECT l AS f, f AS l, tok, tok2, lb AS b, l_id FROM pairs
             GROUP BY l, f, tok, tok2, lb, l_id) AS x
     WHERE {only}
     GROUP BY f, l, tok, tok2, b
)
SELECT f, l, tok, tok2, b, coalesce(t.trail, 0)::int8 AS trail, coalesce(d.lead, 0)::int8 AS lead
  FROM trail t FULL JOIN lead d USING (f, l, tok, tok2, b)
"""


# Per (follower, leader) trailing in at least $1 (copy_min_markets) tokens: the sums of the
# cells of {cells} (a table or a query), {only} a condition on (f, l). A pair short of them is
# read by nothing (rep_copy, orderflow wallet's leaders and copiers ask for that many tokens),
# and an update recomputes a touched pair from its cells: none is kept (at mainnet density
# ~33 pairs a taker buy, nearly all chance meetings in one token: docs/benchmarks.md).
PAIRS_OF = """
SELECT f, l, sum(trail)::int8 AS trail, sum(lead)::int8 AS lead,
       count(DISTINCT tok) FILTER (WHERE trail > 0) AS markets
  FROM {cells} c
 WHERE {only}
 GROUP BY f, l
HAVING count(DISTINCT tok) FILTER (WHERE trail > 0) >= $1::int
"""

# rep_copy: the pairs of {pairs} (f, l, trail, lead, markets) whose follower trails in enough
# tokens (PAIRS_OF keeps no other). $1 = copy_min_markets.
COPY_ROWS = """
CREATE TEMP TABLE rep_copy ON COMMIT DROP AS
SELECT p.f AS wallet_address, p.l AS leader, p.trail, p.lead, p.markets, 0::int8 AS buys
  FROM {pairs} p
 WHERE p.trail > 0 AND p.markets >= $1::int
"""


def taker_buys(wallet: str) -> str:
    """A scalar subquery: the taker buys of ``wallet`` (an SQL expression), one per (token,
    block time) as :data:`BUYS` counts them -- a follower's share's denominator -- by the
    wallets' time index. Reads through the as_of gate ($1)."""
    return f"""(SELECT count(*) FROM (SELECT DISTINCT t.token_id, t.timestamp
                                        FROM ({GATED_TRADES}) t
                                       WHERE t.wallet_address = {wallet} AND {_TAKER_BUY}) AS b)"""


# Every taker buy of the followers (their share's denominator). $1 = as_of.
BUYS_OF_FOLLOWERS = f"UPDATE rep_copy c SET buys = {taker_buys('c.wallet_address')}"


# The rows the population step reads: the follower's place in its wallets table. $1: none.
def copy_rows(wallets: str) -> str:
    return f"""SELECT w.idx, c.trail, c.lead, c.markets, c.buys
                 FROM rep_copy c JOIN {wallets} w ON w.wallet_address = c.wallet_address"""
