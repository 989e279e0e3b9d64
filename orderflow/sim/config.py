"""SimConfig: everything that shapes one simulated Polymarket, validated before anything runs.

The seed and these numbers are the whole input of the simulator: the same config gives the same
bytes. Defaults make a month of trading that the demo can ingest, score and backtest in one to
three minutes on a small machine (docs/demo.md: longer worlds of this population were measured
and still show nobody in the top tiers); ``SimConfig.small()`` is the CI-sized variant.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from orderflow.sim.population import Population

ExchangeGeneration = Literal["v2", "v1"]

# A Tuesday in May 2026, shortly after the CLOB V2 cut-over (28 April 2026); V1 runs start earlier.
DEFAULT_START_V2 = datetime(2026, 5, 5, tzinfo=UTC)
DEFAULT_START_V1 = datetime(2025, 10, 7, tzinfo=UTC)
# Plausible Polygon heights for those dates (~2 s blocks); exactness does not matter, monotony does.
DEFAULT_BLOCK_V2 = 86_500_000
DEFAULT_BLOCK_V1 = 77_000_000


_EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
_LATEST = datetime(9000, 1, 1, tzinfo=UTC)


class SimConfig(BaseModel):
    """Shape of one simulated market history."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    seed: int = Field(
        default=1, ge=0, lt=2**64, description="Seed of the one random generator used (8 bytes)."
    )
    markets: int = Field(
        default=36, ge=1, le=5000, description="Markets: binary conditions and neg-risk events."
    )
    wallets: int = Field(
        default=240, ge=4, le=200_000, description="Trading wallets (market makers come on top)."
    )
    days: float = Field(default=30.0, gt=0, le=3650, description="Length of the history, days.")
    exchange: ExchangeGeneration = Field(
        default="v2", description="v2: CLOB V2 exchanges (default); v1: the pre-2026 exchanges."
    )
    neg_risk_share: float = Field(
        default=0.3, ge=0.0, le=1.0, description="Share of markets that are neg-risk events."
    )
    taker_fee_bps: int = Field(
        default=300,
        ge=0,
        le=1000,
        description="V2 taker fee rate in bps: fee = shares * rate * p * (1 - p) pUSD. "
        "V1 fills are fee-free here.",
    )
    start: datetime | None = Field(
        default=None, description="Time of the first block (UTC). Default depends on exchange."
    )
    start_block: int | None = Field(
        default=None,
        ge=1,
        le=2**62,  # a bigint (and 8 bytes) with room for the history's blocks
        description="Number of the first block. Default depends on exchange.",
    )
    chain_id: int = Field(default=137, gt=0, description="Chain id written into the truth file.")
    adapter_events: bool = Field(
        default=False,
        description="Also emit the NegRiskAdapter's own PositionSplit / PositionsMerge / "
        "PositionsConverted logs (the listener dead-letters logs from the adapter until it "
        "ignores them); the CTF's side of neg-risk splits, merges and conversions is always "
        "emitted.",
    )

    population: Population = Field(
        default_factory=Population,
        description="The mix of wallets and how the trap archetypes behave (defaults: the "
        "simulator's own population).",
    )

    @model_validator(mode="after")
    def _check(self) -> Self:
        if self.start is not None and self.start.tzinfo is None:
            raise ValueError("start must carry a time zone (use ...Z or +00:00)")
        return self

    @field_validator("start")
    @classmethod
    def _in_range(cls, start: datetime | None) -> datetime | None:
        # block times are unsigned unix seconds; the history and its resolutions must end
        # before the calendar does (year 9999)
        if start is not None and start.tzinfo is not None and not _EARLIEST <= start <= _LATEST:
            raise ValueError(f"must be from {_EARLIEST:%Y-%m-%d} to {_LATEST:%Y-%m-%d}")
        return start

    @classmethod
    def small(cls, **overrides: object) -> SimConfig:
        """A configuration that runs end to end (simulate, ingest, score, backtest) in seconds."""
        values: dict[str, object] = {"markets": 20, "wallets": 80, "days": 14.0}
        values.update(overrides)
        return cls.model_validate(values)

    @property
    def start_time(self) -> datetime:
        if self.start is not None:
            return self.start.astimezone(UTC)
        return DEFAULT_START_V2 if self.exchange == "v2" else DEFAULT_START_V1

    @property
    def first_block(self) -> int:
        if self.start_block is not None:
            return self.start_block
        return DEFAULT_BLOCK_V2 if self.exchange == "v2" else DEFAULT_BLOCK_V1
