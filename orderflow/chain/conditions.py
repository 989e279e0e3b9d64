"""The one-time condition sync: every market ConditionalTokens ever prepared, mapped.

The live stream learns a market's token ids from the ConditionPreparation (or resolution) it
sees; a market prepared before the stream's first block would stay unmapped until it
resolves. On its first start the listener therefore reads every ConditionPreparation and
ConditionResolution of the CTF from ``CONDITION_SYNC_FROM_BLOCK`` (its deployment) up to the
stream's checkpoint at that moment — the range is fixed once in ``orderflow_condition_sync``.
Each range is stored with the checkpoint of the stream ``conditions`` in one transaction, so
a restart resumes where it stopped; tokens learned this way back-fill ``market_id`` and
``outcome_index`` of trades already stored (``store.store_batch``). It runs beside the live
listener (the writers' lock serialises their transactions), over ``POLYGON_HTTP_URL`` when
set, and reports blocks done, speed and ETA as log lines and gauges.

Cost: one eth_getLogs per range (``CONDITION_SYNC_MAX_BLOCKS``, halved on refusal), plus one
eth_getBlockByNumber for each block holding a log within ``REORG_WINDOW_BLOCKS`` of the end
(checked against the logs, as in every backfill) and one eth_getBlockByHash per block holding a
resolution when the node leaves ``blockTimestamp`` out. See docs/listener.md for mainnet.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass

import asyncpg

from orderflow.chain.adaptive_range import AdaptiveRange, StatedLimit
from orderflow.chain.backfill import STREAM, Backfiller
from orderflow.chain.backfill_headers import HeaderCache
from orderflow.chain.backfill_report import BackfillReport
from orderflow.chain.checkpoints import get_checkpoint
from orderflow.chain.contracts import TOPIC_CONDITION_PREPARATION, TOPIC_CONDITION_RESOLUTION
from orderflow.chain.listener_metrics import IngestMetrics
from orderflow.chain.rpc import EthClient
from orderflow.chain.settings import ListenerSettings
from orderflow.progress import Progress

log = logging.getLogger(__name__)

CONDITIONS_STREAM = "conditions"
"""Checkpoint stream of the condition sync (orderflow_sync_checkpoints.stream)."""

SYNC_JOB = "condition sync"
"""The ``job`` of the sync's progress line and ``orderflow_progress_*`` gauges."""

_PROGRESS_EVERY_SECS = 10.0
_WAIT_FOR_STREAM_SECS = 0.5

_SELECT_PLAN = """
SELECT from_block, to_block, completed_at FROM orderflow_condition_sync WHERE chain_id = $1
"""
_INSERT_PLAN = """
INSERT INTO orderflow_condition_sync (chain_id, from_block, to_block) VALUES ($1, $2, $3)
ON CONFLICT (chain_id) DO NOTHING
"""
_COMPLETE = """
UPDATE orderflow_condition_sync SET completed_at = now()
 WHERE chain_id = $1 AND completed_at IS NULL
"""


@dataclass(frozen=True, slots=True)
class SyncPlan:
    """The fixed range of the sync and where it stands."""

    from_block: int
    to_block: int
    next_block: int  # first block still to read

    @property
    def total(self) -> int:
        return max(0, self.to_block - self.from_block + 1)

    @property
    def done(self) -> int:
        return max(0, min(self.next_block, self.to_block + 1) - self.from_block)

    @property
    def complete(self) -> bool:
        return self.next_block > self.to_block


def sync_progress(plan: SyncPlan) -> Progress:
    """The sync's progress (job ``condition sync``, in blocks): a log line after the first
    range, then every 10 s, and the ``orderflow_progress_*`` gauges."""
    return Progress(
        SYNC_JOB,
        unit="blocks",
        total=plan.total,
        done=plan.done,
        log_interval=_PROGRESS_EVERY_SECS,
        log_first=True,
    )


