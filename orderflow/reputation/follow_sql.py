"""The price a follower would have paid: each taker decision valued from it, not from the
wallet's own fill (``rep_follow``; docs/reputation.md "The follow price").

A follower acts on a wallet's fill once the listener has stored it and its order has reached the
exchange: ``follow_latency_secs`` after the fill (the backtest's default latency, at least 1 s: a
fill's own transaction lies before it). Its order then meets the book as it stands, which the
next orders that cross it reveal. So a taker fill's **follow price** is the price of the first
**print** of the same token by another wallet from the latency after the fill to
``follow_window_secs`` after that (the executor's order life: a later print says what the market
learnt since, not what the book held), and before its market's resolution (a print after it is
taken with the outcome known). A print is an order that crossed the book: a taker row
(``is_taker_aggregate``, the order's mean price over its makers) at a level
(:data:`line_sql.PRICED <orderflow.reputation.line_sql.PRICED>`: a fill of no shares or no
collateral, stored at price 0, is none; nor is a print at 1.00); its wallet is the taker's (a
maker row is the same match seen from the book, not another order). The token's prints are
ordered by (time, block, log index, chain): the trades' key. **No print by another wallet in
the window: the fill's own price** (nothing says the book moved). A taker fill that is no print
itself (price 0 or 1) keeps its own price.

A wallet that picks a maker's quote not yet pulled, seconds after the price stepped, has edge at
its fill that nobody has a few seconds later: its follow price is the new price, and its
decisions are worth to a follower what the new price leaves. A wallet that bought before the
market moved has its follow price near its own: it keeps its edge.

One ordered pass over the prints (:func:`followed`), not a probe per fill (e640f3f's probes took
6-7 s, +36 % of the full run at 20,000 wallets / 400,000 trades): numbered in that order, each
print's count of prints before its time plus the latency (a running count: the first print at or
after that time is the next), and its run (consecutive prints of one wallet: where the first
print after the latency is the fill's own wallet's, the first by another wallet is the first of
the next run). The run (:data:`FOLLOW`, one scan of the trades), the incremental run
(:data:`FOLLOW_FEW`, the followed tokens by the token index) and ``orderflow wallet``'s replay
(:func:`wallet_follow`) read the same statement.

Per (wallet, token) of a resolved position with taker fills, in USDC, exact NUMERIC sums with one
conversion (no order to depend on): ``fb``, what a follower pays more for the wallet's taker buys
(shares x (follow price - fill price)), and ``fs``, what it receives less for its taker sells
(shares x (fill price - follow price)). :data:`orderflow.reputation.evidence_sql.WALLETS` adds
them to the taker buys' cost and takes them from the taker sells' proceeds, in the share of the
taker amounts left as decisions. A fill's follow price is a function of its token's prints
before its resolution: a print stored or taken away there moves only the follow prices of the
token's taker fills before the resolution, whose wallets an incremental run rescores
(:data:`MOVED`, :mod:`orderflow.reputation.incremental`).
"""

from __future__ import annotations

from datetime import datetime

import asyncpg

from orderflow.reputation.copy_sql import TOK, TOK2
from orderflow.reputation.gate import GATED_TRADES
from orderflow.reputation.line_sql import PRICED
from orderflow.reputation.settings import ReputationSettings

__all__ = [
    "COST",
    "FOLLOW",
    "FOLLOW_FEW",
    "MOVED",
    "PROCEEDS",
    "SELL_SLIP",
    "follow",
    "followed",
    "ranges",
    "wallet_follow",
]

# The token's prints in order (a total one: (chain, block, log index) is the trades' key), the
# token known by two 64-bit hashes (copy_sql.TOK: a 78-digit NUMERIC sorts several times slower).
_ORDER = (
    """PARTITION BY t.tok, t.tok2 ORDER BY t.timestamp, t.block_number, t.log_index, t.chain_id"""
)
# The prints stamped before the fill's time plus the latency, counted (microseconds: a
# timestamptz's grain, so "at or before that less one" is "before that"): a running count.
_BEFORE = """PARTITION BY t.tok, t.tok2 ORDER BY t.timestamp
             RANGE BETWEEN UNBOUNDED PRECEDING
                       AND make_interval(secs => {lat}::float8) - interval '1 microsecond'
                           FOLLOWING"""
# The print that many rows on (the first at or after the latency), by a row offset.
_NEXT = "lead(t.{c}, (t.nb + 1 - t.rn)::int) OVER o"


