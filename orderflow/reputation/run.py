"""Score every wallet: the set-based recompute, as a read-only API and as the persisted run.

Public entry points:

* :func:`compute_scores` -- scores as of a time, returned to the caller, nothing written
  (backtests: ``await compute_scores(pool, as_of=t)``);
* :func:`run_reputation` -- the CronJob: compute, snapshot changes into
  ``orderflow_reputation_history``, upsert ``orderflow_wallet_stats``, replace
  ``orderflow_reputation_issues`` (as of a past time: the history only).

Both read the database only through the as_of gate of :mod:`orderflow.reputation.gate`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import asdict
from datetime import datetime
from typing import Any, TypeAlias

import asyncpg

from orderflow.chain import partition_indexes, rereads
from orderflow.chain.pending_sums import fold as fold_pending_sums
from orderflow.errors import ConfigError, DatabaseError
from orderflow.reputation import beside as beside_mod
from orderflow.reputation import (
    changes,
    copy_state,
    detached_lines,
    detached_void,
    line_sql,
    persist_sql,
    positions_sql,
    scores_sql,
    stored_inputs,
    wallet_split,
    wash_state,
)
from orderflow.reputation import evidence_sql as ev
from orderflow.reputation import incremental as inc
from orderflow.reputation.beside import Beside
from orderflow.reputation.population_step import Population, population_step
from orderflow.reputation.prior import Prior
from orderflow.reputation.run_models import RunSummary, WalletScore
from orderflow.reputation.run_persist import persist
from orderflow.reputation.settings import ReputationSettings
from orderflow.reputation.sums_sql import SUMS_MAY_MISS_FILLS
from orderflow.reputation.wash_sql import WASH, wash_settings

log = logging.getLogger(__name__)

RUN_LOCK_KEY = 0x6F72_6466_7265_7075  # "ordfrepu": one reputation run at a time

Db: TypeAlias = "asyncpg.Pool | asyncpg.Connection"


@asynccontextmanager
async def _connection(db: Db) -> AsyncIterator[asyncpg.Connection]:
    """A connection from a pool or the one given; PostgreSQL errors become DatabaseError.

    (An amount too large for int8 micro-units, 9.2e12 USDC or shares in one fill, is such an
    error: it stops the run with a message rather than a traceback.)
    """
    try:
        if isinstance(db, asyncpg.Pool):
            async with db.acquire() as conn:
                yield conn
        else:
            yield db
    except asyncpg.PostgresError as exc:
        raise DatabaseError(f"reputation run failed: {type(exc).__name__}: {exc}") from exc


@asynccontextmanager
async def _read_only(db: Db) -> AsyncIterator[asyncpg.Connection]:
    """:func:`_connection` inside a transaction of its own that is rolled back at the end: a
    read-only recompute (:func:`compute_scores`, :func:`population_as_of`) leaves none of its
    temporary tables behind. Committed, they went with the commit; on a connection the caller
    already holds in a transaction (a savepoint, then) they stayed, and the next recompute on it
    found the first one's ``rep_positions``."""
    async with _connection(db) as conn:
        tx = conn.transaction()
        await tx.start()
        try:
            yield conn
        finally:
            await tx.rollback()


class _Stopwatch:
    """Seconds per stage, reported in the run summary (and by the benchmark)."""

    def __init__(self) -> None:
        self.stages: dict[str, float] = {}
        self._last = time.perf_counter()

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.stages[name] = round(now - self._last, 3)
        self._last = now

    def take(self, stages: dict[str, float]) -> None:
        """Stages timed elsewhere (the incremental build), up to now."""
        self.stages.update(stages)
        self._last = time.perf_counter()


async def _stored(conn: asyncpg.Connection, as_of: datetime | None, cutoff: datetime) -> bool:
    """Whether the positions can come from the stored sums (migration 011) rather than a scan:
    a run at the present (``as_of`` not given) with no fill stamped after the cut-off (a block
    time ahead of the database clock) and no bulk-imported rows whose sums are pending (the
    read-only ``compute_scores`` does not fold them): the sums then hold every stored fill."""
    if as_of is not None:
        return False
    incomplete = await conn.fetchval(SUMS_MAY_MISS_FILLS, cutoff)
    return not incomplete


