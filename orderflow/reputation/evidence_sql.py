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

# Wash trading, both ways the issue defines it, from the maker rows (each match once, naming both
# parties: the maker in wallet_address, the taker order's owner in taker_address), volume in
# shares (a maker buying the complement of what the taker buys trades as many shares):
#
# * concentration on a few counterparties: the share of a wallet's volume against its top $4
#   counterparties (its group), kept when at least $2, with how closed the group is -- the share
#   of those partners' own volume that is against the group (the wallet or one another). A taker
#   against the few makers of a thin market is concentrated, but the makers' volume is not;
# * off-market fills: each fill's price, on the market's outcome-0 scale (1 - price for outcome 1;
#   the token itself when the market is unknown), against the prevailing price set by OTHER
#   wallets -- the volume-weighted mean price of the market's matches in the same $3-second
#   bucket, the one before and the one after, each without the wallet's own matches (bucket sums
#   minus the wallet's sums: set-based, no per-fill look-up). The fill's deviation is the
#   smallest distance to those three prices, so a taker who trades right after a price jump sits
#   on the price that follows and is not off-market; a fill with no other trade around is unknown.
#
# Two passes: the wallets off-market against everyone (pass 1) are left out of the market that
# pass 2 measures everyone against, so a ring's fills at its own price do not make a genuine
# trader at the real price look off-market where the ring dominates the trading.
#
# $1 = as_of, $2 = minimum group share, $3 = bucket seconds, $4 = top-k, $5 = off-market distance,
# $6 = off-market share, $7 = minimum fills.
# The others' prevailing price around each (wallet, market, bucket): the market's sums in the
# bucket before, the same bucket and the one after, less the wallet's own sums ({bk}, {wb}).
_REF = """
    SELECT x.w, x.mk, x.b,
           min((bk.sp - coalesce(y.sp, 0)) / (bk.s - coalesce(y.s, 0)))
               FILTER (WHERE d.d = -1) AS r_before,
           min((bk.sp - coalesce(y.sp, 0)) / (bk.s - coalesce(y.s, 0)))
               FILTER (WHERE d.d = 0) AS r_same,
           min((bk.sp - coalesce(y.sp, 0)) / (bk.s - coalesce(y.s, 0)))
               FILTER (WHERE d.d = 1) AS r_after
      FROM wb x
     CROSS JOIN (VALUES (-1), (0), (1)) d(d)
      JOIN {bk} bk ON bk.mk = x.mk AND bk.b = x.b + d.d
      LEFT JOIN {wb} y ON y.w = x.w AND y.mk = x.mk AND y.b = x.b + d.d
     WHERE bk.n > coalesce(y.n, 0) AND bk.s - coalesce(y.s, 0) >= 0.000001
     GROUP BY x.w, x.mk, x.b"""
_LEAST = "least(abs(i.p0 - r.r_before), abs(i.p0 - r.r_same), abs(i.p0 - r.r_after))"

