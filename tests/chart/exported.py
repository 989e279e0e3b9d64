"""The Prometheus series the package exports, read from its OpenTelemetry instruments.

What the dashboard and the alerts may query: an instrument ``create_counter("x")`` is exported
as ``x_total``, a histogram as ``x_bucket``, ``x_count`` and ``x_sum``, a gauge as ``x``.
"""

from __future__ import annotations

import functools
import re

from tests.conftest import ROOT

_INSTRUMENT = re.compile(r'create_(counter|gauge|histogram|up_down_counter)\(\s*"(\w+)"')


@functools.cache
def exported_series() -> frozenset[str]:
    source = "\n".join(p.read_text() for p in (ROOT / "orderflow").rglob("*.py"))
    series: set[str] = set()
    for kind, name in _INSTRUMENT.findall(source):
        if kind == "counter":
            series.add(name if name.endswith("_total") else f"{name}_total")
        elif kind == "histogram":
            series.update(f"{name}_{part}" for part in ("bucket", "count", "sum"))
        else:
            series.add(name)
    return frozenset(series)


def orderflow_series(expr: str) -> list[str]:
    """The package's series a PromQL expression reads."""
    return re.findall(r"\borderflow_\w+", expr)
