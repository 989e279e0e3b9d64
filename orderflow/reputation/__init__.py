"""Wallet reputation: statistics, five-factor score and tier for every wallet, set-based.

Public API (used by the CLI, backtests and the executor's docs):

* :func:`compute_scores` -- scores as of a time, nothing written;
* :func:`run_reputation` -- compute and persist (the CronJob);
* :class:`ReputationSettings`, :class:`WalletScore`, :class:`RunSummary`.
"""

from orderflow.reputation.run import compute_scores, run_reputation
from orderflow.reputation.run_models import RunSummary, WalletScore
from orderflow.reputation.settings import ReputationSettings

__all__ = [
    "ReputationSettings",
    "RunSummary",
    "WalletScore",
    "compute_scores",
    "run_reputation",
]
