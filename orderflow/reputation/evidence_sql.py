"""Reputation's evidence statements: closing lines, counterparties, the per-wallet evidence sums.

Run after ``rep_positions`` (:data:`orderflow.reputation.queries.POSITIONS`), inside the same
transaction, reading trades only through the as_of gate (:data:`GATED_TRADES`).
"""

from __future__ import annotations

from orderflow.accounting.aggregate import DECISION_STAKE_SQL, DECISION_VALUE_SQL
from orderflow.reputation.gate import GATED_TRADES

# Closing line of every token a decision was taken in: the last trade at or before the token's
# closing time -- ``clv_horizon`` of the way from its first trade to its resolution ($2; the cut-off
# for an unresolved token) -- and the trade before that (used for a wallet that took part in that
# trade itself: its own trade does not make its closing line). Also the last price of every token
# still held in an unresolved market (its mark). $1 = as_of, $2 = clv_horizon.
CLOSES = f"""
CREATE TEMP TABLE rep_close ON COMMIT DROP AS
WITH k AS (
    SELECT token_id, bool_or(resolved) AS resolved,
           min(first_at) + (coalesce(min(resolved_at) FILTER (WHERE resolved), $1::timestamptz)
                            - min(first_at)) * $2::float8 AS closes_at
      FROM rep_positions
     GROUP BY token_id
    HAVING bool_or(tb > 0 OR ts > 0) OR bool_or(NOT resolved AND held > 0)
)
SELECT k.token_id, c1.price::float8 AS close_price, c1.timestamp AS close_at,
       c2.price::float8 AS prev_price, m.price AS mark_price
  FROM k
  LEFT JOIN LATERAL (
       SELECT t.price, t.timestamp FROM ({GATED_TRADES}) t
        WHERE t.token_id = k.token_id AND t.timestamp <= k.closes_at
        ORDER BY t.timestamp DESC, t.log_index DESC
        LIMIT 1) c1 ON k.resolved
  LEFT JOIN LATERAL (
       SELECT t.price FROM ({GATED_TRADES}) t
        WHERE t.token_id = k.token_id AND t.timestamp < c1.timestamp
        ORDER BY t.timestamp DESC, t.log_index DESC
        LIMIT 1) c2 ON k.resolved
  LEFT JOIN LATERAL (
       SELECT t.price FROM ({GATED_TRADES}) t
        WHERE t.token_id = k.token_id
        ORDER BY t.timestamp DESC, t.log_index DESC
        LIMIT 1) m ON NOT k.resolved
"""

# Counterparty concentration (wash trading). Every maker row names its counterparty (the taker
# order's owner) in taker_address; the pair's volume, in shares (a maker buying the complement of
# what the taker buys trades as many shares for a different amount of collateral), counts for
# both wallets against all the shares they traded. Kept: a wallet's
# counterparties that carry at least $2 of its volume (with $2 >= 0.5 at most one per wallet),
# whether the counterparty is as concentrated on it (mutual), and how far their fills were from
# the token's prevailing price (the last trade of the token by anyone else in the $3 seconds
# before the fill; none: unknown). $1 = as_of, $2 = minimum share, $3 = window.
WASH = f"""
CREATE TEMP TABLE rep_wash ON COMMIT DROP AS
WITH pairs AS (
    SELECT least(t.wallet_address, t.taker_address) AS a,
           greatest(t.wallet_address, t.taker_address) AS b,
           sum(t.size) AS vol, count(*) AS n
      FROM ({GATED_TRADES}) t
     WHERE NOT t.is_taker_aggregate AND t.taker_address <> t.exchange
       AND t.taker_address <> t.wallet_address
     GROUP BY 1, 2
), vol AS (
    SELECT wallet_address, sum(shares_u)::numeric / 1000000 AS volume
      FROM rep_positions GROUP BY wallet_address
), dir AS (
    SELECT a AS w, b AS cp, vol, n FROM pairs
    UNION ALL
    SELECT b, a, vol, n FROM pairs
), big AS (
    SELECT d.w, d.cp, d.vol, d.n, (d.vol / v.volume)::float8 AS share
      FROM dir d JOIN vol v ON v.wallet_address = d.w
     WHERE v.volume > 0 AND d.vol >= $2::numeric * v.volume
), top AS (
    SELECT DISTINCT ON (w) w, cp, vol, n, share FROM big ORDER BY w, share DESC, cp
), dev AS (
    SELECT top.w, sum(t.usdc_size * abs(t.price - pv.price)) / nullif(sum(t.usdc_size)
               FILTER (WHERE pv.price IS NOT NULL), 0) AS deviation
      FROM top
      JOIN ({GATED_TRADES}) t
        ON (t.wallet_address = top.w AND t.taker_address = top.cp)
        OR (t.wallet_address = top.cp AND t.taker_address = top.w)
      LEFT JOIN LATERAL (
            SELECT o.price FROM ({GATED_TRADES}) o
             WHERE o.token_id = t.token_id AND o.timestamp <= t.timestamp
               AND o.timestamp >= t.timestamp - make_interval(secs => $3::float8)
               AND o.wallet_address NOT IN (top.w, top.cp)
               AND o.taker_address NOT IN (top.w, top.cp)
             ORDER BY o.timestamp DESC, o.log_index DESC
             LIMIT 1) pv ON TRUE
     WHERE NOT t.is_taker_aggregate
     GROUP BY top.w
)
SELECT top.w AS wallet_address, top.cp AS counterparty, top.share, top.n AS pair_fills,
       coalesce(back.share, 0.0) AS counterparty_share, dev.deviation::float8 AS deviation
  FROM top
  LEFT JOIN big back ON back.w = top.cp AND back.cp = top.w
  LEFT JOIN dev ON dev.w = top.w
"""

