"""The price a follower would have paid: each taker decision valued from it, not from the
wallet's own fill (``rep_follow``; docs/reputation.md "The follow price").

A follower acts on a wallet's fill once the listener has stored it and its order has reached the
exchange: ``follow_latency_secs`` after the fill (the backtest's default latency). Its order then
meets the book as it stands, which the next prints reveal. So a taker fill's **follow price** is
the price of the first print of the same token by another wallet from the latency after the fill
(a fill's own transaction, its makers' rows, lies before it: the latency is above 0) to
``follow_window_secs`` after that (the executor's order life: a later print says what the market
learnt since, not what the book held), and before its market's resolution (a print after it is
taken with the outcome known). A print is a fill row at a level (:data:`line_sql.PRICED
<orderflow.reputation.line_sql.PRICED>`: a fill of no shares or no collateral, stored at price
0, is none), the token's rows in (time, log index, block, chain, transaction, wallet) order.
No such print: the fill's own price (nothing says the book moved). A taker fill that is no print
itself (price 0 or 1) keeps its own price.

A wallet that picks a maker's quote not yet pulled, seconds after the price stepped, has edge at
its fill that nobody has a few seconds later: its follow price is the new price, and its
decisions are worth to a follower what the new price leaves. A wallet that bought before the
market moved has its follow price near its own: it keeps its edge.

One ordered pass over the followed tokens' prints (:func:`followed`), not a probe per fill:
numbered in the order above, each print's count of prints before its time plus the latency (a
running count: the first print at or after that time is the next), and its run (consecutive
prints of one wallet; the first print by another wallet after a print of the fill's own wallet
is the first of the next run). Two look-ups by those numbers give the follow price. The run
(:data:`FOLLOW`, the tokens' prints read by one scan) and ``orderflow wallet``'s replay
(:data:`WALLET_FOLLOW`, by the token index) read the same statement.

Per (wallet, token) of a resolved position with taker fills, in USDC, exact NUMERIC sums with one
conversion (no order to depend on): ``fb``, what a follower pays more for the wallet's taker buys
(shares x (follow price - fill price)), and ``fs``, what it receives less for its taker sells
(shares x (fill price - follow price)). :data:`orderflow.reputation.evidence_sql.WALLETS` adds
them to the taker buys' cost and takes them from the taker sells' proceeds, in the share of the
taker amounts left as decisions. A fill's follow price is a function of its token's prints in
the latency-plus-window after it: a print stored (or taken by a reorg) at time X moves only the
follow prices of the token's taker fills from X - latency - window to X - latency, whose holders
an incremental run rescores (:data:`MOVED`, :mod:`orderflow.reputation.incremental`).
"""

from __future__ import annotations

from datetime import datetime

import asyncpg

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
    "wallet_follow",
]

# The token's prints in order (a total one: a fill row's key is (chain, transaction, log index)).
_ORDER = """PARTITION BY t.token_id
            ORDER BY t.timestamp, t.log_index, t.block_number, t.chain_id, t.tx_hash,
                     t.wallet_address"""
# The prints stamped before the fill's time plus the latency ($2), counted (microseconds: a
# timestamptz's grain, so "at or before that less one" is "before that").
_BEFORE = """PARTITION BY t.token_id ORDER BY t.timestamp
             RANGE BETWEEN UNBOUNDED PRECEDING
                       AND make_interval(secs => {lat}::float8) - interval '1 microsecond'
                           FOLLOWING"""


