"""ListenerSettings: what ``orderflow listen`` reads from the environment.

Every field names its unit and why it exists. RPC URLs are ``SecretStr`` because providers put
API keys in the path or query (``wss://polygon-mainnet.example/v2/<key>``); only
:func:`orderflow.chain.rpc_http.redact_url` output ever reaches a log or an error message.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator, model_validator

from orderflow.chain.capped_logs import KNOWN_RESULT_CAPS
from orderflow.chain.contracts import CTF_DEPLOY_BLOCK, MAINNET, ChainAddresses
from orderflow.config import CommonSettings, redact_url

# REORG_WINDOW_BLOCKS, the listener's and the executor's (its redemptions wait for it): half a
# day of Polygon's 2-second blocks at most, as the executor looks for an exit's trigger from a
# day before its signal's trade on (execution.exit_queries.TRIGGER_REORG_MARGIN), so a reorg that
# the listener follows may not move a trade further than that.
REORG_WINDOW_DEFAULT = 256
REORG_WINDOW_MIN = 2
REORG_WINDOW_MAX = 21_600


def _scheme(url: SecretStr) -> str:
    return urlsplit(url.get_secret_value()).scheme.lower()


def _check_host_and_port(name: str, url: SecretStr) -> None:
    """A one-line configuration error for a URL without a host or with a port that is not a
    number in 0..65535 (the client libraries would raise a traceback at the first connection).
    The message shows only :func:`redact_url` of it."""
    parts = urlsplit(url.get_secret_value())
    try:
        parts.port  # noqa: B018 -- parsing the port is the check
    except ValueError:
        raise ValueError(
            f"{name} has no valid port (a number in 0..65535): {redact_url(url.get_secret_value())}"
        ) from None
    if not parts.hostname:
        raise ValueError(f"{name} has no host: {redact_url(url.get_secret_value())}")


class ListenerSettings(CommonSettings):
    """Settings of the live + backfill listener (``orderflow listen``)."""

    polygon_rpc_url: SecretStr | None = Field(
        default=None,
        validation_alias="POLYGON_RPC_URL",
        description=(
            "WebSocket JSON-RPC endpoint (ws:// or wss://) of a Polygon node: eth_subscribe to "
            "logs and newHeads needs a WebSocket. Required by live listening (not by --from-file). "
            "Treated as a secret (providers embed API keys)."
        ),
    )
    polygon_http_url: SecretStr | None = Field(
        default=None,
        validation_alias="POLYGON_HTTP_URL",
        description=(
            "Optional HTTP(S) JSON-RPC endpoint for eth_getLogs backfills (some providers allow "
            "larger ranges or cheaper calls over HTTP). Unset: backfill over the WebSocket."
        ),
    )
    confirmations: int = Field(
        default=3,
        validation_alias="CONFIRMATIONS",
        ge=0,
        le=1000,
        description=(
            "Blocks a log's block must be buried under before it is stored (0 = store at once; "
            "reorgs are still repaired). Polygon PoS finalises within a few blocks."
        ),
    )
    start_block: int | None = Field(
        default=None,
        validation_alias="START_BLOCK",
        ge=0,
        description=(
            "First block of a fresh database (no checkpoint yet). Unset: start at the head "
            "(live only, no history). Ignored once a checkpoint exists."
        ),
    )
    getlogs_initial_blocks: int = Field(
        default=2_000,
        validation_alias="GETLOGS_INITIAL_BLOCKS",
        ge=1,
        description="Block range of the first eth_getLogs call of a backfill.",
    )
    getlogs_max_blocks: int = Field(
        default=10_000,
        validation_alias="GETLOGS_MAX_BLOCKS",
        ge=1,
        description="The range never grows past this many blocks per eth_getLogs call.",
    )
    getlogs_min_blocks: int = Field(
        default=1,
        validation_alias="GETLOGS_MIN_BLOCKS",
        ge=1,
        description=(
            "The range never shrinks below this; a node refusing even this range is a fatal "
            "configuration problem (use a node with larger limits)."
        ),
    )
    getlogs_result_caps: tuple[int, ...] = Field(
        default=KNOWN_RESULT_CAPS,
        validation_alias="GETLOGS_RESULT_CAPS",
        description=(
            "eth_getLogs reply lengths (logs) that may mean the provider truncated the reply "
            "without an error, as a JSON list. A reply of exactly one of these lengths over "
            "more than one block is split in two and read again; a single block at a cap is "
            "stored with a warning and counted. Default: the caps known from providers "
            "(docs/listener.md); add your provider's if it truncates at another number."
        ),
    )
    rpc_timeout_secs: float = Field(
        default=30.0,
        validation_alias="RPC_TIMEOUT_SECS",
        gt=0,
        description="Timeout of one JSON-RPC request (a timed-out eth_getLogs shrinks its range).",
    )
    silence_timeout_secs: float = Field(
        default=60.0,
        validation_alias="SILENCE_TIMEOUT_SECS",
        gt=0,
        description=(
            "A subscription with no newHeads for this long is treated as dead: reconnect and "
            "backfill. Polygon makes a block every ~2 s, so a minute of silence is a broken feed."
        ),
    )
    reconnect_initial_secs: float = Field(
        default=0.5,
        validation_alias="RECONNECT_INITIAL_SECS",
        gt=0,
        description="First reconnect delay; doubles per failed attempt (with jitter).",
    )
    reconnect_max_secs: float = Field(
        default=30.0,
        validation_alias="RECONNECT_MAX_SECS",
        gt=0,
        description="Upper bound of the reconnect delay.",
    )
    ready_max_head_lag_blocks: int = Field(
        default=50,
        validation_alias="READY_MAX_HEAD_LAG_BLOCKS",
        ge=0,
        description=(
            "/readyz fails while the stored checkpoint is more than this many blocks behind "
            "the node's head (confirmations included)."
        ),
    )
    reorg_window_blocks: int = Field(
        default=REORG_WINDOW_DEFAULT,
        validation_alias="REORG_WINDOW_BLOCKS",
        ge=REORG_WINDOW_MIN,
        le=REORG_WINDOW_MAX,
        description=(
            "Recent block hashes kept for reorg detection; a reorg deeper than this stops the "
            "listener with an error instead of guessing (at most 21,600: half a day)."
        ),
    )
    confirm_depth_blocks: int = Field(
        default=64,
        validation_alias="CONFIRM_DEPTH_BLOCKS",
        ge=0,
        le=REORG_WINDOW_MAX,
        description=(
            "The trailing, confirming read: blocks this deep below the head (and at or below "
            "the checkpoint) are read again with eth_getLogs and whatever the subscription or an "
            "earlier reply left out is stored (64: 128 s on Polygon, twice the bloom check's 32 "
            "blocks: a backend lagging less than that answers it whole)."
        ),
    )
    confirm_range_blocks: int = Field(
        default=32,
        validation_alias="CONFIRM_RANGE_BLOCKS",
        ge=0,
        le=10_000,
        description=(
            "The confirming read runs once this many blocks are due (one eth_getLogs per "
            "range, one range every this many heads; 32: about 56 an hour on Polygon). "
            "0: no confirming read."
        ),
    )
    reputation_changes_max_rows: int = Field(
        default=10_000_000,
        validation_alias="REPUTATION_CHANGES_MAX_ROWS",
        ge=0,
        description=(
            "Rows each change log of the reputation run may hold (the log of changed position "
            "sums: about one per stored fill, ~130 bytes a row; the marked markets, tokens, "
            "wallet rows and changed trades: far fewer), taken by each run, before the listener "
            "drops them all and the next reputation run recomputes every wallet instead "
            "(0: never dropped)."
        ),
    )
    live_flush_secs: float = Field(
        default=0.2,
        validation_alias="LIVE_FLUSH_SECS",
        gt=0,
        description=(
            "Live logs are stored per block; logs that arrive after their block's header wait "
            "at most this long before being flushed."
        ),
    )
    queue_size: int = Field(
        default=10_000,
        validation_alias="SUBSCRIPTION_QUEUE_SIZE",
        ge=10,
        description=(
            "Bound of the subscription notification queue. Overflowing it (the database fell "
            "far behind) drops the connection and resynchronises with a backfill."
        ),
    )
    condition_sync: bool = Field(
        default=True,
        validation_alias="CONDITION_SYNC",
        description=(
            "On the first start, read every ConditionPreparation and ConditionResolution of "
            "ConditionalTokens from CONDITION_SYNC_FROM_BLOCK up to where the listener's own "
            "stream begins, so markets created before it are mapped (runs beside the live "
            "listener, resumable). false: only markets seen by the stream itself."
        ),
    )
    condition_sync_from_block: int = Field(
        default=CTF_DEPLOY_BLOCK,
        validation_alias="CONDITION_SYNC_FROM_BLOCK",
        ge=0,
        description=(
            "First block of the condition sync. Default: the CTF's mainnet deployment block, "
            "or 0 on a chain younger than that (a local node with the contracts deployed anew)."
        ),
    )
    condition_sync_max_blocks: int = Field(
        default=10_000,
        validation_alias="CONDITION_SYNC_MAX_BLOCKS",
        ge=1,
        description=(
            "eth_getLogs block range of the condition sync (it starts there and halves on "
            "refusal like the backfill). CTF conditions are sparse: providers that limit by "
            "results rather than blocks accept far larger ranges, and each request covers more."
        ),
    )
    addresses: ChainAddresses = Field(
        default=MAINNET,
        validation_alias="CHAIN_ADDRESSES",
        description=(
            "JSON override of the watched contracts, e.g. for a fork or testnet: "
            '{"exchanges": {"0x…": "V2"}, "ctf": "0x…"}. Default: Polygon mainnet.'
        ),
    )

    @field_validator("polygon_rpc_url")
    @classmethod
    def _ws_only(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value():
            return None
        scheme = _scheme(value)
        if scheme not in ("ws", "wss"):
            raise ValueError(
                f"POLYGON_RPC_URL must be ws:// or wss:// (a WebSocket endpoint, needed for "
                f"eth_subscribe), got {scheme or 'no scheme'}://… — for HTTP backfills set "
                "POLYGON_HTTP_URL in addition"
            )
        _check_host_and_port("POLYGON_RPC_URL", value)
        return value

    @field_validator("polygon_http_url")
    @classmethod
    def _http_only(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value():
            return None
        scheme = _scheme(value)
        if scheme not in ("http", "https"):
            raise ValueError(f"POLYGON_HTTP_URL must be http:// or https://, got {scheme}://…")
        _check_host_and_port("POLYGON_HTTP_URL", value)
        return value

    @field_validator("getlogs_result_caps")
    @classmethod
    def _positive_caps(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        if any(cap < 1 for cap in value):
            raise ValueError("every result cap must be a positive number of logs")
        return tuple(sorted(set(value)))

    @model_validator(mode="after")
    def _ranges(self) -> ListenerSettings:
        if not (self.getlogs_min_blocks <= self.getlogs_initial_blocks <= self.getlogs_max_blocks):
            raise ValueError(
                "need GETLOGS_MIN_BLOCKS <= GETLOGS_INITIAL_BLOCKS <= GETLOGS_MAX_BLOCKS, got "
                f"{self.getlogs_min_blocks} / {self.getlogs_initial_blocks} / "
                f"{self.getlogs_max_blocks}"
            )
        if self.reconnect_initial_secs > self.reconnect_max_secs:
            raise ValueError("RECONNECT_INITIAL_SECS must not exceed RECONNECT_MAX_SECS")
        if self.confirmations >= self.reorg_window_blocks:
            raise ValueError("CONFIRMATIONS must be smaller than REORG_WINDOW_BLOCKS")
        return self
