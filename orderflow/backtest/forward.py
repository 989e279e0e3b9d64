"""Forward test of the score: scores as of a date against the edge wallets realised after it.

Works on any stored history (it needs no truth file): the scorer is asked for every wallet's verdict
as of ``as_of`` (the as-of gate: nothing after it is read), then each wallet's *taker* BUYs after
``as_of`` (counted as decisions: its taker rows of one transaction and token are one buy,
:mod:`orderflow.signals.decisions`) in markets resolved by ``end`` are settled at their payouts --
those placed before their market resolved: a buy at or after the resolution is taken with the
outcome known (the reputation run voids it as no decision,
:data:`orderflow.reputation.evidence_sql.VOID`), and those at a price
(:func:`orderflow.signals.quotes.is_level`): a fill of no shares or no collateral, stored at 0, or a
wash print at 1.00 is no decision either.
A score that finds skill ranks wallets by the edge they go on to realise; a score that finds luck
or volume does not.

Reported: Spearman rank correlation of score and realised return per dollar over wallets with
at least ``min_buys`` such buys; the pooled realised return per dollar of the wallets in the top
tiers at ``as_of`` and of everyone else, each with a bootstrap interval that draws *events*
(markets; a neg-risk event's legs together), as the backtest's verdict does: wallets that bought
in the same market won or lost together, so drawing wallets counted one outcome many times (twelve
top-tier wallets in the same two winning markets read as a certain +100 %), and clusters its
standard error by the events' resolution days, as the verdict does (one definition:
:func:`orderflow.backtest.verdict.return_interval`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from orderflow.backtest.engine import Scorer
from orderflow.backtest.interval import null_variance
from orderflow.backtest.verdict import Interval, MarketResult, resolution_days, return_interval
from orderflow.chain import pruning
from orderflow.signals.decisions import decision_key_sql
from orderflow.signals.quotes import is_level_sql
from orderflow.signals.views import WalletView
from orderflow.sim.quality import TOP_TIERS, spearman

# Every taker BUY after the date in a market resolved by the end, placed before its market
# resolved, at a price (a row of no shares or no collateral, stored at 0, or a wash print at
# 1.00 is no decision: orderflow.signals.decisions.is_decision_row), with its stake (fees in),
# its P&L at the payout and its event (a neg-risk event's legs share one, as in
# orderflow.backtest.history.event_ids). $1 = as_of, $2 = end.
_BUYS = f"""
SELECT t.wallet_address, {decision_key_sql("t")} AS decision, o.market_id, o.resolved_at,
       CASE WHEN c.neg_risk THEN left(c.question_id, 64) || '00' ELSE o.market_id END AS event_id,
       COALESCE(t.outcome_index, tok.outcome_index) AS outcome, t.size, t.price,
       t.usdc_size + CASE WHEN t.fee_asset = 'COLLATERAL' THEN t.fee ELSE t.fee * t.price END
           AS staked,
       t.size * o.payouts[COALESCE(t.outcome_index, tok.outcome_index) + 1] - t.usdc_size
           - CASE WHEN t.fee_asset = 'COLLATERAL' THEN t.fee ELSE t.fee * t.price END AS pnl
  FROM orderflow_trades t
  LEFT JOIN orderflow_tokens tok ON tok.token_id = t.token_id
  JOIN orderflow_market_outcomes o ON o.market_id = COALESCE(t.market_id, tok.condition_id)
  LEFT JOIN orderflow_conditions c ON c.condition_id = o.market_id
 WHERE t.is_taker_aggregate AND t.side = 'BUY'
   AND t.timestamp > $1 AND t.timestamp <= $2 AND o.resolved_at <= $2
   AND t.timestamp < o.resolved_at AND {is_level_sql("t.price")}
   AND {pruning.since("$1", "t")} AND {pruning.until("$2", "t")}
   AND COALESCE(t.outcome_index, tok.outcome_index) IS NOT NULL
"""

# A wallet's buys are its decisions (orderflow.signals.decisions): a taker order matched against
# three makers is three taker rows of one transaction and one buy (counted by rows, a wallet of
# three bets so split read as nine, over min_buys: tests/backtest/test_forward.py).
_REALISED = f"""
SELECT wallet_address, count(DISTINCT decision) AS buys, sum(staked) AS staked, sum(pnl) AS pnl
  FROM ({_BUYS}) b
 GROUP BY wallet_address
"""

# The same buys of a group of wallets (``$3``) pooled per market, with its event and resolution:
# the events are the units the interval draws, their resolution days its clusters; and the
# market as a leg of its event for the no-edge variance (``null_variance``): net shares of its
# first outcome, and the shares with the first outcome's probability each entry price implies.
_BY_MARKET = f"""
SELECT market_id, event_id, resolved_at, sum(staked) AS staked, sum(pnl) AS pnl,
       sum(CASE WHEN outcome = 0 THEN size ELSE -size END) AS first_shares,
       sum(size * CASE WHEN outcome = 0 THEN price ELSE 1 - price END) AS implied,
       sum(size) AS shares
  FROM ({_BUYS}) b
 WHERE wallet_address = ANY($3::text[])
 GROUP BY market_id, event_id, resolved_at
"""


_MEDIAN_RESOLUTION = """
SELECT percentile_disc(0.5) WITHIN GROUP (ORDER BY resolved_at)
  FROM orderflow_market_outcomes
 WHERE resolved_at > $1 AND resolved_at <= $2
