"""The execution stage's SQL for exits: the buy an entry followed on the chain (its trigger), the
leader's leaving of the token since (a sale of it, a buy of its complement), and the exits tried
on them per open position."""

from __future__ import annotations

import asyncpg

from orderflow.chain import pruning
from orderflow.signals.exits import REFUSED_IN_A_ROW, ExitsTried
from orderflow.signals.market_queries import left_since
from orderflow.signals.queries import complement_join

# Open FOLLOW_WHALE positions whose leader has left the token since the buy we followed (a SELL
# of it, or a BUY of its complement, after that buy on the chain:
# orderflow.signals.market_queries.left_since; "sells" below), with the exits tried
# so far: signals on those sells (found by the sells' keys, the signals' UNIQUE index), the last
# one's reason and when it ended, and whether one is still under way (PENDING, or its order
# resting or in doubt). Per position, the leader's latest such SELL on the chain (the next
# exit's trigger) and how many exits were tried on it. And the live buys of the token by the
# strategy: whether one has a trade not settled yet (MATCHED, RETRYING: its shares may not be
# sellable yet), and when their trades last changed status; ``recent`` (the reasons the hourly
# retry counts) holds only the exits tried since — refusals while the shares were on their way
# to the wallet say nothing of the exit once they are there.
# How long ago the last one ended is measured on the database's clock, which stamped the end
# (the executor's clock may be skewed from it).
# orderflow.signals.exits.exit_due decides which are due: the sell was read while the strategy
# held nothing (the entry on its way, a fill booked after the sell), or every exit tried left
# the position open (refused, never sent, expired partly filled).
# Entry signal ``s``'s triggering trade ``trig`` and the leader's later sells ``t`` of its token.
# The trigger is the leader's buy of the token in the signal's transaction, not the row of the
# signal's log index: a reorg that moves the transaction to another block deletes that row and
# the listener stores it again under another log index (orderflow.chain.rollback), and the entry
# lost its leader's sells — its resting order was not cancelled, its position never exited by
# maintenance (tests/execution/test_reorged_trigger.py). Several such buys in one transaction
# are one decision: any of them is the trigger (callers read the sells once per position).
SIGNAL_TRIGGER = (
    "trig.chain_id = s.chain_id AND trig.tx_hash = s.tx_hash"
    " AND trig.wallet_address = s.wallet_address AND trig.token_id = s.token_id"
    " AND trig.side = s.side"
)
# How long before its signal's ``trade_time`` (the trade's time when it was decided) a trigger
# may stand now: a reorg stores the transaction again in a block after the fork, and the listener
# follows forks REORG_WINDOW_BLOCKS deep (256 blocks, under 10 minutes, by default; at most 21,600,
# half a day: chain.settings). A reader that bounds its search for triggers by time
# (:func:`triggers_since`) prunes the partitions before it.
TRIGGER_REORG_MARGIN = "interval '1 day'"


def triggers_since(trade_time: str) -> str:
    """SQL: ``trig`` may be the trigger of a signal decided on a trade of ``trade_time`` or later
    (an uncorrelated expression: the partitions before it are pruned, :mod:`orderflow.chain.
    pruning`)."""
    since = f"({trade_time}) - {TRIGGER_REORG_MARGIN}"
    return f"trig.timestamp >= {since} AND {pruning.since(since, 'trig')}"


# The trigger's complement (``trig_comp.token_id``): joined after ``trig`` wherever LEADER_LEFT
# reads it.
TRIGGER_COMPLEMENT = complement_join("trig.token_id", "trig_comp")
# ``t`` is the trigger's wallet leaving its token after it on the chain: a SELL of the token or
# a BUY of its complement (orderflow.signals.market_queries.left_since).
LEADER_LEFT = left_since(
    "t", "trig.wallet_address", "trig.token_id", "trig_comp.token_id", chain="trig.chain_id",
    ts="trig.timestamp", block="trig.block_number", log_index="trig.log_index",
)  # fmt: skip