class ConditionSync:
    """Reads the CTF's conditions from its deployment to where the listener's stream began."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        client: EthClient,
        settings: ListenerSettings,
        *,
        metrics: IngestMetrics,
        stated: StatedLimit | None = None,
    ) -> None:
        """``stated``: the eth_getLogs limit the provider stated, shared with the listener's
        backfill of the same provider (a new one when the sync runs alone)."""
        self.pool = pool
        self.client = client
        self.settings = settings
        self.metrics = metrics
        self.chain_id = settings.chain_id
        size = settings.condition_sync_max_blocks
        self.ranges = AdaptiveRange(
            size, min(settings.getlogs_min_blocks, size), size, stated=stated or StatedLimit()
        )

    async def plan(self) -> SyncPlan:
        """The sync's range (fixed on the first start) and its progress."""
        while True:
            async with self.pool.acquire() as conn:
                row = await conn.fetchrow(_SELECT_PLAN, self.chain_id)
                if row is None:
                    stream = await get_checkpoint(conn, self.chain_id, STREAM)
                    if stream is not None:
                        await conn.execute(
                            _INSERT_PLAN,
                            self.chain_id,
                            self._first_block(stream.block_number),
                            stream.block_number,
                        )
                        row = await conn.fetchrow(_SELECT_PLAN, self.chain_id)
                if row is not None:
                    cp = await get_checkpoint(conn, self.chain_id, CONDITIONS_STREAM)
                    break
            # The listener's stream has not stored its first block yet: where it starts
            # (START_BLOCK, or the head) is where the sync ends.
            await asyncio.sleep(_WAIT_FOR_STREAM_SECS)
        first = row["from_block"]
        next_block = max(first, cp.block_number + 1) if cp is not None else first
        return SyncPlan(first, row["to_block"], next_block)

    def _first_block(self, stream_start: int) -> int:
        """CONDITION_SYNC_FROM_BLOCK; by default the CTF's mainnet deployment, unless the
        chain is younger than that (a local node with the contracts deployed anew): then 0."""
        first = self.settings.condition_sync_from_block
        explicit = "condition_sync_from_block" in self.settings.model_fields_set
        if not explicit and first > stream_start:
            return 0
        return first

    async def run(self) -> BackfillReport | None:
        """Sync what is left (nothing once complete); returns the report of this run."""
        plan = await self.plan()
        if plan.complete:
            await self._mark_complete()
            sync_progress(plan).publish()  # done = total, ETA 0
            return None
        log.info(
            "condition sync: reading every ConditionalTokens condition once "
            + ("(first start)" if plan.done == 0 else "(resuming)"),
            extra={
                "from_block": plan.next_block,
                "to_block": plan.to_block,
                "blocks_done": plan.done,
                "blocks_total": plan.total,
            },
        )
        progress = sync_progress(plan)

        def advance(start: int, end: int) -> None:
            progress.update(progress.done + end - start + 1, extra={"to_block": end})

        addresses = self.settings.addresses
        backfiller = Backfiller(
            self.pool,
            self.client,
            chain_id=self.chain_id,
            addresses=addresses,
            ranges=self.ranges,
            headers=HeaderCache(self.client),
            stream=CONDITIONS_STREAM,
            log_filter={
                "address": [addresses.ctf],
                "topics": [[TOPIC_CONDITION_PREPARATION, TOPIC_CONDITION_RESOLUTION]],
            },
            verify_depth=self.settings.reorg_window_blocks,
            end_headers=False,
            untimed_conditions=True,
            on_range=advance,
            result_caps=self.settings.getlogs_result_caps,
        )
        started = time.monotonic()
        report = await backfiller.run(plan.next_block, plan.to_block)
        await self._mark_complete()
        progress.finish()  # the final line; the gauges at done = total, ETA 0
        log.info(
            "condition sync complete",
            extra={
                "from_block": plan.from_block,
                "to_block": plan.to_block,
                "ranges": report.ranges,
                "conditions": report.conditions,
                "resolutions": report.resolutions,
                "secs": round(time.monotonic() - started, 1),
            },
        )
        return report

    async def _mark_complete(self) -> None:
        async with self.pool.acquire() as conn:
            await conn.execute(_COMPLETE, self.chain_id)
