CREATE TEMP TABLE rep_wallets ON COMMIT DROP AS
WITH adj AS (
    -- rep_positions with its taker fills that were off-market (rep_wash's per-token rows: a
    -- price nobody else paid around them is no evidence of skill) taken out of the decisions;
    -- a remainder below a micro-unit is none
    SELECT p.wallet_address, p.token_id, p.event_id, p.fills, p.volume_u, p.first_at, p.last_at,
           p.fees_u, p.pnl_u, p.realized_open_u, p.resolved, p.held_u, p.basis_open_u, p.paid_u,
           p.exited_at, p.taker_first_at, p.taker_volume_u, p.penny_u, p.buy_u, p.payout_f,
           p.exited, p.exit_price,
           CASE WHEN o.token_id IS NULL THEN p.tb WHEN p.tb - o.off_tb > 0.0000005 THEN p.tb - o.off_tb ELSE 0.0 END AS tb, CASE WHEN o.token_id IS NULL THEN p.tcb WHEN p.tcb - o.off_tcb > 0.0000005 THEN p.tcb - o.off_tcb ELSE 0.0 END AS tcb,
           CASE WHEN o.token_id IS NULL THEN p.ts WHEN p.ts - o.off_ts > 0.0000005 THEN p.ts - o.off_ts ELSE 0.0 END AS ts, CASE WHEN o.token_id IS NULL THEN p.tr WHEN p.tr - o.off_tr > 0.0000005 THEN p.tr - o.off_tr ELSE 0.0 END AS tr,
           CASE WHEN o.token_id IS NULL THEN p.tfee WHEN p.tfee - o.off_tfee > 0.0000005 THEN p.tfee - o.off_tfee ELSE 0.0 END AS tfee,
           CASE WHEN o.token_id IS NULL THEN p.short
                WHEN p.ts > 0 THEN p.short * CASE WHEN o.token_id IS NULL THEN p.ts WHEN p.ts - o.off_ts > 0.0000005 THEN p.ts - o.off_ts ELSE 0.0 END / p.ts ELSE 0.0 END AS short,
           CASE WHEN o.token_id IS NULL THEN p.short_price
                WHEN CASE WHEN o.token_id IS NULL THEN p.ts WHEN p.ts - o.off_ts > 0.0000005 THEN p.ts - o.off_ts ELSE 0.0 END > 0 THEN CASE WHEN o.token_id IS NULL THEN p.tr WHEN p.tr - o.off_tr > 0.0000005 THEN p.tr - o.off_tr ELSE 0.0 END / CASE WHEN o.token_id IS NULL THEN p.ts WHEN p.ts - o.off_ts > 0.0000005 THEN p.ts - o.off_ts ELSE 0.0 END
                ELSE 0.0 END AS short_price
      FROM rep_positions p
      LEFT JOIN rep_wash o ON o.wallet_address = p.wallet_address AND o.token_id = p.token_id
), pos AS (
    -- A decision is a taker fill; it is judged when its token's market has resolved.
    SELECT p.*,
           CASE WHEN NOT p.resolved AND p.held_u > 0 THEN rc.mark_price END AS mark_price,
           -- no closing line for a decision taken after the close (judged by its outcome)
           CASE WHEN rc.close_at IS NULL OR p.taker_first_at > rc.close_at THEN NULL
                WHEN p.last_at >= rc.close_at THEN rc.prev_price
                ELSE rc.close_price END AS close_y,
           p.resolved AND (p.tb > 0 OR p.short > 0) AS judged,
           least(0.99, greatest(0.01, (p.tcb + p.tr) / nullif(p.tb + p.ts, 0))) AS qbar
      FROM adj p
      LEFT JOIN rep_close rc ON rc.token_id = p.token_id
    OFFSET 0  -- close_y and qbar computed once per row, not at each reference below
), dec AS (
    SELECT p.*,
           CASE WHEN p.judged THEN (p.tb * (p.exited * p.exit_price + (1.0 - p.exited) * (p.payout_f)) - p.tcb - p.tfee + p.short * (p.short_price - (p.payout_f))) END AS vo,
           CASE WHEN p.judged THEN (p.tb * (p.exited * p.exit_price + (1.0 - p.exited) * (coalesce(p.close_y, p.payout_f))) - p.tcb - p.tfee + p.short * (p.short_price - (coalesce(p.close_y, p.payout_f)))) END AS vc,
           CASE WHEN p.judged THEN (p.tcb + p.short * (1.0 - p.short_price)) END AS stake,
           CASE WHEN p.judged THEN p.tb + p.short END AS x,
           CASE WHEN p.judged THEN (p.tb * p.tb + p.short * p.short) * p.qbar * (1 - p.qbar)
           END AS nvar,
           CASE WHEN p.judged AND p.close_y IS NULL
                THEN (p.tb * p.tb + p.short * p.short) * p.qbar * (1 - p.qbar) END AS nvar_unclosed
      FROM pos p
    OFFSET 0
), we AS (
    -- one row per (wallet, event): hash aggregation only; event NULL = unknown token.
    -- pnl and cost are micro-USDC here (their ratio is unit-free). Integer sums leave as int8:
    -- the wallet-level sums below then add in 128-bit integers, not NUMERICs.
    SELECT p.wallet_address, p.event_id,
           sum(p.fills)::int8 AS fills,
           sum(p.volume_u)::int8 AS volume_u,
           min(p.first_at) AS first_at,
           max(p.last_at) AS last_at,
           sum(p.fees_u)::int8 AS fees_u,
           sum(coalesce(p.pnl_u, p.realized_open_u))::int8 AS realized_u,
           sum(CASE WHEN NOT p.resolved AND p.held_u > 0
                    THEN (p.held_u * coalesce(p.mark_price, 0))::int8 - p.basis_open_u
                    ELSE 0 END)::int8 AS unrealized_u,
           count(*) FILTER (WHERE NOT p.resolved AND p.held_u > 0) AS open_positions,
           sum(p.pnl_u)::int8 AS pnl,
           (sum(p.paid_u) FILTER (WHERE p.resolved))::int8 AS cost,
           min(p.first_at) FILTER (WHERE p.resolved) AS resolved_first_at,
           max(p.exited_at) AS exited_at,
           sum(p.vo) AS vo, sum(p.vc) AS vc, sum(p.stake) AS stake, sum(p.x) AS x,
           sum(p.nvar) AS nvar, sum(p.nvar_unclosed) AS nvar_unclosed,
           min(p.taker_first_at) FILTER (WHERE p.judged) AS decided_at,
           sum(p.taker_volume_u)::int8 AS taker_volume_u,
           sum(p.penny_u)::int8 AS penny_u,
           sum(p.buy_u)::int8 AS buy_u
      FROM dec p
     GROUP BY p.wallet_address, p.event_id
), span AS (
    -- the middle of the wallet's span of judged decisions: early and late halves
    SELECT wallet_address,
           min(taker_first_at) + (max(taker_first_at) - min(taker_first_at)) / 2 AS mid
      FROM adj
     WHERE resolved AND (tb > 0 OR short > 0)
     GROUP BY wallet_address
), ev AS (
    SELECT we.*,
           least(0.99, greatest(0.01, we.stake / nullif(we.x, 0))) AS q,
           we.decided_at <= span.mid AS early
      FROM we LEFT JOIN span ON span.wallet_address = we.wallet_address
), numbered AS (
SELECT (row_number() OVER () - 1)::int AS idx,
       ev.wallet_address,
       sum(fills) AS total_trades,
       sum(volume_u) / 1000000 AS volume_usdc,
       count(event_id) AS markets_traded,
       min(first_at) AS first_at,
       max(last_at) AS last_at,
       sum(fees_u) / 1000000 AS fees,
       sum(realized_u) / 1000000 AS realized_pnl,
       sum(unrealized_u) / 1000000 AS unrealized_pnl,
       sum(unrealized_u) AS unrealized_u,  -- kept: the incremental run moves it by a mark delta
       sum(open_positions) AS open_positions,
       count(pnl) AS resolved,
       count(*) FILTER (WHERE pnl > 0) AS pnl_wins,
       count(*) FILTER (WHERE pnl < 0) AS pnl_losses,
       coalesce(sum(pnl) FILTER (WHERE pnl > 0), 0) / 1000000 AS pnl_gross_profit,
       coalesce(-sum(pnl) FILTER (WHERE pnl < 0), 0) / 1000000 AS pnl_gross_loss,
       sum(pnl) / 1000000 AS resolved_pnl,
       sum(cost) / 1000000 AS resolved_cost,
       avg(extract(epoch FROM exited_at - resolved_first_at)::float8) FILTER (WHERE pnl IS NOT NULL)
           AS holding_secs,
       count(*) FILTER (WHERE stake > 0)::float8 AS events,
       coalesce(sum(vo) FILTER (WHERE stake > 0), 0) AS value,
       coalesce(sum(stake) FILTER (WHERE stake > 0), 0) AS stake,
       coalesce(sum(nvar) FILTER (WHERE stake > 0), 0) AS null_var,
       coalesce(sum(vc) FILTER (WHERE stake > 0), 0) AS clv_value,
       coalesce(sum(vc * vc) FILTER (WHERE stake > 0), 0) AS clv_sq,
       coalesce(sum(vc * stake) FILTER (WHERE stake > 0), 0) AS clv_stake,
       coalesce(sum(stake * stake) FILTER (WHERE stake > 0), 0) AS stake_sq,
       coalesce(sum(nvar_unclosed) FILTER (WHERE stake > 0), 0) AS clv_null_var,
       count(*) FILTER (WHERE stake > 0 AND vo > 0)::float8 AS wins,
       coalesce(sum(q) FILTER (WHERE stake > 0), 0) AS expected_wins,
       coalesce(sum(q * (1 - q)) FILTER (WHERE stake > 0), 0) AS wins_var,
       coalesce(sum(vo) FILTER (WHERE stake > 0 AND vo > 0), 0) AS gross_profit,
       coalesce(-sum(vo) FILTER (WHERE stake > 0 AND vo < 0), 0) AS gross_loss,
       coalesce(sum(x * q * (1 - q)) FILTER (WHERE stake > 0), 0) AS null_loss,
       coalesce(sum(vo) FILTER (WHERE stake > 0 AND early), 0) AS value_early,
       coalesce(sum(nvar) FILTER (WHERE stake > 0 AND early), 0) AS var_early,
       coalesce(sum(vo) FILTER (WHERE stake > 0 AND NOT early), 0) AS value_late,
       coalesce(sum(nvar) FILTER (WHERE stake > 0 AND NOT early), 0) AS var_late,
       sum(volume_u)::float8 / 1000000 AS volume,
       sum(taker_volume_u)::float8 / 1000000 AS taker_volume,
       sum(buy_u)::float8 / 1000000 AS buy_volume,
       sum(penny_u)::float8 / 1000000 AS penny_volume,
       coalesce(min(w.share), 0.0) AS wash_share,
       coalesce(min(w.counterparty_share), 0.0) AS wash_counterparty_share,
       coalesce(min(w.deviation), 'NaN') AS wash_deviation,
       coalesce(min(w.pair_fills), 0)::float8 AS wash_fills,
       coalesce(min(w.off_share), 0.0) AS wash_off_share,
       coalesce(min(w.off_fills), 0)::float8 AS wash_off_fills,
       min(w.counterparty) AS wash_counterparty,
       min(w.host) AS wash_host_address,
       coalesce(min(w.host_share), 0.0) AS wash_host_share,
       coalesce(min(w.host_own_share), 0.0) AS wash_host_own_share
  FROM ev
  LEFT JOIN rep_wash w ON w.wallet_address = ev.wallet_address AND w.token_id IS NULL
 GROUP BY ev.wallet_address
)
SELECT * FROM numbered

