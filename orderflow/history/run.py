"""``import_file``: one history file into PostgreSQL, batch by batch, then the hand-over.

The file's layout decides what it becomes (see layouts.py): OrderFilled / OrdersMatched rows
become the listener's events (built directly, events.py) and raw logs go through the listener's
decoder, both stored by ``store_batch`` (one transaction per batch, idempotent on (chain, tx
hash, log index)) behind ``store_guard`` (a row the database refuses is a dead letter); Gamma
markets rows become registry tokens and resolutions (markets.py); blocks rows become
``orderflow_blocks`` headers (the block hashes dumps lack, blocks.py). What an import read and
stored is its ``ImportReport`` (report.py).

Reading and parsing (column-wise: identities, and the event fields of fill and match rows) run
in a worker thread one batch ahead of the database (prefetch.py).
After the last batch of a file of events, the highest block it stored is recorded as the
checkpoint of the ``history`` stream and — the hand-over, unless ``hand_over=False`` — of the
``listener`` stream, so ``orderflow listen`` continues from the next block, unless the listener
owns its checkpoint (hand_over.py). Checkpoints only move forward: importing an older file later
never rewinds the listener.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Generator, Iterable
from pathlib import Path
from typing import Any

import asyncpg

from orderflow.chain import index_recovery, pending_sums
from orderflow.chain.contracts import MAINNET, ChainAddresses
from orderflow.chain.file_lines import noting_unstored
from orderflow.chain.partition_indexes import build_missing
from orderflow.chain.pending_sums import fold_in
from orderflow.chain.store_guard import store_batch_isolating
from orderflow.history.block_batches import whole_blocks
from orderflow.history.blocks import import_blocks
from orderflow.history.errors import HistoryError, LayoutError
from orderflow.history.events import Encoded, Parsed, RowDecoder
from orderflow.history.hand_over import hand_over as hand_over_to
from orderflow.history.layouts import Kind, Layout, detect
from orderflow.history.markets import Disagreement, MarketRows, store_markets
from orderflow.history.memory import collecting_less
from orderflow.history.metrics import counters
from orderflow.history.parallel import auto_workers, parsed_in_workers
from orderflow.history.prefetch import Prefetch
from orderflow.history.report import (
    DISAGREEING_NAMED,
    ImportReport,
    Position,
    advance,
    line_unit,
)
from orderflow.history.sources import RowReader
from orderflow.history.stored_makers import complete_from_stored
from orderflow.history.whole_file import FirstRows, refuse_unholdable
from orderflow.progress import Progress

log = logging.getLogger(__name__)


async def import_file(
    pool: asyncpg.Pool,
    path: str | Path,
    *,
    chain_id: int,
    addresses: ChainAddresses = MAINNET,
    batch_size: int = 10_000,
    kind: Kind | None = None,
    hand_over: bool = True,
    progress: Progress | None = None,
    via_raw_logs: bool = False,
    workers: int | None = None,
    bulk: bool = False,
    exchange: str | None = None,
) -> ImportReport:
    """Import one file; raises LayoutError (refused layout) or HistoryError (cannot go on).

    ``progress`` (by default one for the job ``import FILE``: bytes of the file, or rows of a
    Parquet file's count, with rows and dead letters) is updated after every batch.
    ``via_raw_logs`` takes every fill and match row through its raw log and the listener's
    decoder (the reference path the shortcut is tested and benchmarked against). ``workers``
    processes parse a fill or match file's batches (``parallel.py``; 0: in this process; None:
    as many as the machine has cores to spare, for files of 64 MB and more). ``bulk`` defers
    the per-(wallet, token) sums of the fills to the end of the file (``store_batch``).
    ``exchange``: the exchange address of fill and match rows without one (``--exchange``)."""
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    source = Path(path)
    report = ImportReport(path=str(source))
    started = time.perf_counter()
    with collecting_less(), RowReader(source) as reader:
        if reader.empty:  # a day of a dump without a row: nothing to import, nothing refused
            reader.check_whole()  # … unless its compressed stream broke off before one
            report.layout, report.kind = "empty file", kind or ""
            report.elapsed_secs = time.perf_counter() - started
            return report
        try:
            layout = detect(
                reader.columns, source.name, sparse=reader.format == "jsonl", exchange=exchange
            )
        except LayoutError:
            reader.check_whole()  # a header or first row the break cut: say so
            raise
        if kind is not None and layout.kind != kind:
            raise HistoryError(f"{source.name}: {layout.name}, not {kind} rows")
        refuse_unholdable(source.name, layout, reader.arrow_schema)
        report.layout, report.kind = layout.name, layout.kind
        prog = progress or Progress(
            f"import {source.name}",
            unit=reader.position_unit,
            total=reader.position()[1],
            count_unit="rows",
        )
        try:
            if layout.kind == "markets":
                await _markets(pool, reader, layout, report, prog, chain_id, addresses, batch_size)
            elif layout.kind == "blocks":
                await import_blocks(pool, reader, layout, report, prog, chain_id, batch_size)
            else:
                await _events(
                    pool,
                    reader,
                    layout,
                    report,
                    prog,
                    chain_id,
                    addresses,
                    batch_size,
                    hand_over,
                    via_raw_logs,
                    auto_workers(reader, layout) if workers is None else workers,
                    bulk,
                )
            reader.check_whole()
        finally:
            prog.finish()
    report.elapsed_secs = time.perf_counter() - started
    return report


async def _events(
    pool: asyncpg.Pool,
    reader: RowReader,
    layout: Layout,
    report: ImportReport,
    prog: Progress,
    chain_id: int,
    addresses: ChainAddresses,
    batch_size: int,
    hand_over: bool,
    via_raw_logs: bool,
    workers: int,
    bulk: bool,
) -> None:
    decoder = RowDecoder(layout, reader.path.name, line_unit(reader), chain_id, addresses)
    withheld: list[tuple[int, int]] = []  # (block, rows) of the block a cut may have split

    def parsed() -> Generator[Any, None, None]:
        batches: Iterable[tuple[Parsed, Position]]
        if workers > 0 and layout.kind != "logs":
            batches = parsed_in_workers(reader, decoder, batch_size, workers)
        else:
            batches = (
                (decoder.parse(b), reader.position()) for b in reader.column_batches(batch_size)
            )
        yield from whole_blocks(
            batches, batch_size, ended_early=lambda: reader.ended_early, withheld=withheld
        )

    top: tuple[int, str] | None = None
    ahead = Prefetch(parsed())
    async with pool.acquire() as conn:
        # in bulk mode the deferred sums are folded beside the batches (migration 080), on a
        # second connection of the pool (this one is the import's until it ends); a pool of one
        # folds on this one, between the batches
        beside = pool.get_max_size() > 1
        folds = pending_sums.BackgroundFolds(
            (
                (lambda claimed: fold_in(pool, claimed))
                if beside
                else (lambda claimed: pending_sums.fold(conn, claimed=claimed))
            ),
            beside=beside,
        )
        if bulk:  # held on this session until its end built them (index_recovery)
            await index_recovery.hold(conn)
        judge = FirstRows(reader.path.name, line_unit(reader), layout.columns)
        held: list[tuple[Parsed, Encoded, Position]] = []  # unstored while the file is judged

        async def store(batch_rows: Parsed, encoded: Encoded, at: Position) -> None:
            nonlocal top
            await complete_from_stored(conn, chain_id, encoded.batch.fills, encoded.short)
            unstored: set[tuple[str, int]] = set()
            stats = await store_batch_isolating(  # a refused row: a dead letter
                conn,
                encoded.batch,
                chain_id=chain_id,
                synchronous_commit=False,
                bulk=bulk,
                locate=noting_unstored(decoder.locator(batch_rows), unstored),
            )
            report.stored.add(stats)
            if bulk:  # bounded folds as it goes, on a connection of their own
                await folds.stored(stats.trades)
            report.rows += batch_rows.read
            report.dead_letters += stats.dead_letters
            report.batches += 1
            stored_top = encoded.top_without(unstored)
            if stored_top is not None and (top is None or stored_top[0] > top[0]):
                top = stored_top
            advance(prog, report, batch_rows.read, stats.dead_letters, at)

        try:
            while (item := await ahead.get()) is not None:
                batch_rows, at = item
                await decoder.resolve_hashes(conn, batch_rows)
                encoded = await asyncio.to_thread(
                    decoder.encode, batch_rows, via_raw_logs=via_raw_logs
                )
                if judge.held(encoded.batch):
                    held.append((batch_rows, encoded, at))
                    continue
                for earlier in held:
                    await store(*earlier)
                held.clear()
                await store(batch_rows, encoded, at)
            for earlier in held:  # a file shorter than the judged rows, all dead letters
                await store(*earlier)
        except BaseException:
            await folds.close()
            raise
        finally:
            await ahead.close()
        if bulk:  # the sums the batches deferred (a crash before this: the next reputation run)
            await folds.finish()
            # the indexes left out of the partitions it started empty (partition_indexes)
            await build_missing(conn)
            await index_recovery.release(conn)
        _check_whole(reader, withheld)  # a file cut short hands nothing over
        if top is not None:
            report.last_block = top[0]
            report.listener_kept = await hand_over_to(conn, chain_id, top, listener=hand_over)
            report.handed_over = hand_over and report.listener_kept is None


def _check_whole(reader: RowReader, withheld: list[tuple[int, int]]) -> None:
    """``reader.check_whole``, its refusal naming the block whose rows were withheld."""
    try:
        reader.check_whole()
    except HistoryError as exc:
        if not withheld:
            raise
        block, rows = withheld[0]
        raise HistoryError(
            f"{exc}. The {rows:,} rows read of block {block}, the last read, were not stored "
            "either: they are not in log order, so the rest of that block, in the part that is "
            "missing, may hold makers of a taker among them (its executed amounts need them all)"
        ) from None


async def _markets(
    pool: asyncpg.Pool,
    reader: RowReader,
    layout: Layout,
    report: ImportReport,
    prog: Progress,
    chain_id: int,
    addresses: ChainAddresses,
    batch_size: int,
) -> None:
    markets = MarketRows(reader.path.name, line_unit(reader), chain_id, addresses)
    decoder = RowDecoder(layout, reader.path.name, line_unit(reader), chain_id, addresses)

    def parsed() -> Generator[Any, None, None]:
        for rows, bad in reader.batches(batch_size):
            batch = markets.parse(rows)
            batch.dead.extend(decoder.dead(b.number, b.reason, text=b.text) for b in bad)
            yield batch, len(rows) + len(bad), reader.position()

    ahead = Prefetch(parsed())
    async with pool.acquire() as conn:
        try:
            while (item := await ahead.get()) is not None:
                batch, read, at = item
                stored = await store_markets(conn, chain_id, batch)  # dead letters too
                report.rows += read
                report.batches += 1
                report.dead_letters += len(batch.dead)
                report.markets += batch.markets
                report.markets_skipped += batch.skipped
                report.tokens += stored.tokens
                report.trades_joined += stored.trades_joined
                report.gamma_resolutions += stored.resolutions
                _disagreements(report, stored.disagreements)
                advance(prog, report, read, len(batch.dead), at)
        finally:
            await ahead.close()
    _warn_winners(
        reader.path.name,
        "the chain's resolution for %d markets (the chain's stands; Gamma's is only noted "
        "beside it)",
        report.gamma_disagreements,
        report.disagreeing,
        "disagreements",
    )
    _warn_winners(
        reader.path.name,
        "an earlier Gamma import for %d markets (the earlier resolution stands: the first "
        "Gamma gave a market stays)",
        report.gamma_conflicts,
        report.conflicting,
        "conflicts",
    )


def _warn_winners(file: str, against: str, count: int, markets: list[str], key: str) -> None:
    """Warn that Gamma names another winner than ``against`` says for ``count`` markets (the
    first few named in ``markets``); nothing when there are none."""
    if not count:
        return
    more = count - len(markets)
    log.warning(
        "%s: Gamma names another winner than " + against + ": %s%s",
        file,
        count,
        ", ".join(markets),
        f" and {more} more" if more else "",
        extra={"markets": markets, key: count},
    )


def _disagreements(report: ImportReport, found: list[Disagreement]) -> None:
    chain = [str(d) for d in found if d.source != "gamma"]
    if chain:
        report.gamma_disagreements += len(chain)
        report.disagreeing.extend(chain[: DISAGREEING_NAMED - len(report.disagreeing)])
        counters().gamma_disagreements.add(len(chain), {"kind": "markets"})
    gamma = [str(d) for d in found if d.source == "gamma"]
    if gamma:
        report.gamma_conflicts += len(gamma)
        report.conflicting.extend(gamma[: DISAGREEING_NAMED - len(report.conflicting)])
        counters().gamma_conflicts.add(len(gamma), {"kind": "markets"})
