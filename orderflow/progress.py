"""Progress of a long job (a history backfill, a large file import): done, rate, ETA.

One :class:`Progress` per job. The caller reports how far it is (``update(done)``, in the job's
unit: blocks for a backfill, bytes of the file for an import, with the lines or logs handled so
far as ``count``); the tracker

* keeps the rate over a sliding window (the last ``window_secs``: a backfill's speed changes with
  the chain's density, so the rate since the start would lie about the ETA),
* draws one line on a terminal (``\\r``-rewritten, at most once per ``min_interval`` seconds), or,
  when the stream is not a terminal (containers, pipes), logs one line every ``log_interval``
  seconds, and
* sets the ``orderflow_progress_*`` gauges (done, total, rate, count rate, ETA; attribute ``job``)
  exported on ``/metrics``.

Every long job uses it: ``listen --from-file`` (bytes, lines), the catch-up backfill (blocks,
logs), ``orderflow import`` (bytes or Parquet rows, rows, dead letters) and the one-time
condition sync (blocks; a log line after its first range, then every 10 s).
"""

from __future__ import annotations

import logging
import sys
import time
from collections import deque
from collections.abc import Callable, Mapping
from typing import TextIO

from orderflow import telemetry

log = logging.getLogger(__name__)


class _Gauges:
    def __init__(self) -> None:
        meter = telemetry.meter("orderflow.progress")
        self.done = meter.create_gauge(
            "orderflow_progress_done", description="Units done by a long job (blocks, bytes)"
        )
        self.total = meter.create_gauge(
            "orderflow_progress_total", description="Units a long job has to do"
        )
        self.rate = meter.create_gauge(
            "orderflow_progress_rate", description="Units per second over the recent window"
        )
        self.count_rate = meter.create_gauge(
            "orderflow_progress_count_rate",
            description="Lines, logs or rows per second over the recent window",
        )
        self.eta = meter.create_gauge(
            "orderflow_progress_eta_seconds", unit="s", description="Estimated seconds left"
        )


_gauges: _Gauges | None = None


def _instruments() -> _Gauges:
    global _gauges
    if _gauges is None:
        _gauges = _Gauges()
    return _gauges


def _duration(secs: float) -> str:
    s = round(secs)
    h, rem = divmod(s, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}"


