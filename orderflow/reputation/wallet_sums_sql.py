"""The wallets statement's per-event and per-wallet sums
(:data:`orderflow.reputation.evidence_sql.WALLETS` puts these common table expressions after
:mod:`orderflow.reputation.decisions_sql`'s, whose ``dec`` rows they add up, and ends with
:data:`ROW`):

* :data:`WE` (``we``) -- one row per (wallet, event): the event's positions summed in their fixed
  order, its null variance widened for a neg-risk event's legs, its complete sets;
* :data:`EV` (``ev``) -- ``we`` with each event's entry-implied chance, its half of the wallet's
  span and the sums of its UTC day of resolution (windows, no re-sort);
* :data:`SUMS` (``wallets``) -- one row per wallet: the statistics and evidence sums;
* :data:`RT` (``rt``) -- the round trips of the positions the sorted pass does not net (neg-risk
  legs, tokens of no known market);
* :data:`ROW` -- the statement's select: the wallet's row of ``rep_wallets``, with its
  counterparty figures (``rep_wash``), complete sets (``hedged``) and round trips.

Each CTE fragment is the text between ``name AS (`` and the ``)`` that closes it.
"""

from __future__ import annotations

__all__ = ["EV", "ROW", "RT", "SUMS", "WE"]

# an event's entry-implied chance of winning (its stake over its shares, clipped)
_Q = "least(0.99, greatest(0.01, we.stake / nullif(we.x, 0)))"

# dec summed per (wallet, event).
WE = """
    -- one row per (wallet, event); event NULL = unknown token. pnl and cost are micro-USDC here
    -- (their ratio is unit-free). Integer sums leave as int8: the wallet-level sums below then
    -- add in 128-bit integers, not NUMERICs.
    SELECT p.w, p.e,
           sum(p.fills)::int8 AS fills,
           sum(p.volume_u)::int8 AS volume_u,
           min(p.first_at) AS first_at,
           max(p.last_at) AS last_at,
           sum(p.fees_u)::int8 AS fees_u,
           sum(p.realized_u)::int8 AS realized_u,
           count(*) FILTER (WHERE p.open) AS open_positions,
           sum(p.pnl_u)::int8 AS pnl,
           sum(p.cost_u)::int8 AS cost,
           max(p.exited_at) - min(p.resolved_first_at) AS held_for,
           sum(p.vo) AS vo, sum(p.vc) AS vc, sum(p.stake) AS stake, sum(p.x) AS x,
           -- the positions' null variance, and where it widens it the covariance of a neg-risk
           -- event's legs under no edge: exactly one leg wins, so two legs' payouts covary by
           -- -a_i a_j, which the independent positions' sum misses: sum a^2 - (sum a)^2 (YES on
           -- a candidate and NO on its rivals pay together: one bet on several legs). Each
           -- position counts as a leg of its own: a YES and a NO of one leg are counted as
           -- rivals', which only widens it further (their own complete set is HEDGED's)
           sum(p.nvar) + coalesce(greatest(0.0, sum(p.leg_a * p.leg_a)
                                                - sum(p.leg_a) * sum(p.leg_a)), 0.0) AS nvar,
           sum(p.nvar_unclosed) AS nvar_unclosed,
           sum(p.nvar_close) AS nvar_close,
           min(p.decided_at) AS decided_at,
           max(p.decided_at) AS decided_last,
           max(p.judged_at) AS judged_at,  -- when the event's last judged leg resolved
           sum(p.taker_volume_u)::int8 AS taker_volume_u,
           sum(p.penny_u)::int8 AS penny_u,
           sum(p.buy_u)::int8 AS buy_u,
           sum(p.shares_u) AS shares_u,
           abs(sum(p.snet)) AS exposed,  -- a standard market's net exposure (NULL: none)
           -- the fewer of a standard market's YES and NO (0 unless both are held and were
           -- first bought within $1 seconds of each other), at most what its buys paid; 0 for a
           -- neg-risk event (HEDGED_CTES)
           CASE WHEN max(p.kt) - min(p.kt) <= make_interval(secs => $1::int)
                THEN least(sum(p.kb), coalesce(sum(p.k0), 0), coalesce(sum(p.k1), 0))
                ELSE 0 END::int8 AS set_u
      FROM dec p
     GROUP BY p.w, p.e"""

