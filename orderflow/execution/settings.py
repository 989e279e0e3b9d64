"""ExecutorSettings: how the ``orderflow execute`` process runs (not what it trades).

What a strategy trades is its :class:`~orderflow.strategy.StrategySettings`, stored in
``orderflow_strategies``; this model holds the process's own knobs.
"""

from __future__ import annotations

import os
import socket
from typing import Annotated

from pydantic import Field, field_validator
from pydantic_settings import NoDecode

from orderflow.chain.settings import REORG_WINDOW_DEFAULT, REORG_WINDOW_MAX, REORG_WINDOW_MIN
from orderflow.config import CommonSettings
from orderflow.strategy.names import checked_name


def default_instance_id() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


class ExecutorSettings(CommonSettings):
    strategies: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        validation_alias="EXECUTOR_STRATEGIES",
        description="Comma-separated strategy names to run; empty: every strategy in the database.",
    )
    default_strategy: str = Field(
        default="default",
        validation_alias="STRATEGY_NAME",
        description="Name of the strategy created from the seed's environment variables when the "
        "database has none.",
    )
    paper_books: bool = Field(
        default=False,
        validation_alias="PAPER_BOOKS",
        description="Paper decisions read the CLOB's public books (GET /book, no credentials; "
        "POLY_CLOB_URL or Polymarket's) for their quote and depth as live ones do, so a paper "
        "strategy rehearses its live decisions; false: the chain's fills (the tape).",
    )
    instance_id: str = Field(
        default_factory=default_instance_id,
        validation_alias="EXECUTOR_INSTANCE_ID",
        description="This process's id in orderflow_executor_heartbeats (default host-pid).",
    )
    poll_interval_secs: float = Field(
        default=3.0,
        gt=0,
        validation_alias="EXECUTOR_POLL_INTERVAL_SECS",
        description="Fallback poll for new trades when no notification arrives (the seed's 3 s).",
    )
    strategy_refresh_secs: float = Field(
        default=0.5,
        gt=0,
        validation_alias="EXECUTOR_STRATEGY_REFRESH_SECS",
        description="Re-read pause/kill/settings at least this often even without NOTIFY.",
    )
    maintenance_interval_secs: float = Field(
        default=2.0,
        gt=0,
        validation_alias="EXECUTOR_MAINTENANCE_SECS",
        description="Mark, settle, reconcile open orders, make late exits and update performance"
        " this often.",
    )
    heartbeat_secs: float = Field(
        default=5.0, gt=0, validation_alias="EXECUTOR_HEARTBEAT_SECS", description="Heartbeat."
    )
    order_heartbeat: bool = Field(
        default=True,
        validation_alias="ORDER_HEARTBEAT",
        description="While it leads with live trading set up, the executor sends the CLOB's order "
        "heartbeat (POST /v1/heartbeats, Polymarket's dead man's switch): once one is accepted, "
        "the exchange cancels every open order of our API key when none has come for about 10 "
        "s, so the orders of an executor that died, hangs or lost its network do not rest on "
        "unwatched. The key's orders placed by any other program are cancelled too: give the "
        "executor a key of its own. false: no heartbeat (the orders rest until they expire).",
    )
    order_heartbeat_secs: float = Field(
        default=5.0,
        gt=0,
        le=8.0,
        validation_alias="ORDER_HEARTBEAT_SECS",
        description="Seconds between two order heartbeats (the exchange cancels after ~10 s "
        "without one; after a failed send the next is tried within a second).",
    )
    leader_retry_secs: float = Field(
        default=1.0,
        gt=0,
        validation_alias="EXECUTOR_LEADER_RETRY_SECS",
        description="How often a standby executor tries to take the trading lock.",
    )
    batch_size: int = Field(
        default=1000,
        gt=0,
        le=100_000,
        validation_alias="EXECUTOR_BATCH_SIZE",
        description="Trades read per query.",
    )
    late_commit_secs: float = Field(
        default=30.0,
        ge=0,
        validation_alias="EXECUTOR_LATE_COMMIT_SECS",
        description="Re-examine trades inserted this recently at or below the cursor (an earlier "
        "id committed after a later one); duplicates are stopped by the signal key.",
    )
    trade_settlement_horizon_secs: float = Field(
        default=86_400.0,
        gt=0,
        le=30 * 86_400,
        validation_alias="EXECUTOR_TRADE_SETTLEMENT_HORIZON_SECS",
        description="How long the trades of a booked live fill are followed until they settle on "
        "chain (CONFIRMED or FAILED); a trade still pending after this is kept as booked, with a "
        "warning.",
    )
    redeem: bool = Field(
        default=True,
        validation_alias="EXECUTOR_REDEEM",
        description="The leader redeems live winnings: each condition whose settled live "
        "positions hold winning shares, once its resolution is REORG_WINDOW_BLOCKS deep, is "
        "redeemed on the wallet (the SDK's redeem_positions: an EOA sends it through "
        "POLY_RPC_URL and pays its gas, other wallets through Polymarket's relayer). false: "
        "nothing redeemed (the wallet's collateral comes back only when redeemed elsewhere).",
    )
    reorg_window_blocks: int = Field(
        default=REORG_WINDOW_DEFAULT,
        ge=REORG_WINDOW_MIN,
        le=REORG_WINDOW_MAX,
        validation_alias="REORG_WINDOW_BLOCKS",
        description="The listener's reorg window: a resolution this many blocks under its "
        "checkpoint is final and may be redeemed (set it as the listener's).",
    )

    @field_validator("strategies", mode="before")
    @classmethod
    def _split(cls, value: object) -> object:
        if isinstance(value, str):
            return [v.strip() for v in value.split(",") if v.strip()]
        return value

    @field_validator("strategies")
    @classmethod
    def _names(cls, value: list[str]) -> list[str]:
        return [checked_name(name) for name in value]

    @field_validator("default_strategy")
    @classmethod
    def _name(cls, value: str) -> str:
        return checked_name(value)
