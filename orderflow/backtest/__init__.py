"""Walk-forward backtest over stored trades: would following the scores have paid?

* ``history`` — the SQL (trades and resolutions between two times, events of markets);
* ``tape``    — prices and resolutions seen so far (the replay's half of the as-of gate);
* ``followers`` — the strategy (the executor's :func:`orderflow.signals.evaluate`) and two
  baselines (follow every taker; follow seeded random wallets);
* ``liquidity`` — the book a follower meets, as the chain reveals it (maker fills of later
  trades);
* ``resting`` — each order resting from its decision to its close (filled, expired, its leader's
  exit, its market's resolution), met by the revealed levels as they come (the paper exchange's
  fill rule, the follower's own footprint);
* ``book``    — fills booked when they come, with :class:`orderflow.accounting.Position`;
* ``latency`` — what a decision can know (the listener's visibility), the order's latency and
  its life;
* ``pending`` — signals waiting for their decision, and the tape as of each one's horizon;
* ``engine``  — the walk-forward loop: scores as of each step's start, signals decided a
  latency after the leader, orders resting until they close;
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
