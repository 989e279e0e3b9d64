"""The per-(wallet, token) sums of the positions pass, from the trades or from the stored sums.

:data:`SUMS_SCAN` aggregates the trades gated at ``$1`` (any as_of); :data:`SUMS_STORED` reads
``orderflow_position_sums`` (migration 011), whose triggers apply the same aggregation,
``orderflow_position_sums_sql``, to each batch. :func:`orderflow.reputation.positions_sql.positions`
puts either into ``rep_positions``.
"""

from __future__ import annotations

from orderflow.reputation.flags import penny_sql
from orderflow.reputation.gate import GATED_TRADES

# The per-(wallet, token) sums, aggregated from the gated trades (any as_of). Migration 011's
# orderflow_position_sums_sql is the same aggregation over a batch of rows (the stored sums).
SUMS_SCAN = f"""
        SELECT t.wallet_address, t.token_id,
               min(t.market_id COLLATE "C") AS trade_market_id,
               min(t.outcome_index) AS trade_outcome_index,
               count(*) AS fills,
               coalesce(sum(t.s) FILTER (WHERE t.buy), 0)::int8 AS bought_gross_u,
               coalesce(sum(t.c) FILTER (WHERE t.buy), 0)::int8 AS paid_gross_u,
               coalesce(sum(t.s) FILTER (WHERE NOT t.buy), 0)::int8 AS sold_gross_u,
               coalesce(sum(t.c) FILTER (WHERE NOT t.buy), 0)::int8 AS received_gross_u,
               coalesce(sum(t.fee) FILTER (WHERE t.fee > 0 AND t.buy
                                           AND t.fee_asset = 'SHARES'), 0) AS fee_buy_shares,
               coalesce(sum(t.fee) FILTER (WHERE t.fee > 0 AND t.buy
                                           AND t.fee_asset = 'COLLATERAL'), 0) AS fee_buy_usdc,
               coalesce(sum(t.fee) FILTER (WHERE t.fee > 0 AND NOT t.buy
                                           AND t.fee_asset = 'SHARES'), 0) AS fee_sell_shares,
               coalesce(sum(t.fee) FILTER (WHERE t.fee > 0 AND NOT t.buy
                                           AND t.fee_asset = 'COLLATERAL'), 0) AS fee_sell_usdc,
               coalesce(sum(t.fee * t.price) FILTER (WHERE t.fee > 0 AND t.fee_asset = 'SHARES'),
                        0) AS fee_share_value,
               coalesce(sum(t.s) FILTER (WHERE t.taker AND t.buy), 0)::int8 AS tb_u,
               coalesce(sum(t.c) FILTER (WHERE t.taker AND t.buy), 0)::int8 AS tcb_u,
               coalesce(sum(t.s) FILTER (WHERE t.taker AND NOT t.buy), 0)::int8 AS ts_u,
               coalesce(sum(t.c) FILTER (WHERE t.taker AND NOT t.buy), 0)::int8 AS tr_u,
               coalesce(sum(CASE WHEN t.fee_asset = 'SHARES' THEN t.fee * t.price ELSE t.fee END)
                        FILTER (WHERE t.taker AND t.fee > 0), 0) AS taker_fee,
               coalesce(sum(t.c) FILTER (WHERE t.buy AND {penny_sql("t.price")}), 0)::int8
                   AS penny_u,
               min(t.timestamp) FILTER (WHERE t.taker) AS taker_first_at,
               min(t.timestamp) AS first_at,
               max(t.timestamp) AS last_at
          FROM (
            -- each amount cast to micro-units once per row (OFFSET 0 keeps the planner from
            -- folding the casts back into every aggregate that reads them)
            SELECT g.wallet_address, g.token_id, g.market_id, g.outcome_index, g.timestamp,
                   g.price, g.fee, g.fee_asset, g.is_taker_aggregate AS taker,
                   g.side = 'BUY' AS buy,
                   (g.size * 1000000)::int8 AS s, (g.usdc_size * 1000000)::int8 AS c
              FROM ({GATED_TRADES}) g
            OFFSET 0
          ) AS t
         GROUP BY t.wallet_address, t.token_id
"""

# The same sums read from orderflow_position_sums (migration 011), for a run at the present: the
# micro-unit sums leave as int8, as the scan's (an amount too large for it stops the run),
# and a NUMERIC fee sum brought back to zero by a
# deletion as the literal 0 the scan's coalesce gives (same value and display scale).
SUMS_STORED = """
        SELECT a.wallet_address, a.token_id, a.trade_market_id, a.trade_outcome_index, a.fills,
               a.bought_gross_u::int8 AS bought_gross_u,
               a.paid_gross_u::int8 AS paid_gross_u,
               a.sold_gross_u::int8 AS sold_gross_u,
               a.received_gross_u::int8 AS received_gross_u,
               CASE WHEN a.fee_buy_shares = 0 THEN 0 ELSE a.fee_buy_shares END AS fee_buy_shares,
               CASE WHEN a.fee_buy_usdc = 0 THEN 0 ELSE a.fee_buy_usdc END AS fee_buy_usdc,
               CASE WHEN a.fee_sell_shares = 0 THEN 0 ELSE a.fee_sell_shares END AS fee_sell_shares,
               CASE WHEN a.fee_sell_usdc = 0 THEN 0 ELSE a.fee_sell_usdc END AS fee_sell_usdc,
               CASE WHEN a.fee_share_value = 0 THEN 0 ELSE a.fee_share_value END
                   AS fee_share_value,
               a.tb_u::int8 AS tb_u, a.tcb_u::int8 AS tcb_u,
               a.ts_u::int8 AS ts_u,
               a.tr_u::int8 AS tr_u,
               CASE WHEN a.taker_fee = 0 THEN 0 ELSE a.taker_fee END AS taker_fee,
               a.penny_u::int8 AS penny_u, a.taker_first_at, a.first_at, a.last_at
          FROM orderflow_position_sums a
         WHERE a.fills > 0 @ONLY@
"""

# The log of changed keys (migration 030): every statement that changes a key's sums appends
# (wallet_address, token_id), a key perhaps more than once; a run takes the rows with
# ``DELETE ... RETURNING``. Append-only for writers, so neither side ever waits for the other.
CHANGES = "orderflow_position_sums_changes"

# Every logged change taken (the log's rows deleted, the keys among them left without fills
# dropped; migration 053): a live full run before it reads.
TAKE_CHANGES = "SELECT orderflow_position_sums_changes_take()"

# The keys of the fills stamped after $1, a live run's cut-off, logged again once the run has
# taken the changes (:func:`orderflow.reputation.changes.keep_later`): a fill stored after the
# run's check below (a block mined after the run began, or stamped ahead of the database clock,
# stored while it runs) is in the sums the run reads but out of every gated statement (closing
# lines, marks, voided fills); its key, taken, would otherwise never be looked at again. By the
# time index (no row, the usual case: one probe per partition).
KEEP_LATER = """
INSERT INTO orderflow_position_sums_changes (wallet_address, token_id)
SELECT DISTINCT wallet_address, token_id FROM orderflow_trades WHERE timestamp > $1::timestamptz
"""

# Any fill stamped after $1 (the sums cannot be cut at a time)? Index-only on the time index.
# Whether the sums may miss fills: one stamped after the cut-off, or rows of a bulk import whose
# sums are still pending (an import killed before its fold, or one running now; migration 014).
SUMS_MAY_MISS_FILLS = """
SELECT EXISTS (SELECT 1 FROM orderflow_trades WHERE timestamp > $1::timestamptz)
    OR EXISTS (SELECT 1 FROM orderflow_position_sums_pending)
"""
