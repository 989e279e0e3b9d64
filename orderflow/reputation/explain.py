"""Text for ``orderflow wallet ADDRESS``: tier, posterior, flags with their figures, the five
factors, statistics, positions and history.

The score, flags and factors are the stored ones (the last ``orderflow reputation run``);
positions are replayed live from the wallet's fills (:mod:`orderflow.reputation.per_wallet`). A
wallet not scored yet is explained from the live replay (with a neutral prior).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

import numpy as np

from orderflow.reputation.archived import Archived, archived_line
from orderflow.reputation.copy_leaders import CopyRelation, copy_lines
from orderflow.reputation.factors import FACTORS
from orderflow.reputation.per_wallet import WalletReport
from orderflow.reputation.posterior_block import posterior_of
from orderflow.reputation.prior import Prior, fade_probability
from orderflow.reputation.settings import ReputationSettings, weights
from orderflow.reputation.token_position import TokenPosition

_DETAIL_KEYS: dict[str, tuple[str, ...]] = {
    "win_rate": ("events", "wins", "expected_wins", "z"),
    "profit_factor": ("gross_profit", "gross_loss", "null_loss", "shrunk"),
    "consistency": ("z_early", "z_late", "persistence_z"),
    "volume": ("volume_usdc", "events"),
    "timing": ("clv_edge", "clv_se"),
}
_FLAG_FIGURES: dict[str, tuple[str, ...]] = {
    "MARKET_MAKER": ("maker_volume_share",),
    "WASH": (
        "top_counterparty",
        "group_share",
        "group_closed_share",
        "group_fills",
        "price_deviation",
        "off_market_share",
        "off_market_fills",
        "round_trip",
    ),
    "PENNY_PICKER": ("penny_stake_share",),
    "WASH_COUNTERPARTY": ("wash_host", "wash_host_share", "wash_host_own_share"),
    "HEDGED": ("hedged_share",),
    "COPIER": (),  # no column of the row holds its leader or counts (orderflow_copy_pairs does)
}


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return "nan" if value != value else f"{value:.4g}"
    if isinstance(value, Decimal):
        return f"{value:,.2f}"
    return str(value)


def _counted(value: Any, noun: str) -> str:
    """``value`` (as :func:`_fmt` shows it) and ``noun``, plural but for exactly one."""
    shown = _fmt(value)
    return f"{shown} {noun}" + ("" if shown == "1" else "s")


def _f(x: Any) -> float | None:
    if x is None:
        return None
    v = float(x)
    return None if v != v else v


def live_factors(
    report: WalletReport, settings: ReputationSettings | None = None
) -> dict[str, Any]:
    """The factors JSON (same shape as the stored one) from a live per-wallet replay."""
    s, i = report.scores, report.inputs
    settings = settings or ReputationSettings()
    w = weights(settings)
    values = {
        "win_rate": s.win_rate[0],
        "profit_factor": s.profit_factor[0],
        "consistency": s.consistency[0],
        "volume": s.volume[0],
        "timing": s.timing[0],
    }
    details: dict[str, dict[str, Any]] = {
        "win_rate": {
            "events": _f(i.events[0]),
            "wins": _f(i.wins[0]),
            "expected_wins": _f(i.expected_wins[0]),
            "z": _f(s.win_z[0]),
        },
        "profit_factor": {
            "gross_profit": _f(i.gross_profit[0]),
            "gross_loss": _f(i.gross_loss[0]),
            "null_loss": _f(i.null_loss[0]),
            "shrunk": _f(s.profit_factor_shrunk[0]),
        },
        "consistency": {"persistence_z": _f(s.persistence_z[0])},
        "volume": {"volume_usdc": _f(i.volume[0]), "events": _f(i.events[0])},
        "timing": {"clv_edge": _f(s.clv_edge[0]), "clv_se": _f(s.clv_se[0])},
    }
    out: dict[str, Any] = {
        "score": float(s.score[0]),
        "raw_score": float(s.raw_score[0]),
        "tier": s.tier_names()[0],
        "flags": s.flag_names()[0],
        "posterior": {
            "edge": _f(s.edge[0]),
            "sd": _f(s.edge_se[0]),
            "p_edge_above_cost": _f(s.p_above_cost[0]),
            "p_edge_below_zero": _f(s.p_below_zero[0]),
            "follower_cost": settings.follower_cost,
            "prior_mean": s.prior.mean,
            "prior_sd": s.prior.sd,
            "prior_mean_se": s.prior.mean_se,
            "close_miss_sd": s.prior.miss_sd,
            "measured": _f(s.edge_raw[0]),
            "measured_se": _f(s.edge_raw_se[0]),
            "outcome_edge": _f(s.outcome_edge[0]),
            "outcome_se": _f(s.outcome_se[0]),
            "clv_edge": _f(s.clv_edge[0]),
            "clv_se": _f(s.clv_se[0]),
            "events": _f(i.events[0]),
        },
        "behaviour": {
            "maker_volume_share": _f(s.maker_share[0]),
            "penny_stake_share": _f(s.penny_share[0]),
            "group_share": _f(i.wash_share[0]),
            "group_closed_share": _f(i.wash_counterparty_share[0]),
            "group_fills": _f(i.wash_fills[0]),
            "price_deviation": _f(i.wash_deviation[0]),
            "off_market_share": _f(i.wash_off_share[0]),
            "off_market_fills": _f(i.wash_off_fills[0]),
            "wash_host_share": _f(i.wash_host_share[0]),
            "wash_host_own_share": _f(i.wash_host_own_share[0]),
            "hedged_share": _f(i.hedged_volume[0] / i.buy_volume[0]) if i.buy_volume[0] else None,
            "round_trip": _f(i.wash_round_trip[0]),
        },
    }
    for f in FACTORS:
        out[f] = {
            "value": float(values[f]),
            "weight": w[f],
            "points": 10 * w[f] * float(values[f]),
            **details[f],
        }
    return out


def _position_line(tp: TokenPosition) -> str:
    p = tp.position
    if tp.problem:
        status = tp.problem
    elif tp.payout is not None:
        status = f"RESOLVED payout {tp.payout.normalize():f}"
    elif tp.shares > 0:
        status = f"OPEN mark {_fmt(tp.last_price)} unrealized {_fmt(tp.unrealized)}"
    else:
        status = "CLOSED"
    market = (tp.market_id or "?")[:10] + "…"
    avg = _fmt(tp.avg_price) if tp.avg_price is not None else "-"
    taker = f"{float(tp.taker_volume / tp.volume):.0%}" if tp.volume else "-"
    return (
        f"  {str(tp.token_id)[:12]:<12} {market:<12} {_fmt(tp.outcome_index):>3} "
        f"{_fmt(tp.shares):>12} {avg:>8} {_fmt(p.bought_shares):>12} {_fmt(p.total_paid):>12} "
        f"{_fmt(tp.realized):>12} {_fmt(p.fees_paid):>8} {taker:>6}  {status}"
    )


def _posterior_lines(factors: Mapping[str, Any], prior: Prior | None = None) -> list[str]:
    post = posterior_of(factors)
    if not post:
        return []
    return [
        f"edge per dollar on taker decisions (fee-net), {_fmt(post.get('events'))} resolved "
        "events:",
        f"  posterior {_fmt(post.get('edge'))} ± {_fmt(post.get('sd'))}   "
        f"P(edge > cost {_fmt(post.get('follower_cost'))}) = "
        f"{_fmt(post.get('p_edge_above_cost'))}   P(edge < 0) = "
        f"{_fmt(post.get('p_edge_below_zero'))}",
        f"  measured {_fmt(post.get('measured'))} ± {_fmt(post.get('measured_se'))} = outcome "
        f"{_fmt(post.get('outcome_edge'))} ± {_fmt(post.get('outcome_se'))} with closing line "
        f"{_fmt(post.get('clv_edge'))} ± {_fmt(post.get('clv_se'))}",
        f"  population prior {_fmt(post.get('prior_mean'))} ± {_fmt(post.get('prior_sd'))}",
        *_tail_line(prior),
        *_fade_line(post),
    ]


def _tail_line(prior: Prior | None) -> list[str]:
    """The prior's skill tail, where the population has one (orderflow.reputation.prior)."""
    if prior is None or prior.skill_share <= 0:
        return []
    return [
        f"  and a skill tail: {_fmt(100 * prior.skill_share)} % of wallets at "
        f"{_fmt(prior.skill_mean)} ± {_fmt(prior.skill_sd)}"
    ]