async def build_evidence(
    conn: asyncpg.Connection,
    as_of: datetime,
    settings: ReputationSettings,
    watch: _Stopwatch | None = None,
    *,
    stored: bool = False,
    beside: Beside | None = None,
) -> int:
    """``rep_positions``, ``rep_wash`` (and its hosts, which the closing lines leave out:
    :func:`orderflow.reputation.line_sql.keep_hosts`), ``rep_close`` and ``rep_void``, what the
    wallets statement reads, inside the caller's transaction; returns the number of positions
    (as the statement that wrote them counted them: no second scan of millions of rows).

    ``stored``: the positions from the per-(wallet, token) sums instead of a scan of the trades
    gated at ``as_of`` (same rows: see :func:`_stored`). ``beside``: ``rep_wash`` taken from the
    second connection when it makes it (:mod:`orderflow.reputation.beside`)."""
    watch = watch or _Stopwatch()
    await beside_mod.set_local(conn, settings)
    status = await conn.execute(positions_sql.positions(stored=stored), as_of)
    await conn.execute(positions_sql.ANALYZE)
    watch.lap("positions")
    if beside is not None and beside.has(beside_mod.COUNTERPARTIES):
        await beside.take(conn, beside_mod.COUNTERPARTIES)  # made beside the positions
    else:
        await conn.execute(WASH, as_of, *wash_settings(settings))
    watch.lap("counterparties")
    # the lines leave out the matches inside one wash group (line_sql): its hosts first
    await line_sql.keep_hosts(conn, "rep_wash")
    await conn.execute(ev.CLOSES, as_of, settings.clv_horizon)
    if stored:  # the lines of fills no longer attached: the stored ones (detached_lines)
        await detached_lines.keep(conn, as_of)
    await conn.execute("ANALYZE rep_close")
    watch.lap("closes")
    await conn.execute(ev.VOID, as_of)
    if stored:  # the voided fills no longer attached: the stored rows (detached_void)
        await detached_void.keep(conn, as_of)
    watch.lap("void")
    return int(status.split()[-1])  # "SELECT <rows>"


async def _build(
    conn: asyncpg.Connection,
    as_of: datetime,
    settings: ReputationSettings,
    watch: _Stopwatch | None = None,
    *,
    stored: bool = False,
    legs: datetime | None = None,
    keep_copies: bool = False,
    beside: Beside | None = None,
    keep_standing: bool = False,
) -> tuple[Population, int]:
    """Create the temp tables up to ``rep_final`` inside the caller's transaction (``stored``:
    see :func:`build_evidence`); what the population step found, and the number of positions.
    ``keep_copies``: the COPIER cells stored for the next incremental runs
    (:func:`orderflow.reputation.copy_state.build`).
    ``legs``: the neg-risk legs' cut-off (:func:`orderflow.reputation.gate.gated_conditions`:
    the ``as_of`` asked for; None at the present, every stored leg).
    ``beside``: the tables the second connection makes (:mod:`orderflow.reputation.beside`);
    ``keep_standing``: the population step's (every wallet's standing kept, to be stored)."""
    watch = watch or _Stopwatch()
    positions = await build_evidence(conn, as_of, settings, watch, stored=stored, beside=beside)
    await wallet_split.wallets(conn, settings, legs, beside)  # (the side's half: after COPIER)
    watch.lap("wallets")
    if beside is not None and beside.has(beside_mod.COPIERS):
        await beside.take(conn, beside_mod.COPIERS)
    else:
        await copy_state.build(conn, as_of, settings, keep=keep_copies)
    watch.lap("copiers")
    if await wallet_split.append(conn, beside):
        watch.lap("wallets_side")
    return await population_step(conn, settings, watch, keep_standing=keep_standing), positions


async def _as_of(conn: asyncpg.Connection, as_of: datetime | None) -> datetime:
    if as_of is not None:
        return as_of
    now = await conn.fetchval("SELECT now()")
    assert isinstance(now, datetime)
    return now


def _nan_none(value: Any) -> float | None:
    if value is None:
        return None
    f = float(value)
    return None if f != f else f