def followed(takers: str, trades: str, lat: str = "$2", win: str = "$3") -> str:
    """Each taker fill of the positions ``takers`` (a query of ``wallet_address``, ``token_id``,
    ``resolved_at``: one row per position) stamped before its resolution, with its follow price
    (``follow``, NUMERIC; NULL: none). ``trades``: the gated trades of the positions' tokens (a
    query; at least every taker row of them), aliased ``t``. Columns: ``wallet_address``,
    ``token_id``, ``chain_id``, ``tx_hash``, ``log_index``, ``side``, ``size``, ``price``,
    ``follow``. ``lat``, ``win``: the parameters of follow_latency_secs and follow_window_secs
    (float8). Reads no parameter but those.

    Window levels over one sort (a level whose order differs finds its rows sorted): the prints
    numbered, each one's count of prints before its time plus the latency and whether it starts
    a run of its wallet; the runs numbered; each run's end; the first print at or after the
    latency (``p_*``: by a row offset); where that print is the fill's own wallet's, the row
    after its run's end (by a row offset again). No join of the prints with themselves: a hash
    join's estimate of a CTE's rows made it a nested loop over a few wallets' prints (2.3 s for
    500 wallets where the offsets take 0.2 s)."""
    return f"""
WITH pr AS (
    SELECT t.*, row_number() OVER o AS rn, count(*) OVER b AS nb,
           (lag(t.wallet_address) OVER o IS DISTINCT FROM t.wallet_address) AS starts
      FROM (SELECT {TOK} AS tok, {TOK2} AS tok2, t.timestamp, t.block_number, t.log_index,
                   t.chain_id, t.wallet_address, t.price, t.tx_hash, t.side, t.size, t.token_id
              FROM ({trades}) t
             WHERE t.is_taker_aggregate AND {PRICED.format(t="t")}) t
    WINDOW o AS ({_ORDER}), b AS ({_BEFORE.format(lat=lat)})
), ru AS (
    SELECT t.*, count(*) FILTER (WHERE t.starts) OVER o AS run FROM pr t WINDOW o AS ({_ORDER})
), re AS (
    -- where each run ends (the runs are numbered in order: this sort finds them sorted)
    SELECT t.*, max(t.rn) OVER (PARTITION BY t.tok, t.tok2, t.run) AS run_end FROM ru t
), nx AS (
    SELECT t.*, {_NEXT.format(c="wallet_address")} AS p_w, {_NEXT.format(c="timestamp")} AS p_at,
           {_NEXT.format(c="price")} AS p_price, {_NEXT.format(c="run_end")} AS p_end
      FROM re t
    WINDOW o AS ({_ORDER})
), x AS (
    -- the first print at or after the latency; where it is the wallet's own, the first of the
    -- run after its run (the row after that run's end)
    SELECT t.*,
           CASE WHEN t.p_w <> t.wallet_address THEN t.p_at
                ELSE lead(t.timestamp, (t.p_end + 1 - t.rn)::int) OVER o END AS at,
           CASE WHEN t.p_w <> t.wallet_address THEN t.p_price
                ELSE lead(t.price, (t.p_end + 1 - t.rn)::int) OVER o END AS follow
      FROM nx t
    WINDOW o AS ({_ORDER})
)
SELECT x.wallet_address, x.token_id, x.chain_id, x.tx_hash, x.log_index, x.side, x.size, x.price,
       CASE WHEN x.at < k.resolved_at
             AND x.at <= x.timestamp + make_interval(secs => {lat}::float8 + {win}::float8)
            THEN x.follow END AS follow
  FROM x
  JOIN ({takers}) k ON k.wallet_address = x.wallet_address AND k.token_id = x.token_id
 WHERE x.timestamp < k.resolved_at
"""


# The followed positions of rep_positions (the wallets rescored): resolved, with taker fills.
_TAKERS = """SELECT wallet_address, token_id, resolved_at, taker_first_at FROM rep_positions
              WHERE resolved AND (tb > 0 OR ts > 0)"""


def ranges(fills: str, lat: str = "$2", win: str = "$3") -> str:
    """The gated trades of each fill's token of ``fills`` (a query of ``token_id``,
    ``timestamp``: the followed taker fills) from the fill to the latency plus the window after
    it, each token's ranges merged where they meet (no row read twice), each range by the token
    index. All :func:`followed` needs for those fills: every print from a fill to its window's
    end (a print further on is out of every window it could fall in). A few wallets' fills
    (an incremental run's, the replay's) read a few hours of their tokens, not their whole
    history."""
    return f"""
SELECT g.* FROM (
    SELECT token_id, min(lo) AS lo, max(hi) AS hi
      FROM (SELECT r.*, count(*) FILTER (WHERE r.gap) OVER (PARTITION BY r.token_id
                                                              ORDER BY r.lo, r.hi) AS part
              FROM (SELECT f.*, f.lo > max(f.hi) OVER (PARTITION BY f.token_id ORDER BY f.lo, f.hi
                                                        ROWS BETWEEN UNBOUNDED PRECEDING
                                                                 AND 1 PRECEDING) AS gap
                      FROM (SELECT DISTINCT f.token_id, f.timestamp AS lo,
                                   f.timestamp + make_interval(secs => {lat}::float8
                                                                       + {win}::float8) AS hi
                              FROM ({fills}) f) f) r) r
     GROUP BY token_id, part
) r CROSS JOIN LATERAL (SELECT * FROM ({GATED_TRADES}) g
                         WHERE g.token_id = r.token_id AND g.timestamp >= r.lo
                           AND g.timestamp <= r.hi OFFSET 0) g"""