"""


async def median_resolution(
    conn: asyncpg.Connection, start: datetime, end: datetime
) -> datetime | None:
    """When half the markets resolving in ``(start, end]`` had resolved: a fair date to score
    as of (half the outcomes behind the scores, half ahead to test them on)."""
    value: datetime | None = await conn.fetchval(_MEDIAN_RESOLUTION, start, end)
    return value


@dataclass(frozen=True, slots=True)
class Realised:
    buys: int
    pnl: float
    staked: float

    @property
    def edge(self) -> float | None:
        return None if self.staked <= 0 else self.pnl / self.staked


@dataclass(frozen=True, slots=True)
class ForwardTest:
    as_of: datetime
    end: datetime
    min_buys: int
    wallets: int  # scored at as_of with at least min_buys resolved taker buys after it
    spearman: float | None
    # pooled realised return per dollar of the WHALE/SMART wallets at as_of, and of the others;
    # each interval draws events (markets), not wallets
    top_tier: Interval
    others: Interval
    top_tier_wallets: int


async def realised_after(
    conn: asyncpg.Connection, as_of: datetime, end: datetime
) -> dict[str, Realised]:
    rows = await conn.fetch(_REALISED, as_of, end)
    return {
        r["wallet_address"]: Realised(int(r["buys"]), float(r["pnl"]), float(r["staked"]))
        for r in rows
    }


async def by_event(
    conn: asyncpg.Connection, as_of: datetime, end: datetime, wallets: Sequence[str]
) -> dict[str, MarketResult]:
    """The realised P&L and stake of ``wallets`` pooled per event (market; a neg-risk event's
    legs together): wallets that bought in the same market won or lost together, so the event,
    not the wallet, is what the interval may draw as independent. Each event with its UTC
    resolution day (:func:`orderflow.backtest.verdict.resolution_days`, the backtest's: a
    neg-risk event's, its last bought leg's), the clusters of the interval's standard error,
    and the variance its payoff would have with no edge, what the entry prices imply (the
    verdict's floor: :func:`orderflow.backtest.interval.null_variance`; favourites all won
    read [+11 %, +11 %] without it, ``tests/backtest/test_forward.py``)."""
    if not wallets:
        return {}
    rows = await conn.fetch(_BY_MARKET, as_of, end, list(wallets))
    days = resolution_days(
        {r["market_id"]: r["event_id"] for r in rows},
        {r["market_id"]: r["resolved_at"] for r in rows},
    )
    pnl: dict[str, float] = {}
    staked: dict[str, float] = {}
    day: dict[str, str] = {}
    legs: dict[str, list[tuple[float, float]]] = {}
    for r in rows:
        event = r["event_id"]
        pnl[event] = pnl.get(event, 0.0) + float(r["pnl"])
        staked[event] = staked.get(event, 0.0) + float(r["staked"])
        day[event] = days[r["market_id"]]
        if r["shares"] > 0:
            q = float(r["implied"]) / float(r["shares"])
            legs.setdefault(event, []).append((float(r["first_shares"]), q))
    return {e: MarketResult(pnl[e], staked[e], day[e], null_variance(legs.get(e, ()))) for e in pnl}


def eligible(
    scores: Mapping[str, WalletView], realised: Mapping[str, Realised], min_buys: int
) -> list[tuple[WalletView, Realised]]:
    """The wallets scored at the date with at least ``min_buys`` resolved taker buys after it."""
    return [
        (view, realised[a])
        for a, view in scores.items()
        if view.score is not None and a in realised and realised[a].buys >= min_buys
    ]


async def forward_test(
    conn: asyncpg.Connection,
    scorer: Scorer,
    *,
    as_of: datetime,
    end: datetime,
    min_buys: int = 5,
    seed: int = 0,
) -> ForwardTest:
    """Score as of ``as_of``; compare with what each wallet realised in ``(as_of, end]``."""
    scores = await scorer(conn, as_of)
    pairs = eligible(scores, await realised_after(conn, as_of, end), min_buys)
    ranked = [(v.score, r.edge) for v, r in pairs if v.score is not None and r.edge is not None]
    top = sorted(v.address for v, _ in pairs if v.tier in TOP_TIERS)
    rest = sorted(v.address for v, _ in pairs if v.tier not in TOP_TIERS)
    return ForwardTest(
        as_of=as_of,
        end=end,
        min_buys=min_buys,
        wallets=len(pairs),
        spearman=spearman([s for s, _ in ranked], [e for _, e in ranked]),
        top_tier=return_interval(await by_event(conn, as_of, end, top), seed=seed),
        others=return_interval(await by_event(conn, as_of, end, rest), seed=seed),
        top_tier_wallets=len(top),
    )


def forward_text(f: ForwardTest) -> str:
    rho = "n/a" if f.spearman is None else f"{f.spearman:.2f}"
    return (
        f"Forward test: scores as of {f.as_of.isoformat()} against the return per dollar realised "
        f"after it ({f.wallets} wallets with >= {f.min_buys} resolved taker buys): Spearman "
        f"{rho}; WHALE/SMART then ({f.top_tier_wallets}): {f.top_tier.describe('realised')}; "
        f"everyone else: {f.others.describe('realised')}."
    )
