"""The listener's OpenTelemetry instruments, exported on /metrics by the HealthServer."""

from __future__ import annotations

from orderflow import telemetry
from orderflow.chain.copy_render import CopyRows
from orderflow.chain.decode import DecodedBatch


class IngestMetrics:
    """The listener's OpenTelemetry instruments (exported on /metrics by the HealthServer)."""

    def __init__(self) -> None:
        meter = telemetry.meter("orderflow.chain.listener")
        self.logs = meter.create_counter(
            "orderflow_listener_logs", unit="{log}", description="Raw logs received and decoded"
        )
        self.trades = meter.create_counter(
            "orderflow_listener_trades", unit="{trade}", description="Trades (fills) stored"
        )
        self.dead_letters = meter.create_counter(
            "orderflow_listener_dead_letters",
            unit="{log}",
            description="Logs that could not be decoded (kept in orderflow_dead_letters)",
        )
        self.reorgs = meter.create_counter(
            "orderflow_listener_reorgs", unit="{reorg}", description="Reorganisations repaired"
        )
        self.unindexed_partitions = meter.create_gauge(
            "orderflow_listener_unindexed_partitions",
            unit="{partition}",
            description=(
                "Trades partitions without their wallet/token/time indexes a bulk import "
                "deferred (left while one runs; queries on them scan)"
            ),
        )
        self.reconnects = meter.create_counter(
            "orderflow_listener_reconnects",
            unit="{reconnect}",
            description="WebSocket reconnections after a failure or silence",
        )
        self.range_shrinks = meter.create_counter(
            "orderflow_listener_range_shrinks",
            unit="{shrink}",
            description="eth_getLogs ranges halved after a refusal or timeout",
        )
        self.getlogs_cap_splits = meter.create_counter(
            "orderflow_listener_getlogs_cap_splits",
            unit="{reply}",
            description=(
                "eth_getLogs replies whose length is a known result cap (possibly truncated "
                "without an error): split in two and read again"
            ),
        )
        self.getlogs_narrowed_blocks = meter.create_counter(
            "orderflow_listener_getlogs_narrowed_blocks",
            unit="{block}",
            description=(
                "Single blocks whose eth_getLogs reply is at a result cap: read again per "
                "address, then per topic0"
            ),
        )
        self.getlogs_behind = meter.create_counter(
            "orderflow_listener_getlogs_behind",
            unit="{reply}",
            description=(
                "eth_getLogs replies without the logs of a block whose bloom matched and that "
                "holds some read by its hash (a backend behind the head): read again"
            ),
        )
        self.subscription_missed_blocks = meter.create_counter(
            "orderflow_listener_subscription_missed_blocks",
            unit="{block}",
            description=(
                "Blocks whose bloom matched the filter, of which the logs subscription sent no "
                "log while a read by hash found some: read with eth_getLogs (a second in a row "
                "ends the session: the subscription is taken as dead)"
            ),
        )
        self.bloom_false_positives = meter.create_counter(
            "orderflow_listener_bloom_false_positives",
            unit="{block}",
            description=(
                "Blocks whose bloom matched the filter while the reply had none of their logs, "
                "and a read by hash found none either (a bloom false positive)"
            ),
        )
        self.getlogs_capped_blocks = meter.create_counter(
            "orderflow_listener_getlogs_capped_blocks",
            unit="{block}",
            description=(
                "Single blocks with an (address, topic0) eth_getLogs reply still at a result "
                "cap: stored as returned, possibly incomplete (alert on any)"
            ),
        )
        self.confirming_reads = meter.create_counter(
            "orderflow_listener_confirming_reads",
            unit="{read}",
            description=(
                "Trailing, confirming reads: stored blocks CONFIRM_DEPTH_BLOCKS deep read again "
                "with eth_getLogs, a range of CONFIRM_RANGE_BLOCKS at a time"
            ),
        )
        self.confirming_read_found = meter.create_counter(
            "orderflow_listener_confirming_read_found",
            unit="{log}",
            description=(
                "Fills and matches the confirming read stored that were not stored before: left "
                "out of a block by the logs subscription or an eth_getLogs reply (alert on any)"
            ),
        )
        self.head_lag = meter.create_gauge(
            "orderflow_listener_head_lag_blocks",
            unit="{block}",
            description="Node head minus the stored checkpoint",
        )

    def count_batch(self, batch: DecodedBatch, rows: CopyRows | None = None) -> None:
        """Count a stored batch; ``rows``: its fills and matches when they came rendered."""
        rendered = rows.fill_count + rows.match_count if rows is not None else 0
        self.logs.add(len(batch) + rendered)
        self.trades.add(len(batch.fills) + (rows.fill_count if rows is not None else 0))
        self.dead_letters.add(len(batch.dead_letters))