# we with the windows over the wallet's span and its days of resolution.
EV = f"""
    -- the middle of the wallet's span of judged decisions (a window over the wallet's events):
    -- early and late halves; the first of the wallet's judged events to resolve on each UTC day
    -- (a window over its days: no DISTINCT in the sums below, which would have them sorted by
    -- day and added in another order), with the day's sums of the events' values against the
    -- outcome, of their excess over the closing line and of their wins less the entry-implied
    -- wins (the same window, its events added in event order: the outcome's variance clustered
    -- by day, docs/reputation.md "The edge and its posterior"); in (wallet, event) order for
    -- the wallet's sums
    SELECT we.*,
           {_Q} AS q,
           we.decided_at <= min(we.decided_at) OVER s
                            + (max(we.decided_last) OVER s - min(we.decided_at) OVER s) / 2
               AS early,
           row_number() OVER d = 1 AS first_of_day,
           sum(we.vo) OVER d AS day_vo,
           sum(we.vo - we.vc) OVER d AS day_resid,
           sum((we.vo > 0)::int::float8 - {_Q}) OVER d AS day_win
      FROM we
    WINDOW s AS (PARTITION BY we.w),
           d AS (PARTITION BY we.w,
                              CASE WHEN we.stake > 0
                                   THEN floor(extract(epoch FROM we.judged_at) / 86400) END
                 ORDER BY we.e ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING)
     ORDER BY we.w, we.e"""

# ev summed per wallet.
SUMS = """
SELECT w,
       sum(fills) AS total_trades,
       sum(volume_u) / 1000000 AS volume_usdc,
       count(e) AS markets_traded,
       min(first_at) AS first_at,
       max(last_at) AS last_at,
       sum(fees_u) / 1000000 AS fees,
       sum(realized_u) / 1000000 AS realized_pnl,
       sum(open_positions) AS open_positions,
       count(pnl) AS resolved,
       count(*) FILTER (WHERE pnl > 0) AS pnl_wins,
       count(*) FILTER (WHERE pnl < 0) AS pnl_losses,
       coalesce(sum(pnl) FILTER (WHERE pnl > 0), 0) / 1000000 AS pnl_gross_profit,
       coalesce(-sum(pnl) FILTER (WHERE pnl < 0), 0) / 1000000 AS pnl_gross_loss,
       sum(pnl) / 1000000 AS resolved_pnl,
       sum(cost) / 1000000 AS resolved_cost,
       -- the mean holding time: an exact sum of intervals, one rounding to float8
       extract(epoch FROM sum(held_for) FILTER (WHERE pnl IS NOT NULL))::float8
           / count(held_for) FILTER (WHERE pnl IS NOT NULL) AS holding_secs,
       count(*) FILTER (WHERE stake > 0)::float8 AS events,
       -- the UTC days those events resolved on (events resolving together are one unit of
       -- evidence for the tiers' minimums: a common factor moves them all at once)
       count(*) FILTER (WHERE stake > 0 AND first_of_day)::float8 AS resolution_days,
       -- over those days, the square of each day's sum (null_var, the excess over the closing
       -- line and wins_var clustered by day; docs/reputation.md "The edge and its posterior")
       coalesce(sum(day_vo * day_vo) FILTER (WHERE stake > 0 AND first_of_day), 0) AS day_var,
       coalesce(sum(day_resid * day_resid) FILTER (WHERE stake > 0 AND first_of_day), 0)
           AS resid_day_var,
       coalesce(sum(day_win * day_win) FILTER (WHERE stake > 0 AND first_of_day), 0)
           AS wins_day_var,
       coalesce(sum(vo) FILTER (WHERE stake > 0), 0) AS value,
       coalesce(sum(stake) FILTER (WHERE stake > 0), 0) AS stake,
       coalesce(sum(nvar) FILTER (WHERE stake > 0), 0) AS null_var,
       coalesce(sum(vc) FILTER (WHERE stake > 0), 0) AS clv_value,
       coalesce(sum(vc * vc) FILTER (WHERE stake > 0), 0) AS clv_sq,
       coalesce(sum(vc * stake) FILTER (WHERE stake > 0), 0) AS clv_stake,
       coalesce(sum(stake * stake) FILTER (WHERE stake > 0), 0) AS stake_sq,
       coalesce(sum(nvar_unclosed) FILTER (WHERE stake > 0), 0) AS clv_null_var,
       coalesce(sum(nvar_close) FILTER (WHERE stake > 0), 0) AS close_move_var,
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
       sum(set_u) AS set_u,
       sum(shares_u) AS shares_u,
       coalesce(sum(exposed), 0) AS exposed
  FROM ev
 GROUP BY w"""