WASH = f"""
CREATE TEMP TABLE rep_wash ON COMMIT DROP AS
WITH f AS (
    SELECT t.wallet_address AS m, t.taker_address AS k, t.size,
           coalesce(t.market_id::text, t.token_id::text) AS mk,
           (CASE WHEN t.market_id IS NOT NULL AND t.outcome_index = 1 THEN 1 - t.price
                 ELSE t.price END)::float8 AS p0,
           floor(extract(epoch FROM t.timestamp) / $3::float8)::int8 AS b
      FROM ({GATED_TRADES}) t
     WHERE NOT t.is_taker_aggregate AND t.taker_address <> t.exchange
       AND t.taker_address <> t.wallet_address
), inv AS (
    SELECT m AS w, k AS cp, size, mk, p0, b, false AS taker FROM f
    UNION ALL
    SELECT k, m, size, mk, p0, b, true FROM f
), pairs AS (
    SELECT w, cp, sum(size) AS vol, count(*) AS n FROM inv GROUP BY w, cp
), tot AS (
    -- a wallet's whole volume in shares, from its own rows (a counterparty with no rows of its
    -- own has no known volume, so cannot close a group)
    SELECT wallet_address AS w, sum(shares_u)::numeric / 1000000 AS vol
      FROM rep_positions GROUP BY wallet_address
), ranked AS (
    SELECT p.w, p.cp, p.vol, p.n,
           row_number() OVER (PARTITION BY p.w ORDER BY p.vol DESC, p.cp) AS r
      FROM pairs p
), grp AS (
    SELECT r.w, sum(r.vol) AS vol, sum(r.n) AS n,
           (array_agg(r.cp ORDER BY r.r))[1] AS top_cp, count(*) AS k
      FROM ranked r
     WHERE r.r <= $4::int
     GROUP BY r.w
), conc AS (
    SELECT g.w, g.top_cp, g.n, (g.vol / t.vol)::float8 AS share
      FROM grp g JOIN tot t ON t.w = g.w
     WHERE t.vol > 0 AND g.vol >= $2::numeric * t.vol
), members AS (
    -- the group: the wallet and its top-k partners (with their volume against it)
    SELECT c.w, r.cp AS member, r.vol FROM conc c JOIN ranked r ON r.w = c.w AND r.r <= $4::int
    UNION ALL
    SELECT c.w, c.w, NULL FROM conc c
), inside AS (
    -- each partner's volume against the rest of the group (the wallet or another partner)
    SELECT g.w, g.member AS partner, sum(pp.vol) AS vol
      FROM members g
      JOIN members h ON h.w = g.w AND h.member <> g.member
      JOIN pairs pp ON pp.w = g.member AND pp.cp = h.member
     WHERE g.member <> g.w
     GROUP BY g.w, g.member
), closed AS (
    -- each partner's volume against the group / its whole volume, averaged with weights the
    -- partner's volume against the wallet (a large outsider that fills the k-th place of a
    -- smaller ring must not open it: weighting by its own volume would let it dominate)
    SELECT g.w, (sum(g.vol * coalesce(i.vol, 0) / pt.vol) / nullif(sum(g.vol), 0))::float8 AS back
      FROM members g
      JOIN tot pt ON pt.w = g.member AND pt.vol > 0
      LEFT JOIN inside i ON i.w = g.w AND i.partner = g.member
     WHERE g.member <> g.w
     GROUP BY g.w
), bk AS (
    SELECT mk, b, sum(size::float8) AS s, sum(size::float8 * p0) AS sp, count(*) AS n
      FROM f GROUP BY mk, b
), wb AS (
    SELECT w, mk, b, sum(size::float8) AS s, sum(size::float8 * p0) AS sp, count(*) AS n
      FROM inv GROUP BY w, mk, b
), ref AS ({_REF.format(bk="bk", wb="wb")}
), dev AS (
    SELECT i.w, i.size, {_LEAST} AS d
      FROM inv i JOIN ref r ON r.w = i.w AND r.mk = i.mk AND r.b = i.b
), off1 AS (
    -- pass 1: off-market by its figures against everyone else
    SELECT d.w
      FROM dev d JOIN tot t ON t.w = d.w
     GROUP BY d.w, t.vol
    HAVING count(*) FILTER (WHERE d.d >= $5::float8) >= $7::int
       AND coalesce(sum(d.size) FILTER (WHERE d.d >= $5::float8), 0) >= $6::float8 * t.vol::float8
), clean AS (
    -- pass 2's market: the matches of two wallets neither of which pass 1 found off-market (a
    -- ring's own fills at its price must not make the prevailing price a genuine trader is
    -- measured against)
    SELECT f.* FROM f
     WHERE NOT EXISTS (SELECT 1 FROM off1 o WHERE o.w = f.m)
       AND NOT EXISTS (SELECT 1 FROM off1 o WHERE o.w = f.k)
), bk2 AS (
    SELECT mk, b, sum(size::float8) AS s, sum(size::float8 * p0) AS sp, count(*) AS n
      FROM clean GROUP BY mk, b
), wb2 AS (
    SELECT w, mk, b, sum(size::float8) AS s, sum(size::float8 * p0) AS sp, count(*) AS n
      FROM (SELECT m AS w, mk, b, size, p0 FROM clean
            UNION ALL
            SELECT k, mk, b, size, p0 FROM clean) c
     GROUP BY w, mk, b
), ref2 AS ({_REF.format(bk="bk2", wb="wb2")}
), dev2 AS (
    SELECT i.w, i.cp, i.size, i.mk, i.b, i.taker, {_LEAST} AS d
      FROM inv i JOIN ref2 r ON r.w = i.w AND r.mk = i.mk AND r.b = i.b
), taker_off AS (
    -- the off-market share of each wallet's matches as the taker, per (market, bucket)
    SELECT d.w, d.mk, d.b,
           (sum(d.size) FILTER (WHERE d.d >= $5::float8))::float8
               / nullif(sum(d.size)::float8, 0) AS frac
      FROM dev2 d
     WHERE d.taker
     GROUP BY d.w, d.mk, d.b
    HAVING count(*) FILTER (WHERE d.d >= $5::float8) > 0
), offtok AS (
    -- ... carried to the wallet's own taker rows there: the decisions the edge must not count
    -- (orderflow.reputation.evidence_sql.WALLETS subtracts them), in the units of rep_positions
    SELECT t.wallet_address AS w, t.token_id,
           coalesce(sum(t.size::float8 * x.frac) FILTER (WHERE t.side = 'BUY'), 0) AS tb,
           coalesce(sum(t.usdc_size::float8 * x.frac) FILTER (WHERE t.side = 'BUY'), 0) AS tcb,
           coalesce(sum(t.size::float8 * x.frac) FILTER (WHERE t.side <> 'BUY'), 0) AS ts,
           coalesce(sum(t.usdc_size::float8 * x.frac) FILTER (WHERE t.side <> 'BUY'), 0) AS tr,
           coalesce(sum(x.frac * (CASE WHEN t.fee_asset = 'SHARES' THEN t.fee * t.price
                                       ELSE t.fee END)::float8) FILTER (WHERE t.fee > 0), 0)
               AS tfee
      FROM ({GATED_TRADES}) t
      JOIN taker_off x
        ON x.w = t.wallet_address AND x.mk = coalesce(t.market_id::text, t.token_id::text)
       AND x.b = floor(extract(epoch FROM t.timestamp) / $3::float8)::int8
     WHERE t.is_taker_aggregate
     GROUP BY t.wallet_address, t.token_id
), off AS (
    SELECT d.w, sum(d.size::float8 * d.d) / nullif(sum(d.size::float8), 0) AS deviation,
           sum(d.size) FILTER (WHERE d.d >= $5::float8) AS off_vol,
           count(*) FILTER (WHERE d.d >= $5::float8) AS off_n
      FROM dev2 d GROUP BY d.w
), hosts AS (
    -- wallets that meet WASH's figures (orderflow.reputation.flags; only its minimum USDC
    -- volume is checked later, in numpy): a closed group, or enough off-market volume
    SELECT c.w, 'ring' AS how FROM conc c JOIN closed cl ON cl.w = c.w
     WHERE c.n >= $7::int AND cl.back >= $2::float8
    UNION ALL
    SELECT o.w, 'off' FROM off o JOIN tot t ON t.w = o.w
     WHERE o.off_n >= $7::int AND o.off_vol::float8 >= $6::float8 * t.vol::float8
), offpair AS (
    SELECT d.w, d.cp, sum(d.size) AS vol, count(*) AS n
      FROM dev2 d WHERE d.d >= $5::float8 GROUP BY d.w, d.cp
), hosted AS (
    -- the wash counterparties of each such host, with their share of the host's volume: its
    -- top-k group members (a ring), the other side of its off-market fills (off-market)
    SELECT r.cp AS member, r.w AS host, r.vol, r.vol / nullif(t.vol, 0) AS share
      FROM hosts h JOIN ranked r ON r.w = h.w AND r.r <= $4::int JOIN tot t ON t.w = h.w
     WHERE h.how = 'ring' AND r.n >= $7::int
    UNION ALL
    SELECT p.cp, p.w, p.vol, p.vol / nullif(t.vol, 0)
      FROM hosts h JOIN offpair p ON p.w = h.w JOIN tot t ON t.w = h.w
     WHERE h.how = 'off' AND p.n >= $7::int
), host AS (
    -- each member's largest host (most volume with it), with that volume's share of the
    -- member's own volume too (a market maker trades a little with everyone)
    SELECT DISTINCT ON (x.member) x.member, x.host, x.share::float8 AS share,
           (x.vol / t.vol)::float8 AS own_share
      FROM hosted x JOIN tot t ON t.w = x.member AND t.vol > 0
     ORDER BY x.member, x.vol DESC, x.host
)
SELECT t.w AS wallet_address, NULL::numeric AS token_id,
       c.top_cp AS counterparty, coalesce(c.share, 0.0) AS share,
       coalesce(c.n, 0) AS pair_fills, coalesce(cl.back, 0.0)::float8 AS counterparty_share,
       o.deviation::float8 AS deviation,
       coalesce(o.off_vol::float8 / t.vol::float8, 0.0) AS off_share,
       coalesce(o.off_n, 0) AS off_fills,
       h.host, coalesce(h.share, 0.0) AS host_share, coalesce(h.own_share, 0.0) AS host_own_share,
       NULL::float8 AS off_tb, NULL::float8 AS off_tcb, NULL::float8 AS off_ts,
       NULL::float8 AS off_tr, NULL::float8 AS off_tfee
  FROM tot t
  LEFT JOIN conc c ON c.w = t.w
  LEFT JOIN closed cl ON cl.w = t.w
  LEFT JOIN off o ON o.w = t.w
  LEFT JOIN host h ON h.member = t.w
 WHERE c.w IS NOT NULL OR o.off_n > 0 OR h.member IS NOT NULL
UNION ALL
SELECT w, token_id, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, tb, tcb, ts, tr,
       tfee
  FROM offtok
"""