_VO = DECISION_VALUE_SQL.format(v="p", y="p.payout_f")
_VC = DECISION_VALUE_SQL.format(v="p", y="coalesce(p.close_y, p.payout_f)")
_STAKE = DECISION_STAKE_SQL.format(v="p")

WALLETS = f"""
CREATE TEMP TABLE rep_wallets ON COMMIT DROP AS
WITH pos AS (
    -- A decision is a taker fill; it is judged when its token's market has resolved.
    SELECT p.*,
           CASE WHEN NOT p.resolved AND p.held > 0 THEN rc.mark_price END AS mark_price,
           -- no closing line for a decision taken after the close (judged by its outcome)
           CASE WHEN rc.close_at IS NULL OR p.taker_first_at > rc.close_at THEN NULL
                WHEN p.last_at >= rc.close_at THEN rc.prev_price
                ELSE rc.close_price END AS close_y,
           p.resolved AND (p.tb > 0 OR p.short > 0) AS judged,
           least(0.99, greatest(0.01, (p.tcb + p.tr) / nullif(p.tb + p.ts, 0))) AS qbar
      FROM rep_positions p
      LEFT JOIN rep_close rc ON rc.token_id = p.token_id
), dec AS (
    SELECT p.*,
           CASE WHEN p.judged THEN {_VO} END AS vo,
           CASE WHEN p.judged THEN {_VC} END AS vc,
           CASE WHEN p.judged THEN {_STAKE} END AS stake,
           CASE WHEN p.judged THEN p.tb + p.short END AS x,
           CASE WHEN p.judged THEN (p.tb * p.tb + p.short * p.short) * p.qbar * (1 - p.qbar)
           END AS nvar,
           CASE WHEN p.judged AND p.close_y IS NULL
                THEN (p.tb * p.tb + p.short * p.short) * p.qbar * (1 - p.qbar) END AS nvar_unclosed
      FROM pos p
), we AS (
    -- one row per (wallet, event): hash aggregation only; event NULL = unknown token.
    -- pnl and cost are micro-USDC here (their ratio is unit-free).
    SELECT p.wallet_address, p.event_id,
           sum(p.fills) AS fills,
           sum(p.volume_u) AS volume_u,
           min(p.first_at) AS first_at,
           max(p.last_at) AS last_at,
           sum(p.fees_u) AS fees_u,
           sum(coalesce(p.pnl_u, p.realized_open_u)) AS realized_u,
           sum(CASE WHEN NOT p.resolved AND p.held > 0
                    THEN (p.held * coalesce(p.mark_price, 0) * 1000000)::int8 - p.basis_open_u
                    ELSE 0 END) AS unrealized_u,
           count(*) FILTER (WHERE NOT p.resolved AND p.held > 0) AS open_positions,
           sum(p.pnl_u) AS pnl,
           sum(p.paid_u) FILTER (WHERE p.resolved) AS cost,
           min(p.first_at) FILTER (WHERE p.resolved) AS resolved_first_at,
           max(p.exited_at) AS exited_at,
           sum(p.vo) AS vo, sum(p.vc) AS vc, sum(p.stake) AS stake, sum(p.x) AS x,
           sum(p.nvar) AS nvar, sum(p.nvar_unclosed) AS nvar_unclosed,
           min(p.taker_first_at) FILTER (WHERE p.judged) AS decided_at,
           sum(p.taker_volume_u) AS taker_volume_u,
           sum(p.penny_u) AS penny_u,
           sum(p.buy_u) AS buy_u
      FROM dec p
     GROUP BY p.wallet_address, p.event_id
), span AS (
    -- the middle of the wallet's span of judged decisions: early and late halves
    SELECT wallet_address,
           min(taker_first_at) + (max(taker_first_at) - min(taker_first_at)) / 2 AS mid
      FROM rep_positions
     WHERE resolved AND (tb > 0 OR short > 0)
     GROUP BY wallet_address
), ev AS (
    SELECT we.*,
           least(0.99, greatest(0.01, we.stake / nullif(we.x, 0))) AS q,
           we.decided_at <= span.mid AS early
      FROM we LEFT JOIN span ON span.wallet_address = we.wallet_address
)
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
       min(w.counterparty) AS wash_counterparty
  FROM ev
  LEFT JOIN rep_wash w ON w.wallet_address = ev.wallet_address
 GROUP BY ev.wallet_address
"""
