"""Text for ``orderflow wallet ADDRESS``: the score broken into factors, statistics, positions.

The score and its factors are the stored ones (the last ``orderflow reputation run``); positions
are replayed live from the wallet's fills (:mod:`orderflow.reputation.per_wallet`). A wallet not
scored yet is explained from the live replay.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from orderflow.reputation.factors import FACTORS
from orderflow.reputation.per_wallet import TokenPosition, WalletReport
from orderflow.reputation.settings import ReputationSettings

_DETAIL_KEYS: dict[str, tuple[str, ...]] = {
    "win_rate": ("wins", "losses", "wilson_lower", "wilson_upper"),
    "profit_factor": ("gross_profit", "gross_loss", "shrunk"),
    "consistency": ("markets", "mean_return", "sd_return", "sharpe_shrunk"),
    "volume": ("volume_usdc",),
    "timing": ("edge", "edge_raw", "edge_se", "resolved_buys"),
}


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, Decimal):
        return f"{value:,.2f}"
    return str(value)


def live_factors(
    report: WalletReport, settings: ReputationSettings | None = None
) -> dict[str, Any]:
    """The factors JSON (same shape as the stored one) from a live per-wallet replay."""
    s, i = report.scores, report.inputs
    w = settings or ReputationSettings()
    weights = {
        "win_rate": w.weight_win_rate,
        "profit_factor": w.weight_profit_factor,
        "consistency": w.weight_consistency,
        "volume": w.weight_volume,
        "timing": w.weight_timing,
    }
    values = {
        "win_rate": s.win_rate[0],
        "profit_factor": s.profit_factor[0],
        "consistency": s.consistency[0],
        "volume": s.volume[0],
        "timing": s.timing[0],
    }
    details: dict[str, dict[str, Any]] = {
        "win_rate": {
            "wins": int(i.wins[0]),
            "losses": int(i.losses[0]),
            "wilson_lower": float(s.wilson_lower[0]),
            "wilson_upper": float(s.wilson_upper[0]),
        },
        "profit_factor": {
            "gross_profit": float(i.gross_profit[0]),
            "gross_loss": float(i.gross_loss[0]),
            "shrunk": float(s.profit_factor_shrunk[0]),
        },
        "consistency": {
            "markets": int(i.return_n[0]),
            "mean_return": float(i.return_mean[0]),
            "sd_return": float(i.return_sd[0]),
            "sharpe_shrunk": float(s.sharpe_shrunk[0]),
        },
        "volume": {"volume_usdc": float(i.volume_usdc[0])},
        "timing": {
            "edge": float(s.edge[0]),
            "edge_raw": float(i.edge_mean[0]),
            "edge_se": float(s.edge_se[0]),
            "resolved_buys": int(i.edge_n[0]),
        },
    }
    out: dict[str, Any] = {
        "score": float(s.score[0]),
        "raw_score": float(s.raw_score[0]),
        "capped": s.cap_names()[0],
        "tier": s.tier_names()[0],
    }
    for f in FACTORS:
        out[f] = {
            "value": float(values[f]),
            "weight": weights[f],
            "points": 10 * weights[f] * float(values[f]),
            **details[f],
        }
    return out


def _position_line(tp: TokenPosition) -> str:
    p = tp.position
    if tp.problem:
        status = tp.problem
    elif tp.payout is not None:
        status = f"RESOLVED payout {tp.payout.normalize():f}"
    elif p.is_open:
        status = f"OPEN mark {_fmt(tp.last_price)} unrealized {_fmt(tp.unrealized)}"
    else:
        status = "CLOSED"
    market = (tp.market_id or "?")[:10] + "…"
    avg = _fmt(p.avg_price) if p.avg_price is not None else "-"
    return (
        f"  {str(tp.token_id)[:12]:<12} {market:<12} {_fmt(tp.outcome_index):>3} "
        f"{_fmt(p.shares):>12} {avg:>8} {_fmt(p.bought_shares):>12} {_fmt(p.total_paid):>12} "
        f"{_fmt(p.realized_pnl):>12} {_fmt(p.fees_paid):>8}  {status}"
    )


def render(
    stats: Mapping[str, Any] | None,
    report: WalletReport,
    history: Sequence[Mapping[str, Any]],
) -> str:
    """The full explanation as text."""
    factors: Mapping[str, Any] = (
        stats["factors"] if stats and stats["factors"] else live_factors(report)
    )
    lines = [f"wallet {report.wallet_address}"]
    if stats and stats["reputation_score"] is not None:
        lines.append(
            f"score {stats['reputation_score']} / 10   tier {stats['trader_tier']}   "
            f"computed {stats['computed_at']:%Y-%m-%d %H:%M:%S%z} (data as of {stats['as_of']})"
        )
    else:
        lines.append(
            f"not scored by a reputation run yet; live: score {factors['score']:.2f} "
            f"tier {factors.get('tier', '?')}"
        )
    if factors.get("capped"):
        lines.append(f"evidence rule applied: {factors['capped']}")
    lines.append("")
    lines.append(f"  {'factor':<14} {'value':>6} {'weight':>7} {'points':>7}  inputs")
    for f in FACTORS:
        d = factors.get(f) or {}
        inputs = ", ".join(f"{k}={_fmt(d.get(k))}" for k in _DETAIL_KEYS[f])
        lines.append(
            f"  {f:<14} {_fmt(d.get('value')):>6} {_fmt(d.get('weight')):>7} "
            f"{_fmt(d.get('points')):>7}  {inputs}"
        )
    lines.append(f"  {'raw score':<14} {_fmt(factors.get('raw_score')):>6}")
    if stats:
        lines.append("")
        lines.append("statistics (last run)")
        for key in (
            "total_trades", "total_volume_usdc", "markets_traded", "resolved_positions", "wins",
            "losses", "win_rate", "gross_profit", "gross_loss", "profit_factor", "realized_pnl",
            "unrealized_pnl", "roi", "fees_paid", "avg_holding_secs", "open_positions", "edge",
            "edge_se", "resolved_buys", "first_trade_at", "last_trade_at",
        ):  # fmt: skip
            lines.append(f"  {key:<20} {_fmt(stats.get(key))}")
    lines.append("")
    lines.append(
        f"positions as of {report.as_of:%Y-%m-%d %H:%M:%S%z}: {len(report.positions)} "
        f"(realized {_fmt(report.realized_pnl)}, unrealized {_fmt(report.unrealized_pnl)})"
    )
    if report.positions:
        lines.append(
            f"  {'token':<12} {'market':<12} {'out':>3} {'shares':>12} {'avg':>8} "
            f"{'bought':>12} {'paid':>12} {'realized':>12} {'fees':>8}  status"
        )
        lines.extend(_position_line(tp) for tp in report.positions)
    if history:
        lines.append("")
        lines.append("score history (newest first)")
        for h in history:
            lines.append(
                f"  {h['computed_at']:%Y-%m-%d %H:%M} {h['reputation_score']:>6} "
                f"{h['trader_tier']:<8} resolved={_fmt(h['resolved_positions'])}"
            )
    return "\n".join(lines)
