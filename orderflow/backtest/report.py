"""Plain-text rendering of a backtest: one table for the strategy and its baselines, then detail.

The last line answers the question the backtest exists for — would following the scores have
paid, and did it beat following everyone or random wallets — in words, without spin.
"""

from __future__ import annotations

from decimal import Decimal

from orderflow.backtest.metrics import RunSummary
from orderflow.backtest.runner import BacktestReport


def money(value: Decimal) -> str:
    return f"{value:+,.2f}"


def pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value * 100:.1f}%"


def num(value: float | None, digits: int = 2) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def summary_table(summaries: list[RunSummary]) -> list[str]:
    head = (
        f"{'follower':<14}{'signals':>8}{'filled':>8}{'closed':>8}{'win rate':>10}"
        f"{'P&L USDC':>14}{'on stake':>10}{'Sharpe':>8}{'max DD':>12}"
    )
    lines = [head, "-" * len(head)]
    for s in summaries:
        lines.append(
            f"{s.name:<14}{s.signals:>8}{s.executed:>8}{s.positions_closed:>8}"
            f"{pct(s.win_rate):>10}{money(s.pnl):>14}{pct(s.return_on_stake):>10}"
            f"{num(s.sharpe):>8}{money(-s.max_drawdown_usdc):>12}"
        )
    return lines


def verdict(summaries: list[RunSummary]) -> str:
    strategy, *baselines = summaries
    if strategy.executed == 0:
        return (
            "Verdict: the strategy took no position in this period, so the history cannot say "
            "whether following the scores would have paid."
        )
    paid = "would have PAID" if strategy.pnl > 0 else "would NOT have paid"
    beats = [
        b.name for b in baselines if (strategy.return_on_stake or 0) > (b.return_on_stake or 0)
    ]
    loses = [b.name for b in baselines if b.name not in beats]
    parts = [
        f"Verdict: following the scores {paid} ({money(strategy.pnl)} USDC, "
        f"{pct(strategy.return_on_stake)} on stake, {strategy.positions_closed} closed "
        f"positions)."
    ]
    if beats:
        parts.append(f"Per dollar staked it beat {', '.join(beats)}.")
    if loses:
        parts.append(f"It did not beat {', '.join(loses)}.")
    if strategy.positions_closed < 30:
        parts.append("Few closed positions: treat the figures as anecdote, not evidence.")
    return " ".join(parts)


def render(report: BacktestReport) -> str:
    r = report.result
    lines = [
        f"Walk-forward backtest {r.start.isoformat()} -> {r.end.isoformat()}: {r.steps} steps of "
        f"{r.step}, {r.trades_replayed} fills, {r.resolutions_seen} resolutions; scores as of "
        "each step's start.",
        "",
        *summary_table(report.summaries),
        "",
    ]
    for s in report.summaries:
        types = (
            ", ".join(
                f"{name}: {t.signals} signals, {t.executed} filled, win {pct(t.win_rate)}, "
                f"P&L {money(t.pnl)}"
                for name, t in sorted(s.by_type.items())
            )
            or "no signals"
        )
        lines.append(f"{s.name}: {types}")
        if s.skip_reasons:
            top = ", ".join(f"{k} {v}" for k, v in list(s.skip_reasons.items())[:5])
            lines.append(f"  skipped: {top}")
    lines += ["", verdict(report.summaries)]
    return "\n".join(lines)
