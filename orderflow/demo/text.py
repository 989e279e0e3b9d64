"""The demo's console report: what ran, who scored high (beside the hidden truth), what it paid."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from orderflow.backtest.report import money, num, render
from orderflow.backtest.verdict import sentence
from orderflow.demo.pipeline import DEMO_STRATEGY, DemoResult
from orderflow.demo.sections import (
    FLAGGED_HEAD,
    fill_summary,
    flagged_rows,
    interval_rows,
    quality_rows,
)
from orderflow.demo.store import FlaggedWallet, redact
from orderflow.demo.wallet_tables import (
    EDGE_HEAD,
    TOP_WALLETS,
    prior_line,
    top_wallets,
    wallet_rows,
)
from orderflow.sim import Truth

FLAGGED_LINES = 15


def short(address: str) -> str:
    """An address as the console prints it (``orderflow wallet`` takes it as printed)."""
    return f"{address[:12]}…"


def _edge(posterior: str, sd: str, measured: str, measured_se: str) -> str:
    """The posterior ± its sd, the measured edge ± its se beside it ("-": none)."""
    return _pm(posterior, sd) + _pm(measured, measured_se)


def _pm(value: str, spread: str) -> str:
    return f"{value:>7} ±{spread:<6}" if spread != "-" else f"{value:>7}{'':<8}"


EDGE_TITLE = f" {'posterior ± sd':<14} {'measured ± se':<14}"  # over _edge's columns


def _wallet_lines(result: DemoResult) -> list[str]:
    head = (
        f"{'wallet':<14}{'tier':<9}{'score':>6}{'resolved':>9}{'wins':>6}{EDGE_TITLE}"
        f"   {'hidden style':<14}{'skill':>6}"
    )
    lines = [head, "-" * len(head)]
    for r in wallet_rows(top_wallets(result), result.truth):
        lines.append(
            f"{short(r[0])} {r[1]:<9}{r[2]:>6}{r[3]:>9}{r[4]:>6}{_edge(*r[5:9])}"
            f"   {r[9]:<14}{r[10]:>6}"
        )
    return [*lines, prior_line(result.prior, result.prior_floor)]


def _positions_lines(result: DemoResult) -> list[str]:
    run = result.backtest.result.runs[0]
    executed = [s for s in run.book.signals if s.status == "EXECUTED" and s.is_entry]
    best = sorted(executed, key=lambda s: s.pnl or Decimal(0), reverse=True)
    lines = [
        f"Strategy '{DEMO_STRATEGY}' positions: {len(run.book.closed)} closed, "
        f"{len(run.book.open)} open at the end (marked at their tape price: the median of the"
        " last five distinct pairs' prints)."
    ]
    for s in best[:3] + best[-3:] if len(best) > 6 else best:
        state = "closed" if s.closed_at else "open"
        lines.append(
            f"  {s.signal_type:<12} {short(s.wallet)} {s.shares:>9.2f} sh @ {s.price} "
            f"-> {money(s.pnl or Decimal(0))} ({state})"
        )
    return lines


def _over_time(result: DemoResult) -> str:
    steps = result.quality_over_time
    if not steps:
        return "n/a"
    stride = max(1, len(steps) // 4)
    return "; ".join(
        f"{s.as_of:%b %d} AUC {num(s.quality.auc)}, rho {num(s.quality.spearman)}, top tiers "
        f"{s.quality.top_tier_truly_skilled}/{s.quality.top_tier_wallets} skilled"
        for s in steps[stride - 1 :: stride][-4:]
    )


def _quality_lines(result: DemoResult) -> list[str]:
    rows = quality_rows(result)
    width = max(len(r[0]) for r in rows)
    return [f"  {m:<{width}}  {v:<24} {what}" for m, v, what in rows]


def flagged_lines(flagged: Sequence[FlaggedWallet], truth: Truth) -> list[str]:
    """The flagged wallets' table, the first ``FLAGGED_LINES`` of them."""
    if not flagged:
        return ["Flagged wallets: none in this history."]
    lines = [f"Flagged wallets ({len(flagged)}), with the hidden style beside them:"]
    rows = flagged_rows(flagged[:FLAGGED_LINES], truth)
    flags = max(26, *(len(r[1]) + 2 for r in rows))  # several flags never run into the tier
    head = f"  {'wallet':<14}{'flags':<{flags}}{'tier':<9}{'score':>6}{EDGE_TITLE}{'maker':>7}"
    lines.append(head + f"   {'hidden style':<14}{'skill':>6}  ring")
    col = {name: i for i, name in enumerate(FLAGGED_HEAD)}
    edge = col[EDGE_HEAD[0]]
    for r in rows:
        lines.append(
            f"  {short(r[0])} {r[1]:<{flags}}{r[2]:<9}{r[3]:>6}{_edge(*r[edge : edge + 4])}"
            f"{r[col['maker share']]:>7}   {r[col['hidden style']]:<14}"
            f"{r[col['hidden skill']]:>6}  {r[col['wash ring']]}"
        )
    if len(flagged) > FLAGGED_LINES:
        lines.append(f"  … {len(flagged) - FLAGGED_LINES} more in the HTML report")
    return lines


def _pooled_lines(result: DemoResult) -> list[str]:
    if result.seeds_skipped:
        skipped = ", ".join(str(s) for s in result.seeds_skipped)
        note = [f"Seeds {skipped} not run: the demo's time budget was spent (see --seeds)."]
    else:
        note = []
    if len(result.seeds) < 2:
        return note
    seeds = ", ".join(str(s) for s in result.seeds)
    lines = [f"Pooled over seeds {seeds} (markets of every history, resampled together):"]
    for name, est, ci, markets, verdict in interval_rows(result.pooled):
        lines.append(f"  {name:<22}{est:>9}  {ci:<26}{markets:>6}  {verdict}")
    lines += [sentence(result.pooled), *note, ""]
    return lines


def render_text(result: DemoResult, html_path: str) -> str:
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
        "Score quality against the hidden truth:",
        *_quality_lines(result),
        "Score quality as known during the replay (scores as of each step): " + _over_time(result),
        "",
        *flagged_lines(result.flagged, result.truth),
        "",
        "Paper trading replay (the executor's decision code, walk-forward, scores as of each "
        "step):",
        render(result.backtest),
        "",
        "How the follower traded: " + fill_summary(result),
        "",
        *_positions_lines(result),
        "",
        *_pooled_lines(result),
        f"HTML report with charts: {html_path}",
        f"Demo database: {redact(result.database_dsn)}",
        explore_line(result),
    ]
    return "\n".join(lines)


def explore_line(result: DemoResult) -> str:
    """How to look at a wallet afterwards: ``orderflow wallet`` takes the address as printed."""
    top = top_wallets(result, 1)
    example = short(top[0].wallet_address) if top else "<ADDRESS>"
    return (
        f"  explore it: DATABASE_URL='<that URL>' orderflow wallet {example}  (any address as "
        "printed above, shortened or whole, when one scored wallet matches it; report.html has "
        "them in full)"
    )
