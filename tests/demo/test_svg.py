"""The hand-written SVG charts: well-formed, escaped, and honest about missing data."""

from __future__ import annotations

from xml.etree import ElementTree

from orderflow.demo.svg import Point, Series, bar_chart, empty_chart, line_chart, scatter_chart

NS = "{http://www.w3.org/2000/svg}"


def _parse(svg: str) -> ElementTree.Element:
    return ElementTree.fromstring(svg)  # noqa: S314 (our own output)


def test_line_chart_draws_one_polyline_per_series() -> None:
    svg = line_chart(
        "Equity <&>",
        [Series("a", [(0, 1), (1, 2), (2, 1.5)]), Series("b", [(0, 1), (2, 1)], "#000")],
        x_label="days",
        y_label="USDC",
    )
    root = _parse(svg)
    assert len(root.findall(f".//{NS}polyline")) == 2
    assert "Equity &lt;&amp;&gt;" in svg


def test_scatter_and_bars() -> None:
    scatter = _parse(
        scatter_chart(
            "s",
            [Point(0.1, 2, "#f00", "w<1>"), Point(0.9, 8, "#0f0", "w2")],
            x_label="skill",
            y_label="score",
        )
    )
    assert len(scatter.findall(f".//{NS}circle")) == 2
    bars = _parse(bar_chart("p", [("FOLLOW_WHALE", 120.5), ("FADE_DEGEN", -30.0)], y_label="$"))
    colors = [
        r.get("fill") for r in bars.findall(f".//{NS}rect") if r.find(f"{NS}title") is not None
    ]
    assert len(colors) == 2 and colors[0] != colors[1]  # gains and losses look different


def test_no_data_says_so() -> None:
    for svg in (
        line_chart("x", [], x_label="", y_label=""),
        bar_chart("y", [], y_label=""),
        scatter_chart("z", [], x_label="", y_label=""),
    ):
        assert "no data" in svg
        _parse(svg)
    assert "no data" in empty_chart("t")


def test_ticks_are_round_numbers_inside_the_range() -> None:
    from orderflow.demo.svg import nice_ticks

    assert nice_ticks(8491, 11525) == [8500, 9000, 9500, 10000, 10500, 11000, 11500]
    assert nice_ticks(-1.43, 30.1) == [0, 5, 10, 15, 20, 25, 30]
    ticks = nice_ticks(-822, 698)
    assert 0 in ticks and all(-822 <= t <= 698 for t in ticks)
