"""Reputation's complete sets (the HEDGED flag): the CTEs of the wallets statement
(:data:`orderflow.reputation.evidence_sql.WALLETS`) that sum, per wallet, the payout its kept
shares receive whatever the outcome."""

from __future__ import annotations

from orderflow.reputation.gate import gated_conditions

# Complete sets (the HEDGED flag, orderflow.reputation.flags): per (wallet, event), the payout
# what its decisions hold (shares its taker fills bought and did not sell: every taker fill, its
# maker fills being liquidity provision) receives whatever the outcome, in micro-USDC, at most
# what those buys paid; summed per wallet. Only legs bought together make a set: the tokens the
# wallet kept in an event, ordered by their first taker fill (rep_positions.taker_first_at), part
# where one's first fill comes more than $1 seconds (hedged_leg_window_secs) after the previous
# one's, and each part is valued on its own -- an arbitrageur takes every leg at once (its later
# sets add to legs first bought together, and a set of the other kind bought days later, NO on
# every leg after YES on every leg, is a part of its own), while a trader who bought one side on
# information and exited by buying the complement hours later holds two parts of one token each,
# no set. A standard market (its event is itself): the fewer of its YES and NO shares if both
# were first bought within the window, at most what its buys paid, summed by WALLETS' own
# (wallet, event) aggregation (``set_u``: no pass of its own). A neg-risk event, where exactly
# one leg wins: if leg k wins the wallet receives its YES on k and its NO on every other leg, so
# per part the least of sum(NO) + (YES_k - NO_k) over the legs -- a leg with no token in the
# part (the event's legs in orderflow_conditions, those prepared by the cut-off) counting 0 --
# at most what the part's buys paid: these CTEs, over the neg-risk positions the wallet kept
# shares of. Integers and exact interval comparisons: exact, in any order. The per-wallet replay:
# orderflow.reputation.replay_inputs.hedged_volume.
HEDGED_CTES = f"""neg_risk_kept AS (
    SELECT p.wallet_address, p.event_id, p.market_id, p.outcome_index, p.kept_u, p.taker_buy_u,
           p.taker_first_at,
           CASE WHEN p.taker_first_at - lag(p.taker_first_at) OVER w
                     > make_interval(secs => $1::int) THEN 1 ELSE 0 END AS starts
      FROM rep_positions p
     WHERE p.event_id <> p.market_id AND p.kept_u > 0
    WINDOW w AS (PARTITION BY p.wallet_address, p.event_id ORDER BY p.taker_first_at)
), legs AS (
    -- one row per (wallet, event, part, leg); a part: the tokens since the last gap (peers of
    -- one first fill share the running sum)
    SELECT p.wallet_address, p.event_id, p.part, p.market_id,
           coalesce(sum(p.kept_u) FILTER (WHERE p.outcome_index = 0), 0) AS yes_u,
           coalesce(sum(p.kept_u) FILTER (WHERE p.outcome_index = 1), 0) AS no_u,
           sum(p.taker_buy_u) AS buy_u
      FROM (SELECT k.*, sum(k.starts) OVER (PARTITION BY k.wallet_address, k.event_id
                                            ORDER BY k.taker_first_at) AS part
              FROM neg_risk_kept k) p
     GROUP BY p.wallet_address, p.event_id, p.part, p.market_id
), event_legs AS (
    -- the legs prepared by the cut-off ($2): a leg added later did not exist then
    SELECT left(c.question_id, 64) || '00' AS event_id, count(*) AS legs
      FROM ({gated_conditions("$2")}) c
     WHERE c.neg_risk
     GROUP BY 1
), neg_risk_sets AS (
    SELECT l.wallet_address,
           least(sum(l.buy_u),
                 sum(l.no_u) + least(min(l.yes_u - l.no_u),
                                     CASE WHEN count(*) < max(n.legs) THEN 0 END)) AS hedged_u
      FROM legs l
      LEFT JOIN event_legs n ON n.event_id = l.event_id
     GROUP BY l.wallet_address, l.event_id, l.part
), hedged AS (
    SELECT wallet_address, sum(hedged_u) AS hedged_u FROM neg_risk_sets GROUP BY wallet_address
)"""
