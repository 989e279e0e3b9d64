"""The lead-lag evidence of the COPIER flag (:func:`orderflow.reputation.flags.copier_rows`).

A copy-trading bot mirrors another wallet's taker buys seconds later at the book: the same token,
at the price the leader's fill left (equal or worse). Its record is its leader's decisions, a
minute late: following it follows a doubly delayed signal at a worse price, beside the leader's
own. Nothing in one wallet's fills tells it; the relation between two wallets' fills does.

``rep_buys``: every taker buy (the aggressor's rows, ``is_taker_aggregate``) gated at ``as_of``,
one per (wallet, token, block time) at its volume-weighted price. ``rep_copy``: per (follower,
leader) with the follower's buys trailing the leader's in at least ``copy_min_markets`` tokens,

* ``trail``: the follower's buys with a leader's buy of the same token in the
  ``copy_window_secs`` before (strictly earlier block time) at a price no higher;
* ``lead``: the follower's buys with a leader's buy of the same token in the window after at a
  price no lower (the same relation the other way round: the leader trails it);
* ``markets``: the tokens of the trailing buys; ``buys``: the follower's buys.

The flag's rule (shares, the sign test) is numpy's, in :mod:`orderflow.reputation.flags`.

Both runs execute this statement over every gated taker buy: a follower's figures change with
its leader's fills as much as with its own, so the incremental run's result is the full run's
by construction (it pays the statement's cost each run: docs/benchmarks.md "Copiers").
$1 = as_of, $2 = copy_window_secs, $3 = copy_min_markets.
"""

from __future__ import annotations

import asyncpg

from orderflow.reputation.gate import GATED_TRADES
from orderflow.reputation.settings import ReputationSettings

BUYS = f"""
CREATE TEMP TABLE rep_buys ON COMMIT DROP AS
SELECT row_number() OVER () AS id, t.wallet_address AS w, t.token_id, t.timestamp AS ts,
       sum(t.usdc_size) / sum(t.size) AS p
  FROM ({GATED_TRADES}) t
 WHERE t.is_taker_aggregate AND t.side = 'BUY' AND t.size > 0
 GROUP BY t.wallet_address, t.token_id, t.timestamp
"""

# Each pair: a buy (f) and another wallet's earlier buy of the token (l) in the window before it
# at a price no higher; a trailing buy of f, a leading buy of l. The earlier buys are found by
# the (token, time) index, one range probe per buy.
COPY = """
CREATE TEMP TABLE rep_copy ON COMMIT DROP AS
WITH pairs AS MATERIALIZED (
    SELECT c.w AS f, l.w AS l, c.token_id, c.id AS f_id, l.id AS l_id
      FROM rep_buys c
     CROSS JOIN LATERAL (
           SELECT b.w, b.id FROM rep_buys b
            WHERE b.token_id = c.token_id
              AND b.ts >= c.ts - make_interval(secs => $1::float8) AND b.ts < c.ts
              AND b.p <= c.p AND b.w <> c.w) l
),
trail AS (
    SELECT f, l, count(DISTINCT f_id) AS trail, count(DISTINCT token_id) AS markets
      FROM pairs GROUP BY f, l HAVING count(DISTINCT token_id) >= $2::int
),
lead AS (
    SELECT p.l AS f, p.f AS l, count(DISTINCT p.l_id) AS lead
      FROM pairs p JOIN trail t ON t.f = p.l AND t.l = p.f
     GROUP BY p.l, p.f
)
SELECT t.f AS wallet_address, t.l AS leader, t.trail, coalesce(d.lead, 0) AS lead, t.markets,
       (SELECT count(*) FROM rep_buys b WHERE b.w = t.f) AS buys
  FROM trail t LEFT JOIN lead d ON d.f = t.f AND d.l = t.l
"""


async def build(conn: asyncpg.Connection, as_of: object, settings: ReputationSettings) -> None:
    """``rep_buys`` and ``rep_copy`` inside the caller's transaction."""
    await conn.execute(BUYS, as_of)
    await conn.execute("CREATE INDEX ON rep_buys (token_id, ts)")
    await conn.execute("CREATE INDEX ON rep_buys (w)")
    await conn.execute("ANALYZE rep_buys")
    await conn.execute(COPY, float(settings.copy_window_secs), settings.copy_min_markets)
    await conn.execute("DROP TABLE rep_buys")


# The rows the population step reads: the follower's place in its wallets table. $1: none.
def copy_rows(wallets: str) -> str:
    return f"""SELECT w.idx, c.trail, c.lead, c.markets, c.buys
                 FROM rep_copy c JOIN {wallets} w ON w.wallet_address = c.wallet_address"""
