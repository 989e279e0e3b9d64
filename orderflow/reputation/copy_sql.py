"""The lead-lag evidence of the COPIER flag (:func:`orderflow.reputation.flags.copier_rows`).

A copy-trading bot mirrors another wallet's taker buys seconds later at the book: the same token,
at the price the leader's fill left (equal or worse). Its record is its leader's decisions, a
minute late: following it follows a doubly delayed signal at a worse price, beside the leader's
own. Nothing in one wallet's fills tells it; the relation between two wallets' fills does.

``rep_buys``: the taker buys (the aggressor's rows, ``is_taker_aggregate``) gated at ``as_of``
with another buy of the same token within ``copy_window_secs`` either side (a window count over
the token's buys in time order: the only ones a pair can hold, few where trading is sparse), one
per (wallet, token, block time) at its volume-weighted price. ``rep_copy``: per (follower,
leader) with the follower's buys trailing the leader's in at least ``copy_min_markets`` tokens,

* ``trail``: the follower's buys with a leader's buy of the same token in the
  ``copy_window_secs`` before (strictly earlier block time) at a price no higher;
* ``lead``: the follower's buys with a leader's buy of the same token in the window after at a
  price no lower (the same relation the other way round: the leader trails it);
* ``markets``: the tokens of the trailing buys; ``buys``: all the follower's taker buys (read
  for the followers alone, by the trades' wallet index).

The flag's rule (shares, the sign test) is numpy's, in :mod:`orderflow.reputation.flags`.

Both runs execute this statement over every gated taker buy: a follower's figures change with
its leader's fills as much as with its own, so the incremental run's result is the full run's
by construction (it pays the statement's cost each run: docs/benchmarks.md "Copiers").
"""

from __future__ import annotations

from datetime import timedelta

import asyncpg

from orderflow.reputation.gate import GATED_TRADES
from orderflow.reputation.settings import ReputationSettings

# $1 = as_of, $2 = copy_window_secs (an interval), $3 = the same in seconds. A token is known by
# two 64-bit hashes of it (``tok``, ``tok2``: a uint256 sorts and hashes as a 78-digit NUMERIC,
# several times slower; a merge join's sorts by it took most of the statement): two tokens are
# one only if both hashes of both agree (odds 2^-128 a pair of tokens); one ``tok`` shared only
# merges two tokens' window counts (more buys kept, none lost).
BUYS = f"""
CREATE TEMP TABLE rep_buys ON COMMIT DROP AS
WITH t AS (
    SELECT t.wallet_address AS w, hash_numeric_extended(t.token_id, 0) AS tok,
           hash_numeric_extended(t.token_id, 1) AS tok2, t.timestamp AS ts, t.usdc_size, t.size
      FROM ({GATED_TRADES}) t
     WHERE t.is_taker_aggregate AND t.side = 'BUY' AND t.size > 0
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
# $2 = copy_min_markets.
COPY = """
CREATE TEMP TABLE rep_copy ON COMMIT DROP AS
WITH pairs AS MATERIALIZED (
    SELECT c.w AS f, b.w AS l, c.tok, c.id AS f_id, b.id AS l_id
      FROM rep_buys c
      JOIN rep_buys b ON b.tok = c.tok AND b.tok2 = c.tok2 AND b.bucket = c.bucket
     WHERE b.ts >= c.ts - make_interval(secs => $1::float8) AND b.ts < c.ts
       AND b.p <= c.p AND b.w <> c.w
    UNION ALL
    SELECT c.w, b.w, c.tok, c.id, b.id
      FROM rep_buys c
      JOIN rep_buys b ON b.tok = c.tok AND b.tok2 = c.tok2 AND b.bucket = c.bucket - 1
     WHERE b.ts >= c.ts - make_interval(secs => $1::float8)
       AND b.p <= c.p AND b.w <> c.w
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


async def build(conn: asyncpg.Connection, as_of: object, settings: ReputationSettings) -> None:
    """``rep_copy`` inside the caller's transaction (``rep_buys`` on the way)."""
    window = settings.copy_window_secs
    await conn.execute(BUYS, as_of, timedelta(seconds=window), float(window))
    await conn.execute("ANALYZE rep_buys")
    await conn.execute(COPY, float(settings.copy_window_secs), settings.copy_min_markets)
    await conn.execute(BUYS_OF_FOLLOWERS, as_of)
    await conn.execute("DROP TABLE rep_buys")


# Every taker buy of the followers (their share's denominator), by the wallets' time index.
# $1 = as_of.
BUYS_OF_FOLLOWERS = f"""
UPDATE rep_copy c SET buys = (
       SELECT count(*) FROM (SELECT DISTINCT t.token_id, t.timestamp FROM ({GATED_TRADES}) t
                              WHERE t.wallet_address = c.wallet_address AND t.is_taker_aggregate
                                AND t.side = 'BUY' AND t.size > 0) AS b)
"""


# The rows the population step reads: the follower's place in its wallets table. $1: none.
def copy_rows(wallets: str) -> str:
    return f"""SELECT w.idx, c.trail, c.lead, c.markets, c.buys
                 FROM rep_copy c JOIN {wallets} w ON w.wallet_address = c.wallet_address"""
