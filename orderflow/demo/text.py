"""The demo's console report: what ran, who scored high (beside the hidden truth), what it paid."""

from __future__ import annotations

from decimal import Decimal

from orderflow.backtest.report import money, num, pct, render
from orderflow.demo.pipeline import DEMO_STRATEGY, DemoResult
from orderflow.demo.store import redact
from orderflow.reputation import WalletScore

TOP_WALLETS = 15


def top_wallets(result: DemoResult, n: int = TOP_WALLETS) -> list[WalletScore]:
    return sorted(result.scores.values(), key=lambda s: (-s.score, s.wallet_address))[:n]


def _wallet_lines(result: DemoResult) -> list[str]:
    truth = result.truth.wallet_map()
    head = (
        f"{'wallet':<14}{'tier':<9}{'score':>6}{'resolved':>9}{'wins':>6}{'edge':>8}"
        f"   {'hidden style':<14}{'skill':>6}"
    )
    lines = [head, "-" * len(head)]
    for s in top_wallets(result):
        t = truth.get(s.wallet_address)
        skill = "-" if t is None or t.skill is None else f"{t.skill:.2f}"
        style = "?" if t is None else t.style
        lines.append(
            f"{s.wallet_address[:12]}… {s.tier:<9}{s.score:>6.2f}{s.resolved_positions:>9}"
            f"{s.wins:>6}{s.edge:>+8.3f}   {style:<14}{skill:>6}"
        )
    return lines


def _positions_lines(result: DemoResult) -> list[str]:
    run = result.backtest.result.runs[0]
    executed = [s for s in run.book.signals if s.status == "EXECUTED" and s.is_entry]
    best = sorted(executed, key=lambda s: s.pnl or Decimal(0), reverse=True)
    lines = [
        f"Strategy '{DEMO_STRATEGY}' positions: {len(run.book.closed)} closed, "
        f"{len(run.book.open)} open at the end (marked at the last traded price)."
    ]
    for s in best[:3] + best[-3:] if len(best) > 6 else best:
        state = "closed" if s.closed_at else "open"
        lines.append(
            f"  {s.signal_type:<12} {s.wallet[:12]}… {s.shares:>9} sh @ {s.price} "
            f"-> {money(s.pnl or Decimal(0))} ({state})"
        )
    return lines


def _over_time(result: DemoResult) -> str:
    steps = result.quality_over_time
    if not steps:
        return "n/a"
    stride = max(1, len(steps) // 4)
    return "; ".join(
        f"{s.as_of:%b %d} rho {num(s.quality.spearman)}, top tiers "
        f"{s.quality.top_tier_truly_skilled}/{s.quality.top_tier_wallets} skilled"
        for s in steps[stride - 1 :: stride][-4:]
    )


def render_text(result: DemoResult, html_path: str) -> str:
    q = result.quality
    ing = result.ingest
    sim = result.sim
    lines = [
        f"orderflow demo — seed {sim.seed}, {sim.days:g} days, {sim.markets} markets, "
        f"{sim.wallets} wallets, exchange {sim.exchange.upper()}",
        f"  simulated {result.logs} raw logs -> {result.logs_path}",
        f"  ingested through the listener's file path: {ing.stored.trades} trades, "
        f"{ing.stored.matches} matches, {ing.stored.conditions} conditions, "
        f"{ing.stored.outcomes} resolutions, {ing.stored.dead_letters} dead letters",
        f"  scored {len(result.scores)} wallets (reputation, as of the end of the history)",
        "  timings: " + ", ".join(f"{k} {v:.1f}s" for k, v in result.timings.items()),
        "",
        f"Top {TOP_WALLETS} wallets by score, with the hidden truth beside them:",
        *_wallet_lines(result),
        "",
        f"Score quality against the hidden truth: Spearman(score, skill) = {num(q.spearman)} "
        f"over {q.wallets_scored} wallets; WHALE/SMART wallets truly skilled: "
        f"{q.top_tier_truly_skilled}/{q.top_tier_wallets} ({pct(q.top_tier_precision)}); "
        f"skilled wallets reaching WHALE/SMART: {q.skilled_in_top_tier}/{q.skilled_wallets} "
        f"({pct(q.skilled_recall)}).",
        "Score quality as known during the replay (scores as of each step): " + _over_time(result),
        "",
        "Paper trading replay (the executor's decision code, walk-forward, scores as of each "
        "step):",
        render(result.backtest),
        "",
        *_positions_lines(result),
        "",
        f"HTML report with charts: {html_path}",
        f"Demo database: {redact(result.database_dsn)}",
        "  explore it: DATABASE_URL='<that URL>' orderflow wallet <ADDRESS>",
    ]
    return "\n".join(lines)