# The followed positions' taker fills before their resolution (their token and time), each
# wallet's read once over the wallet index (e640f3f: by the token index per position the
# statement read every wallet's fills of the token).
_FILLS = f"""
SELECT t.token_id, t.timestamp
  FROM (SELECT wallet_address, min(taker_first_at) AS since, max(resolved_at) AS until
          FROM ({_TAKERS}) k GROUP BY wallet_address) w
 CROSS JOIN LATERAL (SELECT g.* FROM ({GATED_TRADES}) g
                      WHERE g.wallet_address = w.wallet_address AND g.timestamp >= w.since
                        AND g.timestamp < w.until AND g.is_taker_aggregate OFFSET 0) t
  JOIN ({_TAKERS}) k
    ON k.wallet_address = t.wallet_address AND k.token_id = t.token_id
   AND t.timestamp < k.resolved_at"""


def _follow(trades: str) -> str:
    """``rep_follow`` from :func:`followed` over ``trades``. $1 = as_of, $2, $3: as there."""
    return f"""
CREATE TEMP TABLE rep_follow ON COMMIT DROP AS
SELECT f.wallet_address, f.token_id,
       coalesce(sum(f.size * (f.follow - f.price)) FILTER (WHERE f.side = 'BUY'), 0)::float8 AS fb,
       coalesce(sum(f.size * (f.price - f.follow)) FILTER (WHERE f.side <> 'BUY'), 0)::float8
           AS fs
  FROM ({followed(_TAKERS, trades)}) f
 WHERE f.follow IS NOT NULL AND f.follow <> f.price
 GROUP BY f.wallet_address, f.token_id
"""


# A full run's: one scan of the trades (most tokens are followed); an incremental run's: the
# followed fills' ranges (:func:`ranges`).
FOLLOW = _follow(GATED_TRADES)
FOLLOW_FEW = _follow(ranges(_FILLS))


def wallet_follow(fills: str) -> str:
    """One wallet's taker fills' follow prices (``orderflow wallet``'s replay), by (chain,
    transaction, log index): :func:`followed` over ``fills`` (the wallet's, with
    ``resolved_at``: wallet_sql.WALLET_FILLS, $1 = as_of, $2 = the wallet), $3 =
    follow_latency_secs, $4 = follow_window_secs."""
    takers = f"""SELECT DISTINCT wallet_address, token_id, resolved_at FROM ({fills}) w
                  WHERE w.is_taker_aggregate AND w.resolved_at IS NOT NULL"""
    taken = f"""SELECT w.token_id, w.timestamp FROM ({fills}) w
                 WHERE w.is_taker_aggregate AND w.timestamp < w.resolved_at"""
    trades = ranges(taken, "$3", "$4")
    return f"""SELECT f.chain_id, f.tx_hash, f.log_index, f.follow
                 FROM ({followed(takers, trades, "$3", "$4")}) f
                WHERE f.follow IS NOT NULL"""


# The holders whose follow prices a changed key can move (an incremental run's, over the changed
# tokens' positions in rep_positions and the changed keys in rep_dirty_keys): of a resolved token
# with a changed key, every wallet with a taker fill before the resolution (a print stored or
# taken away before it can be the first after one of them; the change log holds no time).
MOVED = """SELECT p.wallet_address FROM rep_positions p
            WHERE p.resolved AND p.taker_first_at < p.resolved_at
              AND p.token_id IN (SELECT token_id FROM rep_dirty_keys)"""

# The decision amounts of WALLETS' ``adj`` at the follower's price: the taker buys' cost and the
# taker sells' proceeds ({tb}, {tcb}, {ts}, {tr}: the amounts left as decisions), with the
# follow amounts ``fo`` (NULL: none) in the share of the taker amounts left; and what comes off
# the mean price of its taker sells (the follower's slip a share sold). With no follow amount
# each is the amount as it was, to the bit.
COST = "CASE WHEN fo.fb IS NULL OR p.tb <= 0 THEN {tcb} ELSE {tcb} + fo.fb * ({tb}) / p.tb END"
PROCEEDS = "CASE WHEN fo.fs IS NULL OR p.ts <= 0 THEN {tr} ELSE {tr} - fo.fs * ({ts}) / p.ts END"
SELL_SLIP = "CASE WHEN fo.fs IS NULL OR p.ts <= 0 THEN 0.0 ELSE fo.fs / p.ts END"


async def follow(
    conn: asyncpg.Connection, as_of: datetime, settings: ReputationSettings, *, few: bool = False
) -> None:
    """``rep_follow`` for the positions of ``rep_positions`` (:data:`FOLLOW`; ``few``: read by
    the token index, :data:`FOLLOW_FEW`)."""
    await conn.execute(
        FOLLOW_FEW if few else FOLLOW,
        as_of,
        settings.follow_latency_secs,
        settings.follow_window_secs,
    )
    await conn.execute("ANALYZE rep_follow")
