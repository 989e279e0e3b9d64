"""Progress of long jobs: rate over a recent window, ETA, terminal line, logs, metrics."""

from __future__ import annotations

import io
import logging

import pytest
from prometheus_client import generate_latest

from orderflow import telemetry
from orderflow.progress import Progress


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_rate_and_eta_follow_the_recent_window() -> None:
    clock = Clock()
    p = Progress("backfill", unit="blocks", total=10_000, stream=io.StringIO(),
                 window_secs=10, clock=clock)  # fmt: skip
    for _ in range(20):  # 100 blocks/s for 20 s
        clock.now += 1
        p.update(p.done + 100)
    assert p.rate() == pytest.approx(100)
    for _ in range(20):  # then 10 blocks/s: the window forgets the fast start
        clock.now += 1
        p.update(p.done + 10)
    assert p.rate() == pytest.approx(10)
    assert p.done == 2_200
    assert p.eta_secs() == pytest.approx((10_000 - 2_200) / 10)
    assert p.fraction() == pytest.approx(0.22)


def test_no_total_or_no_rate_means_no_eta() -> None:
    clock = Clock()
    p = Progress("import", unit="bytes", total=None, stream=io.StringIO(), clock=clock)
    clock.now += 1
    p.update(500)
    assert p.eta_secs() is None
    assert "ETA unknown" in p.render()
    q = Progress("import", unit="bytes", total=1000, stream=io.StringIO(), clock=clock)
    assert q.eta_secs() is None  # no interval measured yet


def test_terminal_line_is_rewritten_at_most_every_interval_and_kept_at_the_end() -> None:
    clock = Clock()
    out = Terminal()
    p = Progress("import logs.jsonl", unit="bytes", total=1_000_000, count_unit="lines",
                 stream=out, min_interval=1.0, clock=clock)  # fmt: skip
    for i in range(1, 11):  # ten updates 0.25 s apart: 2.5 s -> 3 draws (t=0.25, 1.25, 2.25)
        clock.now += 0.25
        p.update(i * 50_000, count=i * 100)
    assert out.getvalue().count("\r") == 3
    last = out.getvalue().rsplit("\r\x1b[2K", 1)[1]
    assert last.startswith("import logs.jsonl: 900 lines 450,000 / 1,000,000 bytes (45.0 %)")
    assert "lines/s" in last and "ETA 0:00:" in last
    p.finish()
    assert out.getvalue().endswith("\n")
    final = out.getvalue().rsplit("\r\x1b[2K", 1)[1]
    assert "1,000 lines" in final and "in 0:00:02" in final and "400 lines/s" in final


def test_not_a_terminal_logs_a_line_every_log_interval(caplog: pytest.LogCaptureFixture) -> None:
    clock = Clock()
    out = io.StringIO()
    p = Progress("backfill", unit="blocks", total=100, stream=out, log_interval=30, clock=clock)
    with caplog.at_level(logging.INFO, logger="orderflow.progress"):
        for i in range(1, 91):  # 90 s, one block a second
            clock.now += 1
            p.update(i)
        p.finish()
    assert out.getvalue() == ""  # nothing drawn on a pipe
    lines = [r for r in caplog.records if r.name == "orderflow.progress"]
    assert len(lines) == 4  # at 30, 60, 90 s and the final line
    assert lines[0].getMessage().startswith("backfill: 30 / 100 blocks (30.0 %)")
    assert lines[0].__dict__["eta_secs"] == pytest.approx(70)
    assert "in 0:01:30" in lines[-1].getMessage()


def test_gauges_are_exported_with_the_job() -> None:
    telemetry.setup_metrics("orderflow-test")
    clock = Clock()
    p = Progress("backfill-gauge-test", unit="blocks", total=5_000, stream=io.StringIO(),
                 clock=clock)  # fmt: skip
    clock.now += 2
    p.update(1_000)
    text = generate_latest().decode()
    mine = [line for line in text.splitlines() if "backfill-gauge-test" in line]
    done = [line for line in mine if line.startswith("orderflow_progress_done")]
    assert done and done[0].endswith(" 1000.0"), text[-3000:]
    eta = [line for line in mine if line.startswith("orderflow_progress_eta_seconds")]
    assert eta and eta[0].endswith(" 8.0")


def test_a_resumed_job_counts_only_this_runs_work(caplog: pytest.LogCaptureFixture) -> None:
    """The condition sync resumes half-way: rate, ETA and final line count this run only."""
    clock = Clock()
    p = Progress("condition sync", unit="blocks", total=1_000, done=600, stream=io.StringIO(),
                 log_interval=10, log_first=True, clock=clock)  # fmt: skip
    assert p.fraction() == pytest.approx(0.6) and p.rate() == 0.0
    with caplog.at_level(logging.INFO, logger="orderflow.progress"):
        clock.now += 2
        p.update(700, extra={"to_block": 699})  # logged at once (log_first)
        clock.now += 2
        p.update(800, extra={"to_block": 799})  # within 10 s of the first: not logged
        assert p.rate() == pytest.approx(50)
        assert p.eta_secs() == pytest.approx(4)
        clock.now += 4
        p.update(1_000, extra={"to_block": 999})
        p.finish()
    lines = [r for r in caplog.records if r.name == "orderflow.progress"]
    assert len(lines) == 2
    first = lines[0].__dict__
    assert (first["done"], first["total"], first["percent"], first["to_block"]) == (
        700, 1_000, 70.0, 699
    )  # fmt: skip
    assert first["eta_secs"] == 6  # 300 blocks left at 50 blocks/s
    assert "in 0:00:08, 50 blocks/s" in lines[1].getMessage()  # 400 blocks in 8 s, not 1,000
    assert lines[1].__dict__["eta_secs"] == 0


def test_dead_letters_are_on_the_line_and_rows_per_second_a_gauge() -> None:
    telemetry.setup_metrics("orderflow-test")
    clock = Clock()
    out = Terminal()
    p = Progress("import dead-test.csv", unit="bytes", total=10_000, count_unit="rows",
                 stream=out, min_interval=0, clock=clock)  # fmt: skip
    clock.now += 2
    p.update(5_000, count=400, dead=3)
    assert out.getvalue().endswith("200 rows/s ETA 0:00:02, 3 dead letters")
    clock.now += 2
    p.update(10_000, count=800, dead=3)
    p.finish()
    assert out.getvalue().endswith("in 0:00:04, 200 rows/s, 3 dead letters\n")
    text = generate_latest().decode()
    mine = [line for line in text.splitlines() if "dead-test.csv" in line]
    rate = [line for line in mine if line.startswith("orderflow_progress_count_rate")]
    assert rate and rate[0].endswith(" 200.0"), text[-3000:]
