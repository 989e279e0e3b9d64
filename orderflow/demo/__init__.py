"""``orderflow demo``: the whole system on a simulated market, in one command.

* ``pipeline`` — simulate, ingest (listener's file path), score (reputation), replay the
  executor's decision code walk-forward, compare with the hidden truth;
* ``store``    — a fresh database per run; the replayed strategy written to the ledger tables;
* ``text`` / ``html`` / ``svg`` — the console report and a self-contained HTML report.
"""

from orderflow.demo.html import render_html
from orderflow.demo.pipeline import DemoResult, demo_strategy, run_demo
from orderflow.demo.text import render_text

__all__ = ["DemoResult", "demo_strategy", "render_html", "render_text", "run_demo"]
