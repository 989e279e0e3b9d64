"""Walk-forward backtest over stored trades: would following the scores have paid?

* ``history`` — the SQL (trades and resolutions between two times);
* ``tape``    — prices and resolutions seen so far (the replay's half of the as-of gate);
* ``followers`` — the strategy (the executor's :func:`orderflow.signals.evaluate`) and two
  baselines (follow every wallet; follow seeded random wallets);
* ``book``    — paper fills (:func:`orderflow.execution.paper.paper_fill`) booked with
  :class:`orderflow.accounting.Position`;
* ``engine``  — the walk-forward loop, scores as of each step's start;
* ``metrics`` / ``report`` — P&L, win rate, Sharpe, drawdown, per signal type, in words.
"""

from orderflow.backtest.engine import Scorer, WalkForwardResult, walk_forward
from orderflow.backtest.metrics import RunSummary, TypeSummary
from orderflow.backtest.report import render
from orderflow.backtest.runner import BacktestOptions, BacktestReport, run_backtest

__all__ = [
    "BacktestOptions",
    "BacktestReport",
    "RunSummary",
    "Scorer",
    "TypeSummary",
    "WalkForwardResult",
    "render",
    "run_backtest",
    "walk_forward",
]