def followed(takers: str, trades: str, lat: str = "$2", win: str = "$3") -> str:
    """Each taker fill of the positions ``takers`` (a query of ``wallet_address``, ``token_id``,
    ``resolved_at``: one row per position) stamped before its resolution, with its follow price
    (``follow``, NUMERIC; NULL: none). ``trades``: the gated trades of the positions' tokens (a
    query; at least every print of them), aliased ``t``. Columns: ``wallet_address``,
    ``token_id``, ``chain_id``, ``tx_hash``, ``log_index``, ``side``, ``size``, ``price``,
    ``follow``. ``lat``, ``win``: the parameters of follow_latency_secs and follow_window_secs
    (float8). Reads no parameter but those."""
    return f"""
WITH pr AS (
    SELECT t.token_id, t.timestamp, t.log_index, t.block_number, t.chain_id, t.tx_hash,
           t.wallet_address, t.is_taker_aggregate, t.side, t.size, t.price,
           row_number() OVER o AS rn, count(*) OVER b AS nb,
           (lag(t.wallet_address) OVER o IS DISTINCT FROM t.wallet_address) AS starts
      FROM ({trades}) t
     WHERE {PRICED.format(t="t")}
    WINDOW o AS ({_ORDER}), b AS ({_BEFORE.format(lat=lat)})
), s AS MATERIALIZED (
    SELECT t.*, count(*) FILTER (WHERE t.starts) OVER o AS run FROM pr t WINDOW o AS ({_ORDER})
)
SELECT f.wallet_address, f.token_id, f.chain_id, f.tx_hash, f.log_index, f.side, f.size, f.price,
       CASE WHEN x.timestamp < k.resolved_at
             AND x.timestamp <= f.timestamp + make_interval(secs => {lat}::float8 + {win}::float8)
            THEN x.price END AS follow
  FROM s f
  JOIN ({takers}) k ON k.wallet_address = f.wallet_address AND k.token_id = f.token_id
  -- the first print at or after the latency, and the first of the run after its run
  LEFT JOIN s p ON p.token_id = f.token_id AND p.rn = f.nb + 1
  LEFT JOIN s q ON q.token_id = f.token_id AND q.run = p.run + 1 AND q.starts
 CROSS JOIN LATERAL (SELECT CASE WHEN p.wallet_address <> f.wallet_address THEN p.timestamp
                                 ELSE q.timestamp END AS timestamp,
                            CASE WHEN p.wallet_address <> f.wallet_address THEN p.price
                                 ELSE q.price END AS price) x
 WHERE f.is_taker_aggregate AND f.timestamp < k.resolved_at
"""


# The followed positions of rep_positions (the wallets rescored): resolved, with taker fills.
_TAKERS = """SELECT wallet_address, token_id, resolved_at FROM rep_positions
              WHERE resolved AND (tb > 0 OR ts > 0)"""
# Their tokens' trades: one scan (a full run's: most tokens), or by the token index per token
# (an incremental run's few).
_SCAN = f"""SELECT * FROM ({GATED_TRADES}) g
             WHERE g.token_id IN (SELECT token_id FROM ({_TAKERS}) k)"""
_BY_TOKEN = f"""SELECT g.* FROM (SELECT DISTINCT token_id FROM ({_TAKERS}) k) k
                CROSS JOIN LATERAL (SELECT * FROM ({GATED_TRADES}) g
                                     WHERE g.token_id = k.token_id OFFSET 0) g"""


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


FOLLOW = _follow(_SCAN)
FOLLOW_FEW = _follow(_BY_TOKEN)


def wallet_follow(fills: str) -> str:
    """One wallet's taker fills' follow prices (``orderflow wallet``'s replay), by (chain,
    transaction, log index): :func:`followed` over ``fills`` (the wallet's, with
    ``resolved_at``: wallet_sql.WALLET_FILLS, $1 = as_of, $2 = the wallet), $3 =
    follow_latency_secs, $4 = follow_window_secs."""
    takers = f"""SELECT DISTINCT wallet_address, token_id, resolved_at FROM ({fills}) w
                  WHERE w.is_taker_aggregate AND w.resolved_at IS NOT NULL"""
    trades = f"""SELECT g.* FROM (SELECT DISTINCT token_id FROM ({takers}) k) k
                 CROSS JOIN LATERAL (SELECT * FROM ({GATED_TRADES}) g
                                      WHERE g.token_id = k.token_id OFFSET 0) g"""
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
