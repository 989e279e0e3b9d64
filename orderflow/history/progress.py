"""Progress of an import: rows, rate and ETA on a terminal, and the same as metrics.

The metrics are OpenTelemetry instruments from ``orderflow.telemetry.meter`` (exported in
Prometheus format on ``/metrics`` when ``orderflow import --metrics-port`` serves them):
``orderflow_import_rows`` and ``orderflow_import_dead_letters`` (counters, by file kind),
``orderflow_import_rows_per_second``, ``orderflow_import_progress_ratio`` and
``orderflow_import_eta_seconds`` (gauges).
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

from orderflow import telemetry


class ImportMetrics:
    def __init__(self) -> None:
        meter = telemetry.meter("orderflow.history")
        self.rows = meter.create_counter(
            "orderflow_import_rows", unit="{row}", description="Rows read from history files"
        )
        self.dead_letters = meter.create_counter(
            "orderflow_import_dead_letters",
            unit="{row}",
            description="Rows of history files kept as dead letters (file, line, reason)",
        )
        self.rate = meter.create_gauge(
            "orderflow_import_rows_per_second", unit="{row}/s", description="Import rate"
        )
        self.ratio = meter.create_gauge(
            "orderflow_import_progress_ratio", unit="1", description="Fraction of the file done"
        )
        self.eta = meter.create_gauge(
            "orderflow_import_eta_seconds", unit="s", description="Estimated time left"
        )


_METRICS: ImportMetrics | None = None


def metrics() -> ImportMetrics:
    global _METRICS
    if _METRICS is None:
        _METRICS = ImportMetrics()
    return _METRICS


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s"


class Progress:
    """Tracks one file; ``update`` after each batch. Prints at most every ``every`` seconds."""

    def __init__(
        self,
        name: str,
        kind: str,
        *,
        stream: TextIO | None = None,
        every: float = 1.0,
    ) -> None:
        self.name = name
        self.attrs = {"kind": kind}
        self.stream = stream if stream is not None else sys.stderr
        self.show = self.stream.isatty() if stream is None else True
        self.every = every
        self.started = time.monotonic()
        self._printed = 0.0
        self.rows = 0
        self.dead = 0
        self.m = metrics()

    def update(self, rows: int, dead: int, fraction: float | None) -> None:
        self.rows += rows
        self.dead += dead
        self.m.rows.add(rows, self.attrs)
        if dead:
            self.m.dead_letters.add(dead, self.attrs)
        elapsed = max(time.monotonic() - self.started, 1e-9)
        rate = self.rows / elapsed
        self.m.rate.set(rate, self.attrs)
        eta: float | None = None
        if fraction is not None:
            self.m.ratio.set(fraction, self.attrs)
            if fraction > 0:
                eta = elapsed * (1 - fraction) / fraction
                self.m.eta.set(eta, self.attrs)
        now = time.monotonic()
        if self.show and now - self._printed >= self.every:
            self._printed = now
            self.stream.write("\r" + self.line(rate, fraction, eta))
            self.stream.flush()

    def line(self, rate: float, fraction: float | None, eta: float | None) -> str:
        text = f"{self.name}: {self.rows:,} rows, {rate:,.0f} rows/s"
        if fraction is not None:
            text += f", {100 * fraction:.1f}%"
        if eta is not None:
            text += f", ETA {_duration(eta)}"
        if self.dead:
            text += f", {self.dead:,} dead letters"
        return text

    def done(self) -> None:
        if self.show and self._printed:
            self.stream.write("\n")
            self.stream.flush()