async def compute_scores(
    db: Db, *, as_of: datetime | None = None, settings: ReputationSettings | None = None
) -> dict[str, WalletScore]:
    """Every wallet's score using only trades and resolutions known at ``as_of``.

    Writes nothing (its temporary tables are rolled back): safe to call from a backtest against
    a live database, also on a connection the caller holds in a transaction, any number of
    times. ``as_of=None`` means now.
    """
    settings = settings or ReputationSettings()
    async with _read_only(db) as conn:
        cutoff = await _as_of(conn, as_of)
        stored = await _stored(conn, as_of, cutoff)
        await _build(conn, cutoff, settings, stored=stored, legs=as_of)
        rows = await conn.fetch(scores_sql.SCORE_ROWS)
    return {
        r["wallet_address"]: WalletScore(
            wallet_address=r["wallet_address"],
            score=r["score"],
            tier=r["tier"],
            edge=_nan_none(r["edge"]) or 0.0,
            edge_raw=_nan_none(r["edge_raw"]),
            edge_se=_nan_none(r["edge_se"]),
            resolved_buys=int(r["events"]),
            resolved_positions=r["resolved"],
            wins=r["wins"],
            losses=r["losses"],
            factors=r["factors"],
            flags=tuple(r["flags"]),
            p_edge_above_cost=_nan_none(r["p_above_cost"]),
            p_edge_below_zero=_nan_none(r["p_below_zero"]),
            clv_edge=_nan_none(r["clv_edge"]),
            clv_se=_nan_none(r["clv_se"]),
            maker_volume_share=_nan_none(r["maker_share"]),
        )
        for r in rows
    }


async def population_as_of(
    db: Db, wallet: str, *, as_of: datetime, settings: ReputationSettings | None = None
) -> tuple[Prior, dict[str, Any] | None]:
    """The population prior as of ``as_of`` and ``wallet``'s factors JSON then (None: no row):
    what ``orderflow wallet --as-of`` scores its replay with. The stored row (the last run's)
    was read against a later population and with later counterparties: look-ahead at ``as_of``.
    Costs one read-only ``compute_scores``; writes nothing."""
    settings = settings or ReputationSettings()
    async with _read_only(db) as conn:
        population, _ = await _build(conn, as_of, settings, legs=as_of)
        factors = await conn.fetchval(scores_sql.WALLET_FACTORS, wallet)
    return population.prior, factors


