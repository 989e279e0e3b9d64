"""The scorer the backtest uses by default: the reputation stage's own ``compute_scores``.

``compute_scores(conn, as_of=T)`` reads trades with ``timestamp <= T`` and resolutions with
``resolved_at <= T`` only, and writes nothing — the as-of gate lives there, in one place, and
the backtest just asks for the verdict at the start of each step.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

import asyncpg

from orderflow.backtest.engine import Scorer
from orderflow.reputation import ReputationSettings, WalletScore, compute_scores
from orderflow.signals.queries import posterior_figure
from orderflow.signals.views import WalletView


def wallet_view(s: WalletScore, follower_cost: float | None = None) -> WalletView:
    """The executor's view of a reputation verdict (no resolved buys: no measured edge);
    ``follower_cost``: the cost per dollar the run judged the edge against; the population's
    mean from the verdict's posterior, as the live executor reads it."""
    measured = s.resolved_buys > 0
    return WalletView(
        address=s.wallet_address,
        score=float(s.score),
        tier=s.tier,
        edge=s.edge if measured else None,
        edge_se=s.edge_se if measured else None,
        resolved_buys=s.resolved_buys,
        flags=s.flags,
        p_edge_above_cost=s.p_edge_above_cost if measured else None,
        p_edge_below_zero=s.p_edge_below_zero if measured else None,
        follower_cost=follower_cost,
        prior_mean=posterior_figure(s.factors, "prior_mean"),
    )


def reputation_scorer(settings: ReputationSettings | None = None) -> Scorer:
    cost = (settings or ReputationSettings()).follower_cost

    async def score(conn: asyncpg.Connection, as_of: datetime) -> Mapping[str, WalletView]:
        scores = await compute_scores(conn, as_of=as_of, settings=settings)
        return {address: wallet_view(s, cost) for address, s in scores.items()}

    return score