def _fade_line(post: Mapping[str, Any]) -> list[str]:
    """What DEGEN asks beside P(edge < 0): worse than the average taker by more than a fader's
    cost, on the wallet's own record (:func:`orderflow.reputation.prior.fade_probability`)."""
    figures = [post.get(k) for k in ("measured", "measured_se", "prior_mean", "follower_cost")]
    numbers = [float(f) for f in figures if isinstance(f, int | float)]
    if len(numbers) < len(figures):
        return []
    m, se, mu, cost = numbers
    mu_se = float(post.get("prior_mean_se") or 0.0)
    p = float(fade_probability(np.array([m]), np.array([se]), mu, mu_se, cost)[0])
    return [f"  P(edge < prior mean - cost, own record) = {_fmt(p)}   (DEGEN also needs this)"]


def _units_lines(report: WalletReport, s: ReputationSettings) -> list[str]:
    """The units the tiers' evidence minimums count (:func:`orderflow.reputation.factors.score`):
    the UTC days the wallet's resolved events resolved on, events resolving together on a
    common factor being one unit — else a wallet held out of a tier by them shows no reason."""
    i = report.inputs
    events, days = i.events[0], i.resolution_days[0]
    lines = []
    if s.min_events_by_day:
        lines.append(
            f"  {_counted(events, 'resolved event')} on {_counted(days, 'UTC day')} of resolution:"
            " the tiers' "
            f"minimums count days (WHALE {s.min_events_whale}, SMART {s.min_events_smart}, "
            f"DEGEN {s.min_events_degen})"
        )
    if s.variance_by_day and i.day_var[0] > i.null_var[0] > 0:
        # the outcome's standard error widened by events resolving together (factors.py:
        # outcome_variances), else a wallet whose z fell shows no reason
        lines.append(
            f"  outcome se clustered by day: x{_fmt(math.sqrt(i.day_var[0] / i.null_var[0]))} "
            "the independent events' (events resolving on one day counted as one draw)"
        )
    return lines