class Progress:
    """Done / total of one job, its recent rate and ETA, on a terminal and as metrics."""

    def __init__(
        self,
        job: str,
        *,
        unit: str,
        total: int | None,
        count_unit: str | None = None,
        done: int = 0,
        stream: TextIO | None = None,
        min_interval: float = 0.5,
        log_interval: float = 30.0,
        window_secs: float = 30.0,
        log_first: bool = False,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """``done``: units already done before this run (a resumed job); the rates and the
        final line count only what this run does. ``log_first``: when not on a terminal, log
        the first update at once rather than after ``log_interval``."""
        self.job = job
        self.unit = unit
        self.total = total
        self.count_unit = count_unit
        self.stream = stream if stream is not None else sys.stderr
        self.min_interval = min_interval
        self.log_interval = log_interval
        self.window_secs = window_secs
        self.clock = clock
        self.done = done
        self.count = 0
        self.dead = 0
        self.started = clock()
        self._done_at_start = done
        self._samples: deque[tuple[float, int, int]] = deque([(self.started, done, 0)])
        self._drawn = float("-inf")
        self._logged = float("-inf") if log_first else self.started
        self._extra: dict[str, object] = {}
        self._tty = _is_tty(self.stream)
        self._attrs = {"job": job}

    # -- measures --------------------------------------------------------------------------------

    def _window(self) -> tuple[float, int, int]:
        """(seconds, units, count) between the oldest sample in the window and now."""
        t0, d0, c0 = self._samples[0]
        t1, d1, c1 = self._samples[-1]
        return t1 - t0, d1 - d0, c1 - c0

    def rate(self) -> float:
        """Units per second over the recent window (0 before the first interval)."""
        secs, units, _ = self._window()
        return units / secs if secs > 0 else 0.0

    def count_rate(self) -> float:
        secs, _, count = self._window()
        return count / secs if secs > 0 else 0.0

    def eta_secs(self) -> float | None:
        """Seconds left at the recent rate; None without a total or a rate yet."""
        if self.total is None:
            return None
        left = max(self.total - self.done, 0)
        if left == 0:
            return 0.0
        rate = self.rate()
        return left / rate if rate > 0 else None

    def fraction(self) -> float | None:
        if not self.total:
            return None
        return min(self.done / self.total, 1.0)

    # -- updates ---------------------------------------------------------------------------------

    def update(
        self,
        done: int,
        *,
        count: int | None = None,
        total: int | None = None,
        dead: int | None = None,
        extra: Mapping[str, object] | None = None,
    ) -> None:
        """Record that ``done`` units (and ``count`` lines/logs/rows, ``dead`` dead letters)
        are finished so far; ``extra`` fields go with the log line (e.g. the last block)."""
        now = self.clock()
        if total is not None:
            self.total = total
        self.done = done
        if count is not None:
            self.count = count
        if dead is not None:
            self.dead = dead
        if extra is not None:
            self._extra = dict(extra)
        self._samples.append((now, self.done, self.count))
        while len(self._samples) > 2 and now - self._samples[1][0] >= self.window_secs:
            self._samples.popleft()
        self._publish()
        if self._tty:
            if now - self._drawn >= self.min_interval:
                self._drawn = now
                self.stream.write("\r\x1b[2K" + self.render())
                self.stream.flush()
        elif now - self._logged >= self.log_interval:
            self._logged = now
            log.info(self.render(), extra=self._fields())

    def publish(self) -> None:
        """Set the gauges to where the job stands (e.g. a job found complete at its start)."""
        self._publish()

    def finish(self) -> None:
        """The final line (kept on a terminal) and the gauges at their end values."""
        self._publish()
        line = self.render(final=True)
        if self._tty:
            self.stream.write("\r\x1b[2K" + line + "\n")
            self.stream.flush()
        else:
            log.info(line, extra=self._fields())

    # -- output ----------------------------------------------------------------------------------

    def render(self, *, final: bool = False) -> str:
        """One human line: what is done, the rate, the ETA (or the elapsed time when final)."""
        parts = [f"{self.job}:"]
        fraction = self.fraction()
        if self.count_unit is not None:
            parts.append(f"{self.count:,} {self.count_unit}")
        if self.total is not None:
            parts.append(f"{self.done:,} / {self.total:,} {self.unit}")
        else:
            parts.append(f"{self.done:,} {self.unit}")
        if fraction is not None:
            parts.append(f"({fraction * 100:.1f} %)")
        if final:
            elapsed = self.clock() - self.started
            did = self.count if self.count_unit else self.done - self._done_at_start
            rate = did / elapsed if elapsed > 0 else 0.0
            unit = self.count_unit or self.unit
            parts.append(f"in {_duration(elapsed)}, {rate:,.0f} {unit}/s")
            return " ".join(parts) + self._dead_part()
        if self.count_unit is not None:
            parts.append(f"{self.count_rate():,.0f} {self.count_unit}/s")
        else:
            parts.append(f"{self.rate():,.0f} {self.unit}/s")
        eta = self.eta_secs()
        parts.append(f"ETA {_duration(eta)}" if eta is not None else "ETA unknown")
        return " ".join(parts) + self._dead_part()

    def _dead_part(self) -> str:
        return f", {self.dead:,} dead letters" if self.dead else ""

    def _fields(self) -> dict[str, object]:
        fraction = self.fraction()
        eta = self.eta_secs()
        return {
            "job": self.job,
            "done": self.done,
            "total": self.total,
            "percent": round(100 * fraction, 1) if fraction is not None else None,
            "count": self.count,
            "dead_letters": self.dead,
            "rate": round(self.rate(), 1),
            "eta_secs": round(eta) if eta is not None else None,
            **self._extra,
        }

    def _publish(self) -> None:
        g = _instruments()
        g.done.set(self.done, self._attrs)
        if self.total is not None:
            g.total.set(self.total, self._attrs)
        g.rate.set(self.rate(), self._attrs)
        if self.count_unit is not None:
            g.count_rate.set(self.count_rate(), self._attrs)
        eta = self.eta_secs()
        if eta is not None:
            g.eta.set(eta, self._attrs)


def _is_tty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
