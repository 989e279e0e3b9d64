"""The COPIER evidence as main computed it before the cells (commit 6c24c9d's
``orderflow/reputation/copy_sql.py``, verbatim but for the look-back): one statement over every
gated taker buy. The reference the stored cells are held to
(``tests/reputation/test_copy_state.py``).

The look-back (``copy_look_back``, since 5 Dec 2026) is written here as its definition, apart
from the statement's window frame: a pair stands when fewer than that many buys of the token lie
strictly between its two buys in (block time, wallet) order, counted one pair at a time.

A taker buy is one at a level (``line_sql.PRICED``: a price strictly inside (0, 1)), the rule
the shipped statement reads since session 41; until 7 Dec 2026 this reference still read
``size > 0``, so a print at 1.00 was a buy here and not there
(``test_copy_state.py::test_prints_at_one_are_no_buys_of_the_reference``)."""

from __future__ import annotations

from datetime import timedelta

import asyncpg

from orderflow.reputation.gate import GATED_TRADES
from orderflow.reputation.line_sql import PRICED
from orderflow.reputation.settings import ReputationSettings

# $1 = as_of, $2 = copy_window_secs (an interval), $3 = the same in seconds. A token is known by
# two 64-bit hashes of it (``tok``, ``tok2``: a uint256 sorts and hashes as a 78-digit NUMERIC,
# several times slower; a merge join's sorts by it took most of the statement): two tokens are
# one only if both hashes of both agree (odds 2^-128 a pair of tokens); one ``tok`` shared only
# merges two tokens' window counts (more buys kept, none lost). A taker buy at a level.
_TAKER_BUY = f"t.is_taker_aggregate AND t.side = 'BUY' AND {PRICED.format(t='t')}"
BUYS = f"""
CREATE TEMP TABLE rep_buys ON COMMIT DROP AS
WITH t AS (
    SELECT t.wallet_address AS w, hash_numeric_extended(t.token_id, 0) AS tok,
           hash_numeric_extended(t.token_id, 1) AS tok2, t.timestamp AS ts, t.usdc_size, t.size
      FROM ({GATED_TRADES}) t
     WHERE {_TAKER_BUY}
), near AS (
    SELECT t.*, count(*) OVER (PARTITION BY t.tok ORDER BY t.ts
                               RANGE BETWEEN $2::interval PRECEDING AND $2::interval FOLLOWING) AS n
      FROM t
)
SELECT row_number() OVER () AS id, w, tok, tok2, ts, sum(usdc_size) / sum(size) AS p,
       floor(extract(epoch FROM ts) / $3::float8)::int8 AS bucket
  FROM near
 WHERE n > 1
 GROUP BY w, tok, tok2, ts
"""

# Each pair: a buy (f) and another wallet's earlier buy of the token (l) in the window before it
# at a price no higher; a trailing buy of f, a leading buy of l. Found by two equi-joins on
# (token hash, window-long time bucket, token): the earlier buy is in the buy's bucket or in the
# one before (then earlier by construction). Counted by hash aggregates (no DISTINCT: a sort by
# address). $1 = copy_window_secs,
# $2 = copy_min_markets, $3 = copy_look_back.
COPY = """
CREATE TEMP TABLE rep_copy ON COMMIT DROP AS
WITH windowed AS MATERIALIZED (
    SELECT c.w AS f, b.w AS l, c.tok, c.id AS f_id, b.id AS l_id, c.tok2, b.ts AS b_ts,
           b.w AS b_w, c.ts AS c_ts, c.w AS c_w
      FROM rep_buys c
      JOIN rep_buys b ON b.tok = c.tok AND b.tok2 = c.tok2 AND b.bucket = c.bucket
     WHERE b.ts >= c.ts - make_interval(secs => $1::float8) AND b.ts < c.ts
       AND b.p <= c.p AND b.w <> c.w
    UNION ALL
    SELECT c.w, b.w, c.tok, c.id, b.id, c.tok2, b.ts, b.w, c.ts, c.w
      FROM rep_buys c
      JOIN rep_buys b ON b.tok = c.tok AND b.tok2 = c.tok2 AND b.bucket = c.bucket - 1
     WHERE b.ts >= c.ts - make_interval(secs => $1::float8)
       AND b.p <= c.p AND b.w <> c.w
),
pairs AS MATERIALIZED (  -- fewer than copy_look_back buys of the token between the two
    SELECT f, l, tok, f_id, l_id
      FROM windowed x
     WHERE (SELECT count(*) FROM rep_buys y
             WHERE y.tok = x.tok AND y.tok2 = x.tok2
               AND (y.ts, y.w COLLATE "C") > (x.b_ts, x.b_w COLLATE "C")
               AND (y.ts, y.w COLLATE "C") < (x.c_ts, x.c_w COLLATE "C")) < $3::int8
),
per_token AS (  -- (follower, leader, token): its trailing buys there
    SELECT f, l, tok, count(*) AS n
      FROM (SELECT f, l, tok, f_id FROM pairs GROUP BY f, l, tok, f_id) AS x
     GROUP BY f, l, tok
),
trail AS (
    SELECT f, l, sum(n)::int8 AS trail, count(*) AS markets
      FROM per_token GROUP BY f, l HAVING count(*) >= $2::int
),
lead AS (  -- the follower's buys its leader trails
    SELECT f, l, count(*) AS lead
      FROM (SELECT p.l AS f, p.f AS l, p.l_id FROM pairs p
              JOIN trail t ON t.f = p.l AND t.l = p.f
             GROUP BY p.l, p.f, p.l_id) AS x
     GROUP BY f, l
)
SELECT t.f AS wallet_address, t.l AS leader, t.trail, coalesce(d.lead, 0) AS lead, t.markets,
       0::int8 AS buys
  FROM trail t LEFT JOIN lead d ON d.f = t.f AND d.l = t.l
"""


# Every taker buy of the followers (their share's denominator), by the wallets' time index.
# $1 = as_of.
BUYS_OF_FOLLOWERS = f"""
UPDATE rep_copy c SET buys = (
       SELECT count(*) FROM (SELECT DISTINCT t.token_id, t.timestamp FROM ({GATED_TRADES}) t
                              WHERE t.wallet_address = c.wallet_address
                                AND {_TAKER_BUY}) AS b)
"""


async def reference_rows(
    conn: asyncpg.Connection, as_of: object, settings: ReputationSettings
) -> set[tuple[str, str, int, int, int, int]]:
    """``rep_copy``'s rows by the old statement, in the caller's transaction (dropped after)."""
    window = settings.copy_window_secs
    await conn.execute(BUYS, as_of, timedelta(seconds=window), float(window))
    await conn.execute(COPY, float(window), settings.copy_min_markets, settings.copy_look_back)
    await conn.execute(BUYS_OF_FOLLOWERS, as_of)
    rows = await conn.fetch("SELECT * FROM rep_copy")
    await conn.execute("DROP TABLE rep_buys")
    await conn.execute("DROP TABLE rep_copy")
    return {tuple(r) for r in rows}