def _flag_lines(factors: Mapping[str, Any]) -> list[str]:
    flags = list(factors.get("flags") or [])
    behaviour = factors.get("behaviour") or {}
    lines = ["behaviour flags: " + (", ".join(flags) if flags else "none")]
    for name, keys in _FLAG_FIGURES.items():
        mark = "*" if name in flags else " "
        figures = ", ".join(f"{k}={_fmt(behaviour.get(k))}" for k in keys)
        lines.append(f" {mark} {name:<13} {figures}")
    return lines


def render(
    stats: Mapping[str, Any] | None,
    report: WalletReport,
    history: Sequence[Mapping[str, Any]],
    *,
    replayed: bool = False,
    settings: ReputationSettings | None = None,
    archived: Archived | None = None,
    copy: CopyRelation | None = None,
) -> str:
    """The full explanation as text. ``replayed``: the report is the wallet as of a past time
    (``orderflow wallet --as-of``), shown instead of the last run's row (``stats``);
    ``archived``: its fills in detached partitions, which the replay cannot read; ``copy``: whom
    it copies and who copies it (None: no pairs kept; not shown for a replay, whose pairs would
    be the last run's)."""
    if replayed:
        stats = None
    factors: Mapping[str, Any] = (
        stats["factors"] if stats and stats["factors"] else live_factors(report, settings)
    )
    lines = [f"wallet {report.wallet_address}"]
    if replayed:
        lines.append(
            f"score {factors['score']:.2f} / 10   tier {factors.get('tier', '?')}   "
            f"as of {report.as_of:%Y-%m-%d %H:%M:%S%z} (replayed from what was known then)"
        )
    elif stats and stats["reputation_score"] is not None:
        lines.append(
            f"score {stats['reputation_score']} / 10   tier {stats['trader_tier']}   "
            f"computed {stats['computed_at']:%Y-%m-%d %H:%M:%S%z} (data as of {stats['as_of']})"
        )
    else:
        lines.append(
            f"not scored by a reputation run yet; live: score {factors['score']:.2f} "
            f"tier {factors.get('tier', '?')}"
        )
    lines.append("")
    lines.extend(_posterior_lines(factors, report.scores.prior))
    lines.extend(_units_lines(report, settings or ReputationSettings()))
    lines.extend(_flag_lines(factors))
    if not replayed:
        lines.extend(copy_lines(copy, settings or ReputationSettings()))
    lines.append("")
    lines.append(f"  {'factor':<14} {'value':>6} {'weight':>7} {'points':>7}  inputs")
    for f in FACTORS:
        d = factors.get(f) or {}
        inputs = ", ".join(f"{k}={_fmt(d.get(k))}" for k in _DETAIL_KEYS[f])
        lines.append(
            f"  {f:<14} {_fmt(d.get('value')):>6} {_fmt(d.get('weight')):>7} "
            f"{_fmt(d.get('points')):>7}  {inputs}"
        )
    lines.append(
        f"  {'raw score':<14} {_fmt(factors.get('raw_score')):>6}  (placed in the tier's band)"
    )
    if stats:
        lines.append("")
        lines.append("statistics (last run)")
        for key in (
            "total_trades", "total_volume_usdc", "markets_traded", "resolved_positions", "wins",
            "losses", "win_rate", "gross_profit", "gross_loss", "profit_factor", "realized_pnl",
            "unrealized_pnl", "roi", "fees_paid", "avg_holding_secs", "open_positions", "edge",
            "edge_se", "p_edge_above_cost", "p_edge_below_zero", "events_resolved", "clv_edge",
            "clv_se", "maker_volume_share", "flags", "first_trade_at", "last_trade_at",
        ):  # fmt: skip
            lines.append(f"  {key:<20} {_fmt(stats.get(key))}")
    lines.append("")
    if archived is not None:
        lines.append(archived_line(archived, report.trades))
    lines.append(
        f"positions as of {report.as_of:%Y-%m-%d %H:%M:%S%z}: {len(report.positions)} "
        f"(realized {_fmt(report.realized_pnl)}, unrealized {_fmt(report.unrealized_pnl)})"
    )
    if report.positions:
        lines.append(
            f"  {'token':<12} {'market':<12} {'out':>3} {'shares':>12} {'avg':>8} "
            f"{'bought':>12} {'paid':>12} {'realized':>12} {'fees':>8} {'taker':>6}  status"
        )
        lines.extend(_position_line(tp) for tp in report.positions)
    if history:
        lines.append("")
        lines.append("score history (newest first)")
        for h in history:
            if h["trader_tier"] is None:  # the reset of a wallet left without fills (076)
                lines.append(f"  {h['computed_at']:%Y-%m-%d %H:%M} no score: no fills stored")
                continue
            lines.append(
                f"  {h['computed_at']:%Y-%m-%d %H:%M} {h['reputation_score']:>6} "
                f"{h['trader_tier']:<8} resolved={_fmt(h['resolved_positions'])} "
                f"flags={','.join(h.get('flags') or []) or '-'}"
            )
    return "\n".join(lines)
