"""Plain-text rendering of a backtest: one table for the strategy and its baselines, then detail.

The last line answers the question the backtest exists for — would following the scores have
paid, and did it beat following everyone or random wallets — in words, from the intervals of
:mod:`orderflow.backtest.verdict` (PAID / LOST / INCONCLUSIVE), never from the sign alone.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from orderflow.backtest.metrics import RunSummary
from orderflow.backtest.runner import BacktestReport
from orderflow.backtest.verdict import sentence
from orderflow.durations import format_duration


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


def verdict(report: BacktestReport) -> str:
    """The verdict from the strategy's interval (never from the sign of its P&L)."""
    text = sentence(report.verdicts)
    strategy = report.strategy
    if strategy.executed and strategy.positions_closed < 30:
        text += (
            f" Only {strategy.positions_closed} positions closed (the rest are marked at the last "
            "traded price)."
        )
    return text


def interval_table(report: BacktestReport) -> list[str]:
    head = f"{'follower':<14}{'on stake':>10}   {'interval':<26}{'markets':>8}  verdict"
    lines = [head, "-" * (len(head) + 8)]
    for v in report.verdicts:
        i = v.interval
        est = "n/a" if i.estimate is None else f"{i.estimate * 100:+.1f}%"
        ci = (
            "n/a"
            if i.low is None or i.high is None
            else f"[{i.low * 100:+.1f}%, {i.high * 100:+.1f}%]"
        )
        lines.append(f"{v.name:<14}{est:>10}   {ci:<26}{i.markets:>8}  {v.verdict}")
    return lines


def execution_line(report: BacktestReport) -> str:
    """The latency and the book window, and whether the window is the strategy's order life."""
    ex = report.result.execution
    text = (
        f"Orders reach the book {format_duration(ex.latency)} after their leader, decided on the "
        f"fills stored {format_duration(ex.visibility)} after their block, and "
    )
    life = timedelta(seconds=report.settings.order_ttl_secs)
    if not report.window_differs:
        return text + f"live {format_duration(ex.window)} (the strategy's order_ttl_secs)."
    return text + (
        f"meet the book revealed within {format_duration(ex.window)} (--book-window), not the "
        f"{format_duration(life)} the strategy's orders live (order_ttl_secs): the executor "
        "would not trade these fills."
    )


def _bounded_line(report: BacktestReport) -> list[str]:
    """What the replay did with an end past the data (none when it was not)."""
    asked = report.options.end
    if not report.bounded_by_data or asked is None:
        return []
    return [
        f"--end {asked.isoformat()} is past the stored data: replayed until "
        f"{report.result.end.isoformat()} (the last trade and its orders' life, or the last "
        "resolution; nothing happens after it)."
    ]


def render(report: BacktestReport) -> str:
    r = report.result
    lines = [
        f"Walk-forward backtest {r.start.isoformat()} -> {r.end.isoformat()}: {r.steps} "
        f"{'step' if r.steps == 1 else 'steps'} of {format_duration(r.step)}, "
        f"{r.trades_replayed} fills, {r.resolutions_seen} resolutions; scores as of "
        "each step's start.",
        *_bounded_line(report),
        execution_line(report),
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
    confidence = f"{report.options.confidence * 100:.0f}%"
    lines += [
        "",
        f"P&L per dollar staked, {confidence} bootstrap interval over markets "
        f"({report.options.bootstrap_draws} draws; never narrower than Student's t over their "
        "resolution days):",
        *interval_table(report),
        "",
        verdict(report),
    ]
    return "\n".join(lines)
