"""The operator's settings: the common ones (DATABASE_URL, LOG_LEVEL, HEALTH_PORT …) and its own."""

from __future__ import annotations

import os

from pydantic import Field

from orderflow.config import CommonSettings

_LIVE_VARIABLE = "OPERATOR_LIVE_CREDENTIALS_SECRET"
# What the peering object holds exactly: the API server keeps a JSON integer as a 64-bit one.
MIN_PRIORITY, MAX_PRIORITY = -(2**63), 2**63 - 1


def _live_secret_when_empty() -> str | None:
    """``""`` when OPERATOR_LIVE_CREDENTIALS_SECRET is set but empty, None when unset. Every
    other variable set empty is unset (``env_ignore_empty``: the environment source drops it
    before this default is asked); this one's emptiness means something (the chart's executor has
    no credentials: live specs are refused, where unset accepts any Secret)."""
    return "" if _LIVE_VARIABLE in os.environ else None


class OperatorSettings(CommonSettings):
    """Read from the environment by ``orderflow operator``; tests construct it directly."""

    status_interval_secs: float = Field(
        default=10.0,
        gt=0,
        validation_alias="OPERATOR_STATUS_INTERVAL_SECS",
        description="How often the status figures (open positions, P&L, heartbeat) are "
        "refreshed from the database, per resource.",
    )
    heartbeat_stale_secs: float = Field(
        default=30.0,
        gt=0,
        validation_alias="EXECUTOR_HEARTBEAT_STALE_SECS",
        description="A leader heartbeat older than this makes the resource Degraded (the "
        "executor beats every EXECUTOR_HEARTBEAT_SECS, 5 s by default).",
    )
    retry_max_delay_secs: float = Field(
        default=60.0,
        gt=0,
        validation_alias="OPERATOR_RETRY_MAX_DELAY_SECS",
        description="Cap of the exponential backoff between retries after a transient error "
        "(database unreachable, serialization failure).",
    )
    live_credentials_secret: str | None = Field(
        default_factory=_live_secret_when_empty,
        max_length=253,
        validation_alias=_LIVE_VARIABLE,
        description="Name of the Secret the executor's live credentials come from (the chart "
        "sets it to credentials.existingSecret). Set: a live spec must name exactly this Secret "
        "in credentialsSecret; empty: the executor has no credentials and live specs are "
        "refused. Unset: any credentialsSecret is accepted.",
    )
    peering_name: str = Field(
        default="orderflow",
        min_length=1,
        validation_alias="OPERATOR_PEERING_NAME",
        description="Name of kopf's (Cluster)KopfPeering object shared by the operator replicas.",
    )
    priority: int | None = Field(
        default=None,
        ge=MIN_PRIORITY,
        le=MAX_PRIORITY,
        validation_alias="OPERATOR_PRIORITY",
        description="Peering priority. Unset: a random one per process, so that of several "
        "replicas exactly one (the highest) works and the others stand by.",
    )
