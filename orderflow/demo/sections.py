"""The report's newer sections, shared by the console and the HTML report.

* the follower's fills against its leaders' (price and time), and the verdict's intervals, as
  charts;
* the score-quality table (AUC, Spearman, top-tier precision and recall, market makers and wash
  wallets in the top tiers, the forward test);
* the flagged wallets, with the reputation run's evidence and the hidden style beside them.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from statistics import median

from orderflow.backtest.book import SignalRecord
from orderflow.backtest.report import num, pct
from orderflow.backtest.verdict import FollowerVerdict, Interval
from orderflow.demo.pipeline import DemoResult
from orderflow.demo.store import FlaggedWallet
from orderflow.demo.svg import PALETTE, ErrorBar, Point, interval_chart, scatter_chart
from orderflow.demo.wallet_tables import EDGE_HEAD, edge_cells
from orderflow.durations import format_duration
from orderflow.sim import ScoreQuality, Truth

LEADER_COLOR = PALETTE[6]


def _entries(result: DemoResult, follower: int = 0) -> list[SignalRecord]:
    run = result.backtest.result.runs[follower]
    return [
        s for s in run.book.signals if s.status == "EXECUTED" and s.is_entry and s.price is not None
    ]


def fills_chart(result: DemoResult) -> str:
    """Every follower's entries: the leader's fill (grey) and ours (the follower's colour), in
    time and price, joined by a line — the latency and the book moved us from one to the other."""
    t0 = result.backtest.result.start.timestamp()
    points: list[Point] = []
    segments: list[tuple[Point, Point]] = []
    runs = result.backtest.result.runs
    for i, run in enumerate(runs):
        for s in _entries(result, i):
            assert s.price is not None and s.trigger_time is not None
            filled = s.first_fill or s.time
            delay = (filled - s.trigger_time).total_seconds()
            leader = Point(
                (s.trigger_time.timestamp() - t0) / 86_400,
                float(s.trigger_price),
                LEADER_COLOR,
                f"leader {s.wallet} {s.side} at {s.trigger_price} "
                f"({s.trigger_time:%Y-%m-%d %H:%M:%S})",
            )
            ours = Point(
                (filled.timestamp() - t0) / 86_400,
                float(s.price),
                PALETTE[i],
                f"{run.follower.name}: {s.shares:.2f} shares at {s.price} (limit "
                f"{s.limit_price}), {delay:.0f} s later, {s.levels} level(s) of the book",
            )
            points += [leader, ours]
            segments.append((leader, ours))
    legend = [("leader's fill", LEADER_COLOR)]
    legend += [(f"{run.follower.name} fill", PALETTE[i]) for i, run in enumerate(runs)]
    return scatter_chart(
        "Followers' fills against their leaders' (price and time)",
        points,
        x_label=f"days since {result.backtest.result.start:%Y-%m-%d}",
        y_label="price per share",
        legend=legend,
        segments=segments,
    )


def slippage_chart(result: DemoResult) -> str:
    """Our average price against the leader's, every follower: above the diagonal we paid more."""
    points = []
    for i, run in enumerate(result.backtest.result.runs):
        for s in _entries(result, i):
            assert s.price is not None
            points.append(
                Point(
                    float(s.trigger_price),
                    float(s.price),
                    PALETTE[i],
                    f"{run.follower.name}: leader {s.trigger_price}, ours {s.price}",
                )
            )
    legend = [(run.follower.name, PALETTE[i]) for i, run in enumerate(result.backtest.result.runs)]
    return scatter_chart(
        "Price we paid against the leader's price (dashed: the same price)",
        points,
        x_label="leader's price",
        y_label="our average fill price",
        legend=legend,
        diagonal=True,
    )


def fill_summary(result: DemoResult) -> str:
    entries = _entries(result)
    ex = result.backtest.result.execution
    if not entries:
        return (
            f"The strategy filled nothing (latency {format_duration(ex.latency)}, book window "
            f"{format_duration(ex.window)})."
        )
    diffs = [float((s.price or s.trigger_price) - s.trigger_price) for s in entries]
    levels = [s.levels for s in entries]
    waits = [((s.first_fill or s.time) - s.time).total_seconds() for s in entries]
    return (
        f"{len(entries)} strategy fills, each ordered {format_duration(ex.latency)} after its "
        f"leader and resting up to {format_duration(ex.window)} for the book the chain reveals: "
        f"first filled {_wait(median(waits))} after the order (median), median price above the "
        f"leader's {median(diffs):+.3f} per share (range {min(diffs):+.3f} to "
        f"{max(diffs):+.3f}), {median(levels):g} book level(s) met (median)."
    )


def _wait(secs: float) -> str:
    """A wait in whole seconds under a minute, else in whole minutes (0 s: on arrival)."""
    return format_duration(timedelta(seconds=round(secs) if secs < 60 else round(secs / 60) * 60))


def verdict_chart(verdicts: Sequence[FollowerVerdict], title: str) -> str:
    bars = [
        ErrorBar(
            v.name,
            (v.interval.estimate or 0.0) * 100,
            None if v.interval.low is None else v.interval.low * 100,
            None if v.interval.high is None else v.interval.high * 100,
            PALETTE[i],
        )
        for i, v in enumerate(verdicts)
        if v.interval.estimate is not None
    ]
    return interval_chart(title, bars, y_label="P&L per dollar staked, %")


def _ci(i: Interval) -> str:
    if i.low is None or i.high is None:
        return "n/a"
    return f"[{i.low * 100:+.1f}%, {i.high * 100:+.1f}%]"


def interval_rows(verdicts: Sequence[FollowerVerdict]) -> list[list[str]]:
    rows = []
    for v in verdicts:
        i = v.interval
        est = "n/a" if i.estimate is None else f"{i.estimate * 100:+.1f}%"
        rows.append([v.name, est, _ci(i), str(i.markets), v.verdict])
        for c in v.comparisons:
            d = c.difference
            diff = "n/a" if d.estimate is None else f"{d.estimate * 100:+.1f}%"
            rows.append([f"  minus {c.baseline}", diff, _ci(d), str(d.markets), c.words])
    return rows


def quality_rows(result: DemoResult) -> list[list[str]]:
    """[measure, value, what it means] for the score-quality table."""
    q = result.quality
    auc = "n/a" if q.auc is None else f"{q.auc:.2f} ± {q.auc_se or 0:.2f}"
    rows = [
        [
            "AUC, skilled vs not",
            auc,
            f"P(a truly skilled wallet outscores an unskilled one); 0.5 is a coin "
            f"({q.skilled_wallets} skilled of {q.wallets_scored} scored)",
        ],
        ["Spearman(score, hidden skill)", num(q.spearman), "rank agreement over all scored"],
        [
            "top-tier precision",
            f"{q.top_tier_truly_skilled}/{q.top_tier_wallets} ({pct(q.top_tier_precision)})",
            "WHALE/SMART wallets that are truly skilled",
        ],
        [
            "top-tier recall",
            f"{q.skilled_in_top_tier}/{q.skilled_wallets} ({pct(q.skilled_recall)})",
            "truly skilled wallets that reached WHALE/SMART",
        ],
        *trap_rows(q),
    ]
    f = result.forward
    if f is not None:
        rows += [
            [
                "forward test: Spearman",
                num(f.spearman),
                f"score as of {f.as_of:%Y-%m-%d} against the return per dollar each wallet "
                f"realised after it ({f.wallets} wallets with >= {f.min_buys} resolved buys)",
            ],
            [
                "forward test: top tiers",
                f"{_pct(f.top_tier)} {_ci(f.top_tier)}" if f.top_tier_wallets else "none then",
                f"pooled realised return per dollar of the {f.top_tier_wallets} WHALE/SMART "
                f"wallets as of {f.as_of:%Y-%m-%d}, 95% CI over the markets they bought in",
            ],
            [
                "forward test: everyone else",
                f"{_pct(f.others)} {_ci(f.others)}",
                "the same for every other wallet",
            ],
        ]
    return rows


def trap_rows(q: ScoreQuality) -> list[list[str]]:
    """A row per trap the world holds: how many of its scored wallets reached WHALE/SMART; and
    the partisans in DEGEN, whom the strategy would fade."""
    rows = [
        [f"{c.label} in the top tiers", f"{c.top_tier} of {c.scored}", c.why]
        for c in q.traps
        if c.scored
    ]
    partisans = next((c.scored for c in q.traps if c.label == "partisans"), 0)
    if partisans:
        rows.append(
            [
                "partisans in DEGEN",
                f"{q.partisans_in_degen} of {partisans}",
                "they lost with the factor: fading them is a bet on it, not on a forecast",
            ]
        )
    return rows


def _pct(i: Interval) -> str:
    return "n/a" if i.estimate is None else f"{i.estimate * 100:+.1f}%"


def _f(value: float | None, fmt: str) -> str:
    return "-" if value is None else format(value, fmt)


FLAGGED_HEAD = [
    "wallet",
    "flags",
    "tier",
    "score",
    *EDGE_HEAD,
    "P(edge > cost)",
    "P(edge < 0)",
    "events",
    "CLV",
    "maker share",
    "hidden style",
    "hidden skill",
    "wash ring",
]


def flagged_rows(flagged: Sequence[FlaggedWallet], truth: Truth) -> list[list[str]]:
    """The reputation run's columns for each flagged wallet, the truth file's beside them."""
    tw = truth.wallet_map()
    rows = []
    for w in flagged:
        t = tw.get(w.address)
        ring = getattr(t, "wash_ring", None)
        showcase = " (showcase)" if getattr(t, "showcase", False) else ""
        rows.append(
            [
                w.address,
                ",".join(w.flags),
                w.tier or "-",
                _f(w.score, ".2f"),
                *edge_cells(w.edge, w.edge_se, w.measured, w.measured_se),
                _f(w.p_edge_above_cost, ".2f"),
                _f(w.p_edge_below_zero, ".2f"),
                str(w.events_resolved),
                _f(w.clv_edge, "+.3f"),
                _f(w.maker_volume_share, ".2f"),
                "?" if t is None else t.style,
                "-" if t is None or t.skill is None else f"{t.skill:.2f}",
                "-" if ring is None else f"{ring}{showcase}",
            ]
        )
    return rows
