"""Three small chart kinds as inline SVG strings: no JavaScript, no CDN, viewable offline.

Hand-written rather than matplotlib: the report needs a line chart, a scatter and a bar chart,
which are a few dozen lines of SVG each, and the package stays free of a plotting dependency.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

WIDTH, HEIGHT = 720, 320
LEFT, RIGHT, TOP, BOTTOM = 70, 20, 30, 45
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#7f7f7f")


@dataclass(frozen=True, slots=True)
class Series:
    name: str
    points: Sequence[tuple[float, float]]
    color: str = PALETTE[0]


@dataclass(frozen=True, slots=True)
class Point:
    x: float
    y: float
    color: str
    label: str


def _nice_range(lo: float, hi: float) -> tuple[float, float]:
    if lo == hi:
        return lo - 1.0, hi + 1.0
    pad = (hi - lo) * 0.05
    return lo - pad, hi + pad


def nice_ticks(lo: float, hi: float, count: int = 7) -> list[float]:
    """Round tick values (1, 2 or 5 times a power of ten apart) inside ``[lo, hi]``."""
    raw = (hi - lo) / max(1, count - 1)
    power = 10 ** math.floor(math.log10(raw)) if raw > 0 else 1.0
    step = min((m * power for m in (1, 2, 2.5, 5, 10)), key=lambda c: abs(c - raw))
    first = math.ceil(lo / step) * step
    ticks = []
    value = first
    while value <= hi + step * 1e-9:
        ticks.append(0.0 if abs(value) < step * 1e-9 else value)
        value += step
    return ticks


def _frame(
    title: str,
    x_label: str,
    y_label: str,
    x: tuple[float, float],
    y: tuple[float, float],
    x_ticks: Sequence[tuple[float, str]] | None = None,
) -> list[str]:
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'width="{WIDTH}" height="{HEIGHT}" role="img" aria-label="{escape(title)}">',
        '<rect width="100%" height="100%" fill="white"/>',
        f'<text x="{WIDTH / 2}" y="18" text-anchor="middle" font-size="14" '
        f'font-family="sans-serif">{escape(title)}</text>',
        f'<text x="{WIDTH / 2}" y="{HEIGHT - 6}" text-anchor="middle" font-size="11" '
        f'font-family="sans-serif">{escape(x_label)}</text>',
        f'<text x="14" y="{HEIGHT / 2}" text-anchor="middle" font-size="11" '
        f'font-family="sans-serif" transform="rotate(-90 14 {HEIGHT / 2})">'
        f"{escape(y_label)}</text>",
    ]
    for value in nice_ticks(*y):
        py = _py(value, y)
        out.append(
            f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{py:.1f}" y2="{py:.1f}" stroke="#e5e5e5"/>'
        )
        out.append(
            f'<text x="{LEFT - 6}" y="{py + 4:.1f}" text-anchor="end" font-size="10" '
            f'font-family="sans-serif">{_fmt(value)}</text>'
        )
    ticks = x_ticks or [(value, _fmt(value)) for value in nice_ticks(*x)]
    for value, label in ticks:
        px = _px(value, x)
        out.append(
            f'<text x="{px:.1f}" y="{HEIGHT - BOTTOM + 16}" text-anchor="middle" font-size="10" '
            f'font-family="sans-serif">{escape(label)}</text>'
        )
    out.append(
        f'<rect x="{LEFT}" y="{TOP}" width="{WIDTH - LEFT - RIGHT}" '
        f'height="{HEIGHT - TOP - BOTTOM}" fill="none" stroke="#999"/>'
    )
    return out


def _fmt(value: float) -> str:
    if float(value).is_integer():
        return f"{value:,.0f}"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.0f}"
    return f"{value:.2f}"


def _px(value: float, x: tuple[float, float]) -> float:
    return LEFT + (value - x[0]) / (x[1] - x[0]) * (WIDTH - LEFT - RIGHT)


def _py(value: float, y: tuple[float, float]) -> float:
    return HEIGHT - BOTTOM - (value - y[0]) / (y[1] - y[0]) * (HEIGHT - TOP - BOTTOM)


def _legend(items: Sequence[tuple[str, str]]) -> list[str]:
    out = []
    for i, (name, color) in enumerate(items):
        y = TOP + 12 + i * 14
        out.append(f'<rect x="{LEFT + 8}" y="{y - 8}" width="10" height="10" fill="{color}"/>')
        out.append(
            f'<text x="{LEFT + 22}" y="{y + 1}" font-size="10" font-family="sans-serif">'
            f"{escape(name)}</text>"
        )
    return out


def line_chart(
    title: str,
    series: Sequence[Series],
    *,
    x_label: str,
    y_label: str,
    x_ticks: Sequence[tuple[float, str]] | None = None,
) -> str:
    xs = [p[0] for s in series for p in s.points]
    ys = [p[1] for s in series for p in s.points]
    if not xs:
        return empty_chart(title)
    x, y = _nice_range(min(xs), max(xs)), _nice_range(min(ys), max(ys))
    out = _frame(title, x_label, y_label, x, y, x_ticks)
    for s in series:
        path = " ".join(f"{_px(px, x):.1f},{_py(py, y):.1f}" for px, py in s.points)
        out.append(f'<polyline points="{path}" fill="none" stroke="{s.color}" stroke-width="2"/>')
    out += _legend([(s.name, s.color) for s in series])
    out.append("</svg>")
    return "\n".join(out)


def scatter_chart(
    title: str,
    points: Sequence[Point],
    *,
    x_label: str,
    y_label: str,
    legend: Sequence[tuple[str, str]] = (),
    diagonal: bool = False,
    segments: Sequence[tuple[Point, Point]] = (),
) -> str:
    """One dot per point; ``diagonal`` draws y = x (e.g. "paid the leader's price");
    ``segments`` joins pairs of points (e.g. the leader's fill and ours) with a thin line."""
    if not points:
        return empty_chart(title)
    xs, ys = [p.x for p in points], [p.y for p in points]
    if diagonal:  # one scale for both axes, so y = x is the 45-degree line
        xs = ys = [min(*xs, *ys), max(*xs, *ys)]
    x = _nice_range(min(xs), max(xs))
    y = _nice_range(min(ys), max(ys))
    out = _frame(title, x_label, y_label, x, y)
    if diagonal:
        lo, hi = max(x[0], y[0]), min(x[1], y[1])
        out.append(
            f'<line x1="{_px(lo, x):.1f}" y1="{_py(lo, y):.1f}" x2="{_px(hi, x):.1f}" '
            f'y2="{_py(hi, y):.1f}" stroke="#999" stroke-dasharray="4 3"/>'
        )
    for a, b in segments:
        out.append(
            f'<line x1="{_px(a.x, x):.1f}" y1="{_py(a.y, y):.1f}" x2="{_px(b.x, x):.1f}" '
            f'y2="{_py(b.y, y):.1f}" stroke="#bbb"/>'
        )
    for p in points:
        out.append(
            f'<circle cx="{_px(p.x, x):.1f}" cy="{_py(p.y, y):.1f}" r="4" fill="{p.color}" '
            f'fill-opacity="0.75"><title>{escape(p.label)}</title></circle>'
        )
    out += _legend(legend)
    out.append("</svg>")
    return "\n".join(out)


def bar_chart(title: str, bars: Sequence[tuple[str, float]], *, y_label: str) -> str:
    if not bars:
        return empty_chart(title)
    values = [v for _, v in bars]
    y = _nice_range(min(0.0, *values), max(0.0, *values))
    n = len(bars)
    x = (0.0, float(n))
    ticks = [(i + 0.5, name) for i, (name, _) in enumerate(bars)]
    out = _frame(title, "", y_label, x, y, ticks)
    zero = _py(0.0, y)
    width = (WIDTH - LEFT - RIGHT) / n * 0.6
    for i, (name, value) in enumerate(bars):
        cx = _px(i + 0.5, x)
        top = min(zero, _py(value, y))
        color = PALETTE[2] if value >= 0 else PALETTE[3]
        out.append(
            f'<rect x="{cx - width / 2:.1f}" y="{top:.1f}" width="{width:.1f}" '
            f'height="{abs(_py(value, y) - zero):.1f}" fill="{color}">'
            f"<title>{escape(name)}: {value:,.2f}</title></rect>"
        )
    out.append(
        f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{zero:.1f}" y2="{zero:.1f}" stroke="#333"/>'
    )
    out.append("</svg>")
    return "\n".join(out)


@dataclass(frozen=True, slots=True)
class ErrorBar:
    name: str
    estimate: float
    low: float | None
    high: float | None
    color: str = PALETTE[0]


def interval_chart(title: str, bars: Sequence[ErrorBar], *, y_label: str) -> str:
    """A point estimate per category with its interval as a vertical bar; a line at zero."""
    if not bars:
        return empty_chart(title)
    values = [0.0]
    for b in bars:
        values += [b.estimate] + [v for v in (b.low, b.high) if v is not None]
    y = _nice_range(min(values), max(values))
    n = len(bars)
    x = (0.0, float(n))
    ticks = [(i + 0.5, b.name) for i, b in enumerate(bars)]
    out = _frame(title, "", y_label, x, y, ticks)
    zero = _py(0.0, y)
    out.append(
        f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{zero:.1f}" y2="{zero:.1f}" stroke="#333"/>'
    )
    for i, b in enumerate(bars):
        cx = _px(i + 0.5, x)
        if b.low is not None and b.high is not None:
            top, bottom = _py(b.high, y), _py(b.low, y)
            out.append(
                f'<path d="M{cx:.1f},{top:.1f} V{bottom:.1f} M{cx - 8:.1f},{top:.1f} '
                f'H{cx + 8:.1f} M{cx - 8:.1f},{bottom:.1f} H{cx + 8:.1f}" stroke="{b.color}" '
                f'stroke-width="2" fill="none"><title>{escape(b.name)}: '
                f"{b.low:,.3f} to {b.high:,.3f}</title></path>"
            )
        out.append(
            f'<circle cx="{cx:.1f}" cy="{_py(b.estimate, y):.1f}" r="5" fill="{b.color}">'
            f"<title>{escape(b.name)}: {b.estimate:,.3f}</title></circle>"
        )
    out.append("</svg>")
    return "\n".join(out)


def empty_chart(title: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} 60" width="{WIDTH}" '
        f'height="60"><text x="10" y="30" font-family="sans-serif" font-size="13">'
        f"{escape(title)}: no data</text></svg>"
    )
