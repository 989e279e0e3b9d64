"""Walk-forward backtest over stored trades: would following the scores have paid?

* ``history`` — the SQL (trades and resolutions between two times, events of markets);
* ``tape``    — prices and resolutions seen so far (the replay's half of the as-of gate);
* ``followers`` — the strategy (the executor's :func:`orderflow.signals.evaluate`) and two
  baselines (follow every taker; follow seeded random wallets);
* ``liquidity`` — the book a follower meets, as the chain reveals it (maker fills of later
  trades), and walking its depth with the taker fee and the follower's own footprint;
* ``book``    — fills booked with :class:`orderflow.accounting.Position`;
* ``engine``  — the walk-forward loop: scores as of each step's start, signals decided and
  filled a latency after the leader;
* ``metrics`` / ``verdict`` / ``forward`` / ``report`` — P&L, win rate, Sharpe, drawdown per
  signal type; P&L per dollar with a bootstrap interval and PAID / LOST / INCONCLUSIVE; the
  score's forward test; all in words.
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
