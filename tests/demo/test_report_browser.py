"""The demo's HTML report in a real browser: every chart is drawn.

Renders ``orderflow demo --small --seeds 2``'s report with headless Chromium (Debian's
``chromium``; ``.ci/run`` installs it) twice:

* ``--dump-dom``: the DOM the browser built holds every chart, and each chart's SVG has drawn
  marks with real coordinates (a polyline of at least two points, circles, bars, error bars) —
  not an empty frame or a "no data" placeholder;
* ``--screenshot`` of the charts stacked at known offsets: inside each chart's plot area the
  browser painted coloured pixels (the data; frames, grids and text are grey or black).

Chromium missing fails the test (it would otherwise pass vacuously in CI); set
``ORDERFLOW_SKIP_BROWSER=1`` to skip it on a machine without a browser, knowingly.
"""

from __future__ import annotations

import os
import re
import shutil
import struct
import subprocess
import uuid
import zlib
from html.parser import HTMLParser
from pathlib import Path

import pytest

from orderflow.cli import main
from orderflow.demo.svg import HEIGHT, LEFT, WIDTH

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def chromium() -> str:
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
    if os.environ.get("ORDERFLOW_SKIP_BROWSER") == "1":
        pytest.skip("ORDERFLOW_SKIP_BROWSER=1: no browser check")
    pytest.fail("chromium not found: apt-get install -y chromium (or ORDERFLOW_SKIP_BROWSER=1)")