# A decision amount of rep_positions less its off-market part (adj in WALLETS).
_LESS = (
    "CASE WHEN o.token_id IS NULL THEN p.{c}"
    " WHEN p.{c} - o.off_{c} > 0.0000005 THEN p.{c} - o.off_{c} ELSE 0.0 END"
)
_VO = DECISION_VALUE_SQL.format(v="p", y="p.payout_f")
_VC = DECISION_VALUE_SQL.format(v="p", y="coalesce(p.close_y, p.payout_f)")
_STAKE = DECISION_STAKE_SQL.format(v="p")

WALLETS = f"""
CREATE TEMP TABLE rep_wallets ON COMMIT DROP AS
WITH adj AS (
    -- rep_positions with its taker fills that were off-market (rep_wash's per-token rows: a
    -- price nobody else paid around them is no evidence of skill) taken out of the decisions;
    -- a remainder below a micro-unit is none
    SELECT p.wallet_address, p.token_id, p.event_id, p.fills, p.volume_u, p.first_at, p.last_at,
           p.fees_u, p.pnl_u, p.realized_open_u, p.resolved, p.held, p.basis_open_u, p.paid_u,
           p.exited_at, p.taker_first_at, p.taker_volume_u, p.penny_u, p.buy_u, p.payout_f,
           p.exited, p.exit_price,
           {_LESS.format(c="tb")} AS tb, {_LESS.format(c="tcb")} AS tcb,
           {_LESS.format(c="ts")} AS ts, {_LESS.format(c="tr")} AS tr,
           {_LESS.format(c="tfee")} AS tfee,
           CASE WHEN o.token_id IS NULL THEN p.short
                WHEN p.ts > 0 THEN p.short * {_LESS.format(c="ts")} / p.ts ELSE 0.0 END AS short,
           CASE WHEN o.token_id IS NULL THEN p.short_price
                WHEN {_LESS.format(c="ts")} > 0 THEN {_LESS.format(c="tr")} / {_LESS.format(c="ts")}
                ELSE 0.0 END AS short_price
      FROM rep_positions p
      LEFT JOIN rep_wash o ON o.wallet_address = p.wallet_address AND o.token_id = p.token_id
), pos AS (
    -- A decision is a taker fill; it is judged when its token's market has resolved.
    SELECT p.*,
           CASE WHEN NOT p.resolved AND p.held > 0 THEN rc.mark_price END AS mark_price,
           -- no closing line for a decision taken after the close (judged by its outcome)
           CASE WHEN rc.close_at IS NULL OR p.taker_first_at > rc.close_at THEN NULL
                WHEN p.last_at >= rc.close_at THEN rc.prev_price
                ELSE rc.close_price END AS close_y,
           p.resolved AND (p.tb > 0 OR p.short > 0) AS judged,
           least(0.99, greatest(0.01, (p.tcb + p.tr) / nullif(p.tb + p.ts, 0))) AS qbar
      FROM adj p
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
-- a wash counterparty's host as an index into the same arrays (numpy reads the host's flags)
SELECT n.*, h.idx::float8 AS wash_host
  FROM numbered n
  LEFT JOIN numbered h ON h.wallet_address = n.wash_host_address
"""