async def run_reputation(
    db: Db,
    *,
    as_of: datetime | None = None,
    settings: ReputationSettings | None = None,
    full: bool = False,
) -> RunSummary:
    """Recompute and persist every wallet's statistics, score and tier in one transaction.

    A run at the present is incremental when the last live full run left its inputs
    (:mod:`orderflow.reputation.incremental`; ``full=True`` forces the full recompute) and
    at most ``settings.incremental_max_share`` of the wallets have changed fills (past that, a
    full recompute costs less; it also builds the counterparty cells the next incremental run
    updates; so does a run after the change logs were dropped past their bound, which is a full
    one); the result is the same either way. With ``as_of`` (not after the database clock: a
    ``ConfigError``) the trades are scanned and only score history is written, stamped
    ``as_of`` (:data:`orderflow.reputation.persist_sql.AS_OF_HISTORY`): the stored rows, the
    population row, the issues and the next incremental run's inputs stay as the last live run
    left them. A run that finds another one in progress returns ``skipped=True`` without
    waiting.
    """
    settings = settings or ReputationSettings()
    started = time.perf_counter()
    async with _connection(db) as conn:  # sums a bulk import deferred, in their own transaction
        await fold_pending_sums(conn, everything=True)
        if (pending := await rereads.describe(conn)) is not None:
            log.warning("scores may miss trades: %s", pending)
        if unindexed := await partition_indexes.missing(conn):
            log.warning(
                "trades partitions without their wallet/token/time indexes (a killed bulk"
                " import's): read by scans, slower; a listener or `orderflow db partitions"
                " index` builds them",
                extra={"partitions": unindexed},
            )
    async with _connection(db) as conn, conn.transaction():
        now = await conn.fetchval("SELECT now()")
        if as_of is not None and as_of > now:
            raise ConfigError(
                f"--as-of {as_of.isoformat()} is after the database clock ({now.isoformat()}):"
                " the scores at the present are a run without --as-of"
            )
        cutoff = as_of or now
        computed_at = cutoff
        if not await conn.fetchval("SELECT pg_try_advisory_xact_lock($1)", RUN_LOCK_KEY):
            log.warning("another reputation run holds the lock; skipping")
            return RunSummary(as_of=cutoff, computed_at=computed_at, skipped=True)
        # its own writes of scores are not "touched" rows (migration 027)
        await conn.execute("SET LOCAL orderflow.reputation_writer = 'on'")
        watch = _Stopwatch()
        stored = await _stored(conn, as_of, cutoff)
        incremental = stored and not full and await stored_inputs.ready(conn, settings)
        # the change logs dropped past their bound (migration 057): a switch, whatever the share
        overflowed = incremental and bool(await conn.fetchval(changes.OVERFLOWED))
        # a partition attached again (migration 076): a switch too
        reattached = incremental and not overflowed and await changes.reattached(conn)
        share = None
        if incremental and not (overflowed or reattached) and settings.incremental_max_share < 1:
            share = await changes.changed_share(conn, settings.incremental_max_share)
        switched = (
            overflowed
            or reattached
            or (share is not None and share > settings.incremental_max_share)
        )
        incremental = incremental and not switched
        rescored = None
        copy_cells = "rebuilt" if switched else None
        if incremental:
            await conn.execute(f"SET LOCAL work_mem = '{settings.work_mem}'")
            rescored, stages, copy_cells = await inc.build(conn, cutoff, settings)
            watch.take(stages)
            population = await population_step(
                conn, settings, watch, only_changed=True, wallets=stored_inputs.INPUTS
            )
            positions = await conn.fetchval("SELECT count(*) FROM rep_positions")  # the dirty
        else:
            if stored:  # before reading: a change committed from here on stays marked
                await changes.clear(conn, cutoff)
            # switched: the next runs are incremental: their counterparty and COPIER cells now,
            # as the incremental run would have left them (not at the next run's expense)
            beside = await beside_mod.for_run(
                db, conn, cutoff, settings, stored=stored, switched=switched
            )
            try:
                population, positions = await _build(
                    conn, cutoff, settings, watch, stored=stored, legs=as_of,
                    keep_copies=switched, beside=beside, keep_standing=stored and as_of is None,
                )  # fmt: skip
            finally:
                if beside is not None:
                    await beside.close()
                    watch.stages.update({f"beside_{k}": v for k, v in beside.stages.items()})
            if switched:
                await wash_state.build(conn, cutoff, settings)
                watch.lap("counterparty_cells")
        if as_of is None:
            history, issues = await persist(
                conn, population, settings, watch, cutoff, incremental=incremental, stored=stored
            )
        else:  # a look at the past: its history, nothing live (persist_sql.AS_OF_HISTORY)
            status = await conn.execute(persist_sql.AS_OF_HISTORY, cutoff)
            history = int(status.split()[-1])
            watch.lap("history")
            issues = {
                r["problem"]: r["positions"]
                for r in await conn.fetch(persist_sql.POSITION_ISSUE_COUNTS)
            }
        await conn.execute(scores_sql.DROP_FINAL)
    summary = RunSummary(
        as_of=cutoff,
        computed_at=computed_at,
        unindexed_partitions=unindexed,
        wallets=population.wallets,
        positions=positions,
        history_rows=history,
        tiers=population.tiers,
        prior=asdict(population.prior),
        issues=issues,
        seconds=round(time.perf_counter() - started, 3),
        stages=watch.stages,
        source="sums" if stored else "trades",
        incremental=incremental,
        changed_share=share,
        switched=switched,
        overflowed=overflowed,
        reattached=reattached,
        copy_cells=copy_cells,
        rescored=population.wallets if rescored is None else rescored,
        candidates=population.sent,
    )
    if issues:
        log.warning(
            "reputation inputs with problems (see orderflow_reputation_issues)",
            extra={"issues": issues},
        )
    log.info("reputation run done", extra=summary.model_dump(mode="json"))
    return summary