def run_chromium(args: list[str], profile: Path) -> str:
    done = subprocess.run(
        [chromium(), *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


class ChartMarks(HTMLParser):
    """Per <svg> in the DOM: its title and the data marks drawn in it."""

    def __init__(self) -> None:
        super().__init__()
        self.charts: list[dict[str, object]] = []
        self._svg: dict[str, object] | None = None
        self._rect_open = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "svg":
            self._svg = {"title": a.get("aria-label", ""), "marks": 0, "height": a.get("height")}
            self.charts.append(self._svg)
            return
        if self._svg is None:
            return
        marks = int(str(self._svg["marks"]))
        if tag == "polyline":
            pairs = re.findall(r"-?[\d.]+,-?[\d.]+", a.get("points", ""))
            marks += len(pairs) >= 2
        elif tag == "circle":
            marks += _finite(a.get("cx")) and _finite(a.get("cy"))
        elif tag == "path":
            marks += bool(re.search(r"[MLHV]\s*-?[\d.]", a.get("d", "")))
        elif tag == "rect":
            self._rect_open = True  # a bar: counted when its <title> follows
            self._rect_height = a.get("height", "0")
        elif tag == "title" and self._rect_open:
            marks += _finite(self._rect_height) and float(self._rect_height) >= 0
        self._svg["marks"] = marks

    def handle_endtag(self, tag: str) -> None:
        if tag == "svg":
            self._svg = None
        elif tag == "rect":
            self._rect_open = False


def _finite(value: str | None) -> bool:
    try:
        return value is not None and abs(float(value)) < 1e6
    except ValueError:
        return False


def png_pixels(path: Path) -> tuple[int, int, list[bytes]]:
    """Width, height and raw RGB(A) rows of an 8-bit, non-interlaced PNG (what Chromium writes)."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, header = 8, b"", b""
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            header = body
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    width, height, depth, color, _, _, interlace = struct.unpack(">IIBBBBB", header)
    assert depth == 8 and interlace == 0 and color in (2, 6), (depth, color, interlace)
    bpp = 4 if color == 6 else 3
    raw = zlib.decompress(idat)
    stride = width * bpp
    rows: list[bytes] = []
    prev = bytearray(stride)
    i = 0
    for _ in range(height):
        row_filter, line = raw[i], bytearray(raw[i + 1 : i + 1 + stride])
        i += 1 + stride
        for x in range(stride):
            left = line[x - bpp] if x >= bpp else 0
            up = prev[x]
            corner = prev[x - bpp] if x >= bpp else 0
            if row_filter == 1:
                line[x] = (line[x] + left) & 0xFF
            elif row_filter == 2:
                line[x] = (line[x] + up) & 0xFF
            elif row_filter == 3:
                line[x] = (line[x] + (left + up) // 2) & 0xFF
            elif row_filter == 4:
                p = left + up - corner
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
                pred = left if pa <= pb and pa <= pc else up if pb <= pc else corner
                line[x] = (line[x] + pred) & 0xFF
        rows.append(bytes(line))
        prev = line
    return width, height, [bytes(r[j] for j in range(len(r)) if j % bpp < 3) for r in rows]


def coloured_pixels(rows: list[bytes], top: int, bottom: int, left: int, right: int) -> int:
    count = 0
    for row in rows[top:bottom]:
        for x in range(left, right):
            r, g, b = row[3 * x], row[3 * x + 1], row[3 * x + 2]
            if max(r, g, b) - min(r, g, b) > 60:  # saturated: not white, grey or black
                count += 1
    return count


def test_report_renders_in_chromium_with_every_chart_drawn(
    pg_server_dsn: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    chromium()  # fail (or knowingly skip) before spending time on the demo
    monkeypatch.setenv("DATABASE_URL", pg_server_dsn)
    out = tmp_path / "demo"
    name = f"demo_{uuid.uuid4().hex[:10]}"
    args = ["demo", "--small", "--seed", "2", "--seeds", "2", "--out-dir", str(out)]
    assert main([*args, "--database", name]) == 0
    report = out / "report.html"

    dom = run_chromium(["--dump-dom", report.as_uri()], tmp_path / "profile-dom")
    assert "Would following the scores have paid?" in dom and "</html>" in dom
    parser = ChartMarks()
    parser.feed(dom)
    titles = [str(c["title"]) for c in parser.charts]
    expected = [
        "Return per dollar staked, seed 2",
        "Return per dollar staked, seeds 2, 3 pooled",
        "Followers' fills against their leaders' (price and time)",
        "Price we paid against the leader's price (dashed: the same price)",
        "Equity: strategy vs baselines (USDC)",
        "P&L by signal type (USDC)",
        "Reputation score vs hidden skill (one dot per wallet)",
        "Score quality as known at each step (no look-ahead)",
    ]
    assert titles == expected
    for chart in parser.charts:
        assert int(str(chart["marks"])) > 0, f"chart drawn empty: {chart['title']}"
    for section in ("Does the score find skill?", "AUC, skilled vs not", "forward test"):
        assert section in dom
    assert "Flagged wallets" in dom and "95% interval" in dom

    # Paint: every chart's plot area holds coloured pixels once the browser has drawn it.
    svgs = re.findall(r"<svg.*?</svg>", report.read_text(encoding="utf-8"), re.S)
    assert len(svgs) == len(expected)
    stacked = "".join(
        f"<div style='width:{WIDTH}px;height:{HEIGHT}px;overflow:hidden'>{svg}</div>"
        for svg in svgs
    )
    page = tmp_path / "charts.html"
    page.write_text(
        f"<!doctype html><html><body style='margin:0'>{stacked}</body></html>", encoding="utf-8"
    )
    shot = tmp_path / "charts.png"
    run_chromium(
        [
            f"--screenshot={shot}",
            f"--window-size={WIDTH},{HEIGHT * len(svgs)}",
            "--hide-scrollbars",
            page.as_uri(),
        ],
        tmp_path / "profile-shot",
    )
    width, height, rows = png_pixels(shot)
    assert (width, height) == (WIDTH, HEIGHT * len(svgs))
    for i, title in enumerate(expected):
        # Right of the legend swatches (x < LEFT + 20), inside the chart's band.
        painted = coloured_pixels(rows, i * HEIGHT + 25, (i + 1) * HEIGHT - 40, LEFT + 20, WIDTH)
        assert painted > 30, f"nothing painted in {title!r}"