_EXITS = f"""
WITH sells AS (
    SELECT DISTINCT p.id AS position_id, p.token_id, t.id AS sell_id, t.chain_id, t.tx_hash,
           t.log_index, t.block_number
      FROM orderflow_positions p
      JOIN orderflow_signals s ON s.id = p.signal_id
      JOIN orderflow_trades trig ON {SIGNAL_TRIGGER}{TRIGGER_COMPLEMENT}
      JOIN orderflow_trades t ON {LEADER_LEFT}
     WHERE p.strategy = $1 AND p.status = 'OPEN'
       AND s.signal_type = 'FOLLOW_WHALE' AND s.side = 'BUY'
), tries AS (
    SELECT sells.position_id, sells.sell_id, x.id, x.reason,
           GREATEST(x.created_at, x.decided_at, o.updated_at) AS ended_at,
           (x.status = 'PENDING' OR o.status IN ('INTENT', 'OPEN')) AS live
      FROM sells
      JOIN orderflow_signals x ON x.strategy = $1 AND x.signal_type = 'FOLLOW_WHALE'
                              AND x.side = 'SELL' AND x.chain_id = sells.chain_id
                              AND x.tx_hash = sells.tx_hash AND x.log_index = sells.log_index
      LEFT JOIN orderflow_orders o ON o.signal_id = x.id
)
SELECT DISTINCT ON (sells.position_id)
       sells.sell_id,
       (SELECT count(*) FROM tries y
         WHERE y.position_id = sells.position_id AND y.sell_id = sells.sell_id) AS on_sell,
       (SELECT count(*) FROM tries y WHERE y.position_id = sells.position_id) AS tried,
       COALESCE((SELECT bool_or(y.live) FROM tries y
                  WHERE y.position_id = sells.position_id), false) AS live,
       last.reason AS last_reason, clock_timestamp() - last.ended_at AS since_ended,
       ARRAY(SELECT y.reason FROM tries y
              WHERE y.position_id = sells.position_id
                AND (buys.changed_at IS NULL OR y.ended_at > buys.changed_at)
              ORDER BY y.id DESC LIMIT {REFUSED_IN_A_ROW}) AS recent,
       COALESCE(buys.unsettled, false) AS unsettled
  FROM sells
  LEFT JOIN LATERAL (SELECT y.reason, y.ended_at FROM tries y
                      WHERE y.position_id = sells.position_id
                      ORDER BY y.id DESC LIMIT 1) AS last ON true
  LEFT JOIN LATERAL (
      -- not mined yet among the trades still followed (not final: trade_queries.FINAL sets
      -- final_at; not given up past the settlement horizon)
      SELECT bool_or(ft.status <> 'MINED'
                     AND ft.final_at IS NULL AND ft.gave_up_at IS NULL) AS unsettled,
             max(ft.updated_at) AS changed_at
        FROM orderflow_fill_trades ft
        JOIN orderflow_orders bo ON bo.id = ft.order_id
       WHERE bo.strategy = $1 AND bo.mode = 'live' AND bo.token_id = sells.token_id
         AND bo.side = 'BUY') AS buys ON true
 ORDER BY sells.position_id, sells.block_number DESC, sells.log_index DESC
"""


async def exits_tried(conn: asyncpg.Connection, strategy: str) -> list[ExitsTried]:
    """Per open FOLLOW_WHALE position of ``strategy`` whose leader has sold since our entry:
    the leader's latest sell and the exits tried so far."""
    return [
        ExitsTried(
            sell_id=int(r["sell_id"]),
            on_sell=int(r["on_sell"]),
            tried=int(r["tried"]),
            live=bool(r["live"]),
            last_reason=r["last_reason"],
            since_ended=r["since_ended"],
            recent=tuple(r["recent"]),
            unsettled=bool(r["unsettled"]),
        )
        for r in await conn.fetch(_EXITS, strategy)
    ]
