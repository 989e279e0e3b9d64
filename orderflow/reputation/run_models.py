"""What the reputation run returns: a wallet's score as of a time (:class:`WalletScore`, for
backtests and the executor) and a persisted run's summary (:class:`RunSummary`, logged and
printed by the CLI). Computed by :mod:`orderflow.reputation.run`."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict


class WalletScore(BaseModel):
    """One wallet's score as of a time (what a backtest or the executor needs)."""

    model_config = ConfigDict(frozen=True)

    wallet_address: str
    score: Decimal
    tier: str
    edge: float  # posterior mean fee-net edge per dollar on taker decisions
    edge_raw: float | None  # measured (unshrunk) edge per dollar
    edge_se: float | None  # posterior standard deviation
    resolved_buys: int  # resolved events with taker decisions (= events_resolved)
    resolved_positions: int  # resolved events (P&L of every fill)
    wins: int
    losses: int
    factors: dict[str, Any]
    flags: tuple[str, ...] = ()
    p_edge_above_cost: float | None = None
    p_edge_below_zero: float | None = None
    clv_edge: float | None = None
    clv_se: float | None = None
    maker_volume_share: float | None = None

    @property
    def events_resolved(self) -> int:
        return self.resolved_buys


class RunSummary(BaseModel):
    """What one run did (logged, printed by the CLI)."""

    as_of: datetime
    computed_at: datetime
    wallets: int = 0
    positions: int = 0
    history_rows: int = 0
    tiers: dict[str, int] = {}
    issues: dict[str, int] = {}
    seconds: float = 0.0
    stages: dict[str, float] = {}
    skipped: bool = False
    source: str = "trades"  # "sums": positions read from orderflow_position_sums (migration 011)
    incremental: bool = False  # only the wallets whose inputs changed were recomputed
    rescored: int = 0  # wallets whose statistics were recomputed (all of them in a full run)
    candidates: int = 0  # rows given to the upsert (those that may have changed; all in a full run)
    # wallets with changed fills per wallet scored last time, when the run could be incremental
    # (counted up to just past ReputationSettings.incremental_max_share); above that share the
    # run recomputed every wallet
    changed_share: float | None = None
    switched: bool = False  # a full recompute chosen for the size of the change
    overflowed: bool = False  # ... because the change logs passed their bound (migration 057)
    # ... because a trades partition was attached again since the last live full run (migration
    # 076: what the runs read while it was detached is read from every fill again)
    reattached: bool = False
    # trades partitions a killed bulk import left without their wallet/token/time indexes
    # (orderflow.chain.index_recovery): read by scans, slower; a listener builds them
    unindexed_partitions: list[str] = []
    # the COPIER cells kept for the incremental runs (orderflow.reputation.copy_state): "updated"
    # around the changed trades, "rebuilt" from every taker buy, None: not kept by this run
    copy_cells: str | None = None
    # the population prior the rows are read against: its bulk (mean, sd, mean_se, miss_sd) and
    # skill tail (skill_share 0: none; orderflow.reputation.prior)
    prior: dict[str, float] = {}