# the round trips of the positions outside the sorted pass.
RT = """
    -- round trips (WASH's ring rule, orderflow.reputation.flags): per market (a token alone when
    -- its market is unknown), the shares bought less those sold, the first outcome's less the
    -- second's (a YES and a NO held together are a complete set: no exposure), in absolute
    -- value, against the shares traded; a standard market's in the sorted pass above (its
    -- event is itself: we's exposed), the rest here -- neg-risk legs, and tokens of no known
    -- market -- few positions; integer sums, exact in any order
    SELECT x.wallet_address, sum(abs(x.net)) AS exposed
      FROM (SELECT p.wallet_address, coalesce(p.market_id::text, p.token_id::text) AS mk,
                   sum(CASE WHEN p.outcome_index = 1 THEN -p.net_u ELSE p.net_u END) AS net
              FROM rep_positions p
             WHERE NOT coalesce(p.event_id = p.market_id, false)
             GROUP BY 1, 2) x
     GROUP BY x.wallet_address"""

ROW = """
-- the wallet's counterparty figures (rep_wash: at most one row per wallet with token_id NULL),
-- joined to the 1 row per wallet rather than to its events
SELECT (row_number() OVER () - 1)::int AS idx,
       a.w COLLATE "default" AS wallet_address,
       a.total_trades, a.volume_usdc, a.markets_traded, a.first_at, a.last_at, a.fees,
       a.realized_pnl, a.open_positions, a.resolved,
       a.pnl_wins, a.pnl_losses, a.pnl_gross_profit, a.pnl_gross_loss, a.resolved_pnl,
       a.resolved_cost, a.holding_secs, a.events, a.resolution_days, a.day_var,
       a.resid_day_var, a.wins_day_var, a.value, a.stake,
       a.null_var, a.clv_value, a.clv_sq, a.clv_stake, a.stake_sq, a.clv_null_var,
       a.close_move_var, a.wins,
       a.expected_wins, a.wins_var, a.gross_profit, a.gross_loss, a.null_loss, a.value_early,
       a.var_early, a.value_late,
       a.var_late, a.volume, a.taker_volume, a.buy_volume, a.penny_volume,
       coalesce(w.share, 0.0) AS wash_share,
       coalesce(w.counterparty_share, 0.0) AS wash_counterparty_share,
       coalesce(w.deviation, 'NaN') AS wash_deviation,
       coalesce(w.pair_fills, 0)::float8 AS wash_fills,
       coalesce(w.off_share, 0.0) AS wash_off_share,
       coalesce(w.off_fills, 0)::float8 AS wash_off_fills,
       w.counterparty::text AS wash_counterparty,
       w.host::text AS wash_host_address,
       coalesce(w.host_share, 0.0) AS wash_host_share,
       coalesce(w.host_own_share, 0.0) AS wash_host_own_share,
       (a.set_u + coalesce(h.hedged_u, 0))::float8 / 1000000 AS hedged_volume,
       coalesce((a.shares_u - a.exposed - coalesce(r.exposed, 0))::float8
                / nullif(a.shares_u, 0)::float8, 0.0) AS wash_round_trip
  FROM wallets a
  LEFT JOIN rep_wash w ON w.wallet_address = a.w COLLATE "default" AND w.token_id IS NULL
  LEFT JOIN hedged h ON h.wallet_address = a.w COLLATE "default"
  LEFT JOIN rt r ON r.wallet_address = a.w COLLATE "default"
"""
