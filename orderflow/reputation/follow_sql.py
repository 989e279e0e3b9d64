"""The price a follower would have paid: each taker decision valued from it, not from the
wallet's own fill (``rep_follow``; docs/reputation.md "The follower's price").

A follower acts on a wallet's fill once the listener has stored it and its order has reached the
exchange: ``follow_latency_secs`` after the fill (the backtest's default latency,
:data:`orderflow.backtest.latency.DEFAULT_LATENCY_SECS`: three confirmations of ~2 s, a block
seen ~1 s late, ~1 s to place the order). Its order then meets the book as it stands, which the
next prints reveal. So a taker fill's **follow price** is the price of the first print of the
same token by another wallet, outside the fill's own transaction (its makers' rows are the
fill), at least the latency after the fill and at most ``follow_window_secs`` after that (the
executor's order life, ``order_ttl_secs``: a later print says what the market learnt since,
not what the book held), and before its market's resolution (a print after it is taken with
the outcome known). No such print: the fill's own price (nothing says the book moved).
Measured: the first print however late took the skill of the simulator's positive control
out of the top tiers (its markets trade a few times a day and drift toward the outcome), and
the window leaves the third world's stale-quote pickers most of their picks (their next print
a median 36 minutes later): docs/reputation.md "The follower's price".

A wallet that picks a maker's quote not yet pulled, seconds after the price stepped, has edge at
its fill that nobody has a few seconds later: its follow price is the new price, and its
decisions are worth to a follower what the new price leaves (the third world's stale-quote
pickers, docs/reputation.md "A third independent population"). A wallet that bought before the
market moved has its follow price near its own: it keeps its edge.

Per (wallet, token) of a resolved position with taker fills, in USDC, exact NUMERIC sums with one
conversion (no order to depend on): ``fb``, what a follower pays more for the wallet's taker buys
(shares x (follow price - fill price)), and ``fs``, what it receives less for its taker sells
(shares x (fill price - follow price)). Taker fills at or after the market's resolution are no
decision (rep_void) and have none. :data:`orderflow.reputation.evidence_sql.WALLETS` adds them to
the taker buys' cost and takes them from the taker sells' proceeds, in the share of the taker
amounts left as decisions (off-market and void fills out). A function of the wallet's fills and
the token's later prints: an incremental run rescores the holders of every resolved token with a
new fill (:mod:`orderflow.reputation.incremental`), the prints a follow price waited for.
"""

from __future__ import annotations

from datetime import datetime

import asyncpg

from orderflow.reputation.gate import GATED_TRADES
from orderflow.reputation.settings import ReputationSettings

__all__ = ["COST", "FOLLOW", "PROCEEDS", "SELL_SLIP", "follow", "follow_price"]


def follow_price(t: str, latency: str, window: str, until: str) -> str:
    """A scalar subquery: the follow price (NUMERIC; NULL: no print) of the taker fill row ``t``:
    the first print of its token by another wallet outside its transaction from ``latency`` to
    ``latency`` + ``window`` seconds after it (SQL expressions) and before ``until`` (its
    market's resolution). By the token index (token, time, log index), the rows from the latency
    on read from the heap until one is another wallet's. Reads through the as_of gate ($1)."""
    return f"""(SELECT x.price FROM ({GATED_TRADES}) x
                 WHERE x.token_id = {t}.token_id
                   AND x.timestamp >= {t}.timestamp + make_interval(secs => {latency})
                   AND x.timestamp <= {t}.timestamp + make_interval(secs => {latency} + {window})
                   AND x.timestamp < {until}
                   AND x.wallet_address <> {t}.wallet_address AND x.tx_hash <> {t}.tx_hash
                 ORDER BY x.timestamp, x.log_index, x.block_number, x.chain_id, x.tx_hash,
                          x.wallet_address
                 LIMIT 1)"""


# $1 = as_of, $2 = follow_latency_secs, $3 = follow_window_secs. Reads rep_positions (the
# wallets rescored).
_PRICE = follow_price("t", "$2::float8", "$3::float8", "p.resolved_at")
FOLLOW = f"""
CREATE TEMP TABLE rep_follow ON COMMIT DROP AS
SELECT t.wallet_address, t.token_id,
       coalesce(sum(t.size * (f.price - t.price)) FILTER (WHERE t.side = 'BUY'), 0)::float8 AS fb,
       coalesce(sum(t.size * (t.price - f.price)) FILTER (WHERE t.side <> 'BUY'), 0)::float8
           AS fs
  FROM rep_positions p
  JOIN ({GATED_TRADES}) t
    ON t.wallet_address = p.wallet_address AND t.token_id = p.token_id AND t.is_taker_aggregate
   AND t.timestamp < p.resolved_at
 CROSS JOIN LATERAL (SELECT {_PRICE} AS price) f
 WHERE p.resolved AND (p.tb > 0 OR p.ts > 0) AND f.price IS NOT NULL
 GROUP BY t.wallet_address, t.token_id
"""

# The decision amounts of WALLETS' ``adj`` at the follower's price: the taker buys' cost and the
# taker sells' proceeds ({tb}, {tcb}, {ts}, {tr}: the amounts left as decisions), with the
# follow amounts ``fo`` (NULL: none) in the share of the taker amounts left; and what comes off
# the mean price of its taker sells (the follower's slip a share sold). With no follow amount
# each adds 0.0: the amount as it was, to the bit.
COST = "{tcb} + CASE WHEN p.tb > 0 THEN coalesce(fo.fb, 0.0) * ({tb}) / p.tb ELSE 0.0 END"
PROCEEDS = "{tr} - CASE WHEN p.ts > 0 THEN coalesce(fo.fs, 0.0) * ({ts}) / p.ts ELSE 0.0 END"
SELL_SLIP = "CASE WHEN p.ts > 0 THEN coalesce(fo.fs, 0.0) / p.ts ELSE 0.0 END"


async def follow(conn: asyncpg.Connection, as_of: datetime, settings: ReputationSettings) -> None:
    """``rep_follow`` for the positions of ``rep_positions`` (:data:`FOLLOW`)."""
    await conn.execute(FOLLOW, as_of, settings.follow_latency_secs, settings.follow_window_secs)
    await conn.execute("ANALYZE rep_follow")
