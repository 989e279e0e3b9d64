"""The demo's HTML report: one self-contained file, charts as inline SVG, no script, no network.

Charts: the verdict's intervals (this seed, and pooled over the seeds run); the strategy's fills
against its leaders' in time and price; price paid against the leader's price; equity curves of
the strategy and both baselines; P&L by signal type; reputation score against hidden skill (one
dot per wallet, coloured by hidden style); score quality at each step. Tables: the intervals,
the followers' summary, score quality (with the forward test), the flagged wallets with their
hidden style, the top wallets, the strategy's positions. Everything is escaped: wallet addresses
and reasons come from data.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from html import escape

from orderflow.backtest.metrics import RunSummary
from orderflow.backtest.quality import StepQuality
from orderflow.backtest.report import money, num, pct, verdict
from orderflow.backtest.verdict import sentence
from orderflow.demo.pipeline import DemoResult
from orderflow.demo.sections import (
    FLAGGED_HEAD,
    fill_summary,
    fills_chart,
    flagged_rows,
    interval_rows,
    quality_rows,
    slippage_chart,
    verdict_chart,
)
from orderflow.demo.svg import PALETTE, Point, Series, bar_chart, line_chart, scatter_chart
from orderflow.demo.wallet_tables import WALLET_HEAD, prior_line, top_wallets, wallet_rows

STYLE_COLORS = {
    "skilled": PALETTE[2],
    "retail": PALETTE[0],
    "lucky": PALETTE[1],
    "whale": PALETTE[4],
    "panic": PALETTE[3],
    "panic_seller": PALETTE[3],
    "market_maker": PALETTE[6],
    "penny_picker": PALETTE[5],
    "wash": "#e377c2",
}

CSS = """
body{font-family:sans-serif;max-width:980px;margin:2em auto;color:#222}
table{border-collapse:collapse;margin:1em 0;font-size:13px}
th,td{border-bottom:1px solid #ddd;padding:4px 8px;text-align:right}
th:first-child,td:first-child{text-align:left}
.note{color:#555;font-size:13px}
code{background:#f4f4f4;padding:1px 4px}
table.text td:last-child,table.text th:last-child{text-align:left}
table.narrow{font-size:12px}
"""


def _table(head: list[str], rows: list[list[str]], cls: str = "") -> str:
    th = "".join(f"<th>{escape(h)}</th>" for h in head)
    body = "".join(
        "<tr>" + "".join(f"<td>{escape(cell)}</td>" for cell in row) + "</tr>" for row in rows
    )
    klass = f" class='{cls}'" if cls else ""
    return f"<table{klass}><tr>{th}</tr>{body}</table>"


def equity_chart(result: DemoResult) -> str:
    runs = result.backtest.result.runs
    t0 = runs[0].equity[0][0].timestamp()
    series = [
        Series(
            run.follower.name,
            [((t.timestamp() - t0) / 86_400, float(v)) for t, v in run.equity],
            PALETTE[i],
        )
        for i, run in enumerate(runs)
    ]
    return line_chart(
        "Equity: strategy vs baselines (USDC)",
        series,
        x_label=f"days since {datetime.fromtimestamp(t0).date().isoformat()}",
        y_label="equity, USDC",
    )


def skill_chart(result: DemoResult) -> str:
    truth = result.truth.wallet_map()
    points = []
    for s in result.scores.values():
        t = truth.get(s.wallet_address)
        if t is None or t.skill is None:
            continue
        points.append(
            Point(
                t.skill,
                float(s.score),
                STYLE_COLORS.get(t.style, "#17becf"),
                f"{s.wallet_address} {t.style} skill {t.skill:.2f} score {s.score} {s.tier}",
            )
        )
    present = {t.style for t in truth.values() if t.skill is not None}
    legend = [(k, v) for k, v in STYLE_COLORS.items() if k in present]
    return scatter_chart(
        "Reputation score vs hidden skill (one dot per wallet)",
        points,
        x_label="hidden skill (information edge in probability units; 0 = knows nothing the "
        "market does not)",
        y_label="reputation score (0-10)",
        legend=legend,
    )


def quality_chart(result: DemoResult) -> str:
    steps = result.quality_over_time
    if not steps:
        return ""
    t0 = steps[0].as_of.timestamp()

    def day(s: StepQuality) -> float:
        return (s.as_of.timestamp() - t0) / 86_400

    rho = [(day(s), s.quality.spearman) for s in steps if s.quality.spearman is not None]
    precision = [
        (day(s), s.quality.top_tier_precision)
        for s in steps
        if s.quality.top_tier_precision is not None
    ]
    roc = [(day(s), s.quality.auc) for s in steps if s.quality.auc is not None]
    return line_chart(
        "Score quality as known at each step (no look-ahead)",
        [
            Series("AUC, skilled vs not", roc, PALETTE[1]),
            Series("Spearman(score, skill)", rho, PALETTE[0]),
            Series("share of WHALE/SMART truly skilled", precision, PALETTE[2]),
        ],
        x_label=f"days since {steps[0].as_of.date().isoformat()}",
        y_label="correlation / share",
    )


def pnl_chart(summaries: list[RunSummary]) -> str:
    bars = [(name, float(t.pnl)) for s in summaries for name, t in sorted(s.by_type.items())]
    return bar_chart("P&L by signal type (USDC)", bars, y_label="P&L, USDC")


def _summary_rows(summaries: list[RunSummary]) -> list[list[str]]:
    return [
        [
            s.name,
            str(s.signals),
            str(s.executed),
            str(s.positions_closed),
            pct(s.win_rate),
            money(s.pnl),
            pct(s.return_on_stake),
            num(s.sharpe),
            money(-s.max_drawdown_usdc),
        ]
        for s in summaries
    ]


def _signal_rows(result: DemoResult) -> list[list[str]]:
    run = result.backtest.result.runs[0]
    executed = [s for s in run.book.signals if s.status == "EXECUTED" and s.is_entry]
    return [
        [
            s.time.strftime("%Y-%m-%d %H:%M"),
            s.signal_type,
            s.wallet,
            f"{s.wallet_score:.2f}" if s.wallet_score is not None else "-",
            str(s.price),
            f"{s.shares:.2f}",
            money(s.pnl or Decimal(0)),
            "closed" if s.closed_at else "open",
        ]
        for s in executed
    ]


INTERVAL_HEAD = ["follower", "P&L per $ staked", "95% interval", "markets", "verdict"]


def _verdict_section(result: DemoResult) -> list[str]:
    report = result.backtest
    out = [
        "<h2>Would following the scores have paid?</h2>",
        f"<p><b>{escape(verdict(report))}</b></p>",
        "<p class='note'>The interval is a bootstrap over markets (positions in one market win "
        "or lose together); PAID or LOST only when the whole interval is on one side of zero, "
        "INCONCLUSIVE otherwise. Baselines are compared on the same markets drawn.</p>",
        _table(INTERVAL_HEAD, interval_rows(report.verdicts)),
        verdict_chart(report.verdicts, f"Return per dollar staked, seed {result.sim.seed}"),
    ]
    if result.seeds_skipped:
        skipped = ", ".join(str(s) for s in result.seeds_skipped)
        out.append(
            f"<p class='note'>Seeds {escape(skipped)} were not run: the demo keeps to its time "
            "(an explicit <code>--seeds N</code> runs them all).</p>"
        )
    if len(result.seeds) > 1:
        seeds = ", ".join(str(s) for s in result.seeds)
        pooled = result.pooled
        out += [
            f"<h3>Pooled over seeds {escape(seeds)}</h3>",
            f"<p><b>{escape(sentence(pooled))}</b></p>",
            _table(INTERVAL_HEAD, interval_rows(pooled)),
            verdict_chart(pooled, f"Return per dollar staked, seeds {seeds} pooled"),
        ]
    return out


def _flagged_section(result: DemoResult) -> list[str]:
    out = ["<h2>Flagged wallets, with the hidden truth beside them</h2>"]
    if not result.flagged:
        out.append(
            "<p class='note'>The reputation run flagged no wallet (market maker, wash, penny "
            "picker) in this history.</p>"
        )
        return out
    out.append(
        "<p class='note'>Addresses shortened; the full ones are in the demo database: "
        "<code>SELECT wallet_address, flags FROM orderflow_wallet_stats WHERE "
        "cardinality(flags) &gt; 0</code>.</p>"
    )
    rows = flagged_rows(result.flagged, result.truth)
    for row in rows:
        row[0] = f"{row[0][:10]}…{row[0][-4:]}"
    out.append(_table(FLAGGED_HEAD, rows, "narrow"))
    return out


def render_html(result: DemoResult) -> str:
    summaries = result.backtest.summaries
    sim = result.sim
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        "<title>orderflow demo report</title>",
        f"<style>{CSS}</style></head><body>",
        "<h1>orderflow demo</h1>",
        f"<p class='note'>Seed {sim.seed}: {sim.days:g} simulated days, {sim.markets} markets, "
        f"{sim.wallets} wallets on the {escape(sim.exchange.upper())} exchanges; "
        f"{result.logs} raw logs ingested through the listener's file path; "
        f"{len(result.scores)} wallets scored. The paper strategy is the executor's decision "
        "code replayed walk-forward: scores as of each step's start, resolutions only once "
        "they happened.</p>",
        *_verdict_section(result),
        "<h2>How the follower traded</h2>",
        f"<p>{escape(fill_summary(result))}</p>",
        fills_chart(result),
        slippage_chart(result),
        _table(
            [
                "follower",
                "signals",
                "filled",
                "closed",
                "win rate",
                "P&L USDC",
                "on stake",
                "Sharpe",
                "max drawdown",
            ],
            _summary_rows(summaries),
        ),
        equity_chart(result),
        pnl_chart(summaries),
        "<h2>Does the score find skill?</h2>",
        _table(["measure", "value", "what it means"], quality_rows(result), "text"),
        skill_chart(result),
        quality_chart(result),
        *_flagged_section(result),
        "<h2>Top wallets, with the hidden truth beside them</h2>",
        _table(WALLET_HEAD, wallet_rows(top_wallets(result), result.truth)),
        f"<p class='note'>{escape(prior_line(result.prior, result.prior_floor))}</p>",
        "<h2>Strategy positions</h2>",
        _table(
            ["time", "signal", "followed wallet", "score", "price", "shares", "P&L", "state"],
            _signal_rows(result),
        ),
        "</body></html>",
    ]
    return "\n".join(parts)
