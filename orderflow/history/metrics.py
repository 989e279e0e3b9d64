"""The import's counters: rows read and dead letters kept, by file kind.

They add up over every file a process imports (``orderflow import`` exports them on
``/metrics`` with ``--metrics-port``): ``orderflow_import_rows_total``,
``orderflow_import_dead_letters_total``, ``orderflow_import_gamma_disagreements_total``
(Gamma resolutions naming another winner than the chain's, which stands) and
``orderflow_import_gamma_conflicts_total`` (… than an earlier Gamma import's, which stands).
Done, total, rate and ETA of the file being imported are the shared ``orderflow_progress_*``
gauges (``orderflow.progress``, job ``import FILE``).
"""

from __future__ import annotations

from orderflow import telemetry


class ImportCounters:
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

        self.gamma_disagreements = meter.create_counter(
            "orderflow_import_gamma_disagreements",
            unit="{market}",
            description="Gamma resolutions naming another winner than the chain's (which stands)",
        )
        self.gamma_conflicts = meter.create_counter(
            "orderflow_import_gamma_conflicts",
            unit="{market}",
            description="Gamma resolutions naming another winner than an earlier Gamma import's "
            "(which stands)",
        )

    def add(self, kind: str, rows: int, dead: int) -> None:
        attrs = {"kind": kind}
        self.rows.add(rows, attrs)
        if dead:
            self.dead_letters.add(dead, attrs)


_COUNTERS: ImportCounters | None = None


def counters() -> ImportCounters:
    global _COUNTERS
    if _COUNTERS is None:
        _COUNTERS = ImportCounters()
    return _COUNTERS
