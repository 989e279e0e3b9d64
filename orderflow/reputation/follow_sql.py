"""The price a follower would have paid: each taker decision valued from it, not from the
wallet's own fill (``rep_follow``; docs/reputation.md "The follow price").

A follower acts on a wallet's fill once the listener has stored it and its order has reached the
exchange: ``follow_latency_secs`` after the fill (the backtest's default latency). Its order then
meets the book as it stands, which the next prints reveal. So a taker fill's **follow price** is
the price of the first print of the same token by another wallet, outside the fill's own
transaction (its makers' rows are the fill), from the latency after the fill to
``follow_window_secs`` after that (the executor's order life: a later print says what the market
learnt since, not what the book held), and before its market's resolution (a print after it is
taken with the outcome known). A fill of no shares or no collateral (stored at price 0) is no
print (:data:`orderflow.reputation.line_sql.PRINT`). No such print: the fill's own price
(nothing says the book moved).

A wallet that picks a maker's quote not yet pulled, seconds after the price stepped, has edge at
its fill that nobody has a few seconds later: its follow price is the new price, and its
decisions are worth to a follower what the new price leaves. A wallet that bought before the
market moved has its follow price near its own: it keeps its edge.

Per (wallet, token) of a resolved position with taker fills, in USDC, exact NUMERIC sums with one
conversion (no order to depend on): ``fb``, what a follower pays more for the wallet's taker buys
(shares x (follow price - fill price)), and ``fs``, what it receives less for its taker sells
(shares x (fill price - follow price)). :data:`orderflow.reputation.evidence_sql.WALLETS` adds
them to the taker buys' cost and takes them from the taker sells' proceeds, in the share of the
taker amounts left as decisions. A function of the wallet's fills and the token's prints before
its resolution: an incremental run rescores the holders of every resolved token with a changed
fill (:mod:`orderflow.reputation.incremental`).
"""

from __future__ import annotations

from datetime import datetime

import asyncpg

from orderflow.reputation import line_sql
from orderflow.reputation.gate import GATED_TRADES
from orderflow.reputation.settings import ReputationSettings

__all__ = ["COST", "FOLLOW", "PROCEEDS", "SELL_SLIP", "follow", "follow_price"]


def follow_price(t: str, latency: str, window: str, until: str) -> str:
    """A scalar subquery: the follow price (NUMERIC; NULL: no print) of the taker fill row ``t``:
    the first print of its token by another wallet outside its transaction from ``latency`` to
    ``latency`` + ``window`` seconds after it (SQL expressions) and before ``until`` (its
    market's resolution). By the token index (token, time, log index), the rows from the latency
    on read from the heap until one is another wallet's print. Reads through the as_of gate
    ($1)."""
    return f"""(SELECT x.price FROM ({GATED_TRADES}) x
                 WHERE x.token_id = {t}.token_id
                   AND x.timestamp >= {t}.timestamp + make_interval(secs => {latency})
                   AND x.timestamp <= {t}.timestamp + make_interval(secs => {latency} + {window})
                   AND x.timestamp < {until}
                   AND {line_sql.PRINT.format(t="x")}
                   AND x.wallet_address <> {t}.wallet_address AND x.tx_hash <> {t}.tx_hash
                 ORDER BY x.timestamp, x.log_index, x.block_number, x.chain_id, x.tx_hash,
                          x.wallet_address
                 LIMIT 1)"""


# $1 = as_of, $2 = follow_latency_secs, $3 = follow_window_secs. Reads rep_positions (the
# wallets rescored).
_PRICE = follow_price("t", "$2::float8", "$3::float8", "p.resolved_at")
FOLLOW = f"""
CREATE TEMP TABLE rep_follow ON COMMIT DROP AS
WITH followed AS (
    SELECT * FROM rep_positions WHERE resolved AND (tb > 0 OR ts > 0)
)
SELECT p.wallet_address, p.token_id,
       coalesce(sum(t.size * (f.price - t.price)) FILTER (WHERE t.side = 'BUY'), 0)::float8 AS fb,
       coalesce(sum(t.size * (t.price - f.price)) FILTER (WHERE t.side <> 'BUY'), 0)::float8
           AS fs
  -- each wallet's taker fills over the span of its followed positions, by the wallet index (one
  -- range per wallet: by the token index, a range per position read every wallet's fills of
  -- the token, 24 s of a 13.7 s full run at 20,000 wallets / 400,000 trades), then to their
  -- positions
  FROM (SELECT wallet_address, min(taker_first_at) AS since, max(resolved_at) AS until
          FROM followed GROUP BY wallet_address) w
 CROSS JOIN LATERAL (
       SELECT g.* FROM ({GATED_TRADES}) g
        WHERE g.wallet_address = w.wallet_address AND g.timestamp >= w.since
          AND g.timestamp < w.until AND g.is_taker_aggregate
       OFFSET 0) t
  JOIN followed p
    ON p.wallet_address = t.wallet_address AND p.token_id = t.token_id
   AND t.timestamp < p.resolved_at
 CROSS JOIN LATERAL (SELECT {_PRICE} AS price) f
 WHERE f.price IS NOT NULL AND f.price <> t.price
 GROUP BY p.wallet_address, p.token_id
"""

# The decision amounts of WALLETS' ``adj`` at the follower's price: the taker buys' cost and the
# taker sells' proceeds ({tb}, {tcb}, {ts}, {tr}: the amounts left as decisions), with the
# follow amounts ``fo`` (NULL: none) in the share of the taker amounts left; and what comes off
# the mean price of its taker sells (the follower's slip a share sold). With no follow amount
# each is the amount as it was, to the bit.
COST = "CASE WHEN fo.fb IS NULL OR p.tb <= 0 THEN {tcb} ELSE {tcb} + fo.fb * ({tb}) / p.tb END"
PROCEEDS = "CASE WHEN fo.fs IS NULL OR p.ts <= 0 THEN {tr} ELSE {tr} - fo.fs * ({ts}) / p.ts END"
SELL_SLIP = "CASE WHEN fo.fs IS NULL OR p.ts <= 0 THEN 0.0 ELSE fo.fs / p.ts END"


async def follow(conn: asyncpg.Connection, as_of: datetime, settings: ReputationSettings) -> None:
    """``rep_follow`` for the positions of ``rep_positions`` (:data:`FOLLOW`)."""
    await conn.execute(FOLLOW, as_of, settings.follow_latency_secs, settings.follow_window_secs)
    await conn.execute("ANALYZE rep_follow")
