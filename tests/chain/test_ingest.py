"""File import: the shipped sample stores exactly the expected rows; malformed lines are kept."""

from __future__ import annotations

import asyncio
import contextlib
from decimal import Decimal
from pathlib import Path

import asyncpg
import pytest

from orderflow.chain import ingest, pending_sums
from orderflow.chain.checkpoints import get_checkpoint
from orderflow.chain.ingest import ingest_file, ingest_logs
from orderflow.chain.partition_indexes import build_missing_in
from tests.chain import sample_logs as s

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "samples" / "polymarket-logs.jsonl"
MALFORMED = Path(__file__).parent / "data" / "malformed.jsonl"


def test_shipped_sample_matches_its_generator() -> None:
    assert SAMPLE.read_text() == s.render(), "regenerate: python -m tests.chain.sample_logs"


async def test_sample_import_stores_the_expected_rows(pool: asyncpg.Pool) -> None:
    report = await ingest_file(pool, SAMPLE, chain_id=137, batch_size=4)
    stored = report.stored
    # 4 batches, not 5: a batch is extended to the end of the transaction it stops in.
    assert (report.lines, report.batches, stored.dead_letters) == (17, 4, 0)
    assert (stored.trades, stored.matches, stored.conditions, stored.outcomes) == (9, 3, 2, 1)
    assert stored.tokens == 7  # 2 + 2 prepared, 2 from TokenRegistered, 1 ExchangeV3 id
    rows = await pool.fetch(
        "SELECT wallet_address, side, size, usdc_size, price, fee, fee_asset, is_taker_aggregate,"
        " market_id, outcome_index, exchange_version, match_log_index"
        " FROM orderflow_trades ORDER BY block_number, log_index"
    )
    assert [tuple(r) for r in rows] == [
        (
            s._w(0xA1),
            "SELL",
            Decimal(10),
            Decimal("4.2"),
            Decimal("0.42"),
            Decimal(0),
            "COLLATERAL",
            False,
            s.STD,
            0,
            "V1",
            13,
        ),
        (
            s._w(0xA2),
            "SELL",
            Decimal(20),
            Decimal("8.4"),
            Decimal("0.42"),
            Decimal("0.084"),
            "COLLATERAL",
            False,
            s.STD,
            0,
            "V1",
            13,
        ),
        (
            s._w(0xC0),
            "BUY",
            Decimal(30),
            Decimal("12.6"),
            Decimal("0.42"),
            Decimal("0.3"),
            "SHARES",
            True,
            s.STD,
            0,
            "V1",
            13,
        ),
        (
            s._w(0xA3),
            "SELL",
            Decimal(50),
            Decimal("11.5"),
            Decimal("0.23"),
            Decimal("0.023"),
            "COLLATERAL",
            False,
            s.NEG,
            1,
            "V1",
            None,
        ),
        (
            s.REAL_MAKER,
            "BUY",
            Decimal(5),
            Decimal("3.55"),
            Decimal("0.71"),
            Decimal("0.03088"),
            "COLLATERAL",
            True,
            s.BTC,
            0,
            "V2",
            None,
        ),
        (
            s._w(0xA4),
            "SELL",
            Decimal(8),
            Decimal(2),
            Decimal("0.25"),
            Decimal(0),
            "COLLATERAL",
            False,
            s.NEG,
            1,
            "V2",
            2,
        ),
        (
            s._w(0xC1),
            "BUY",
            Decimal(8),
            Decimal(2),
            Decimal("0.25"),
            Decimal("0.03"),
            "COLLATERAL",
            True,
            s.NEG,
            1,
            "V2",
            2,
        ),
        (
            s._w(0xA5),
            "BUY",
            Decimal(12),
            Decimal("7.2"),
            Decimal("0.6"),
            Decimal(0),
            "COLLATERAL",
            False,
            "0x" + format(s.V3_YES, "064x"),
            0,
            "V3",
            7,
        ),
        (
            s._w(0xC2),
            "SELL",
            Decimal(12),
            Decimal("7.2"),
            Decimal("0.6"),
            Decimal("0.0432"),
            "COLLATERAL",
            True,
            "0x" + format(s.V3_YES, "064x"),
            0,
            "V3",
            7,
        ),
    ]
    real = await pool.fetchrow(
        "SELECT tx_hash, log_index, exchange, timestamp FROM orderflow_trades"
        " WHERE wallet_address = $1",
        s.REAL_MAKER,
    )
    assert (real["tx_hash"], real["log_index"]) == (s.REAL_TX, 1535)
    assert real["exchange"] == "0xe111180000d2663c0091e4f400237545b87b996b"
    outcome = await pool.fetchrow("SELECT winning_outcome, payouts FROM orderflow_market_outcomes")
    assert (outcome[0], outcome[1]) == (0, [Decimal(1), Decimal(0)])
    # market volume counts each match once: the OrdersMatched rows
    volume = await pool.fetchval("SELECT sum(usdc_size) FROM orderflow_matches")
    assert volume == Decimal("21.8")

    again = await ingest_file(pool, SAMPLE, chain_id=137)
    assert (again.stored.trades, again.stored.duplicate_trades, again.stored.tokens) == (0, 9, 0)
    assert await pool.fetchval("SELECT count(*) FROM orderflow_trades") == 9


async def test_malformed_lines_become_dead_letters_and_processing_continues(
    pool: asyncpg.Pool,
) -> None:
    report = await ingest_file(pool, MALFORMED, chain_id=137, stream="file:malformed")
    assert (report.lines, report.logs, report.malformed_lines) == (6, 3, 3)
    stored = report.stored
    assert (stored.matches, stored.trades, stored.removed, stored.dead_letters) == (1, 0, 1, 4)
    letters = await pool.fetch(
        "SELECT source_file, source_line, reason FROM orderflow_dead_letters ORDER BY source_line"
    )
    assert all(r["source_file"] == "malformed.jsonl" for r in letters)
    reasons = [r["reason"] for r in letters]
    assert reasons[2].startswith("malformed.jsonl line 5: OrderFilled (V3) data is 49 bytes, ")
    assert reasons[:2] + reasons[3:] == [
        "malformed.jsonl line 2: not JSON (Expecting value: line 1 column 1 (char 0))",
        "malformed.jsonl line 4: a JSON list, not a log object",
        "malformed.jsonl line 7: a JSON str, not a log object",
    ]
    raw = await pool.fetchval(
        "SELECT raw FROM orderflow_dead_letters WHERE tx_hash IS NULL ORDER BY raw->>'line' LIMIT 1"
    )
    assert raw == {"file": "malformed.jsonl", "line": 2, "text": "this is not json {"}
    async with pool.acquire() as conn:
        checkpoint = await get_checkpoint(conn, 137, "file:malformed")
    # The highest block stored: line 1's fill. Not line 5's block (88,000,000), a log the decoder
    # refused (a dead letter), nor line 6's (a removal, stored as nothing).
    assert checkpoint is not None and checkpoint.block_number == 86_823_994


async def test_ingest_logs_from_memory(pool: asyncpg.Pool) -> None:
    report = await ingest_logs(pool, s.build(), chain_id=137, batch_size=3)
    # 5 batches of 3, not 6: no transaction is split between two batches.
    assert (report.batches, report.stored.trades, report.stored.matches) == (5, 9, 3)
    assert report.logs_per_sec > 0
    assert "9 trades stored" in report.summary()


async def test_a_bulk_import_says_what_its_end_took(pool: asyncpg.Pool) -> None:
    """The fold and the index build run after the last batch (≈ a sixth of a 200,000-log
    import): the summary says how long each took, so a user sees where the time went."""
    report = await ingest_file(pool, SAMPLE, chain_id=137, bulk=True)
    assert report.fold_secs is not None and report.index_secs is not None
    assert "(of which at the end, side by side: sums folded in " in report.summary()
    assert "s, indexes built in " in report.summary()
    plain = await ingest_file(pool, SAMPLE, chain_id=137)  # batch by batch: no end
    assert (plain.fold_secs, plain.index_secs) == (None, None)
    assert "at the end" not in plain.summary()


SAFETY_SECS = 20.0  # a safety net only: the build starts at once beside the fold


async def test_a_bulk_imports_end_folds_beside_its_index_build(
    pool: asyncpg.Pool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The end's fold (one backend) and the deferred index build run side by side, each on a
    connection of its own, not one after the other with a core idle beside the fold
    (docs/benchmarks.md "The import's timeline"): here the end's fold waits for the build to
    have started, which it can only if the build does not wait for the fold."""
    build_started = asyncio.Event()
    seen: list[bool] = []
    finish = pending_sums.BackgroundFolds.finish

    async def building(p: asyncpg.Pool) -> list[str]:
        build_started.set()
        return await build_missing_in(p)

    async def folding(self: pending_sums.BackgroundFolds) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(build_started.wait(), SAFETY_SECS)
        seen.append(build_started.is_set())
        await finish(self)

    monkeypatch.setattr(ingest, "build_missing_in", building)  # as the import calls it
    monkeypatch.setattr(pending_sums.BackgroundFolds, "finish", folding)
    report = await ingest_file(pool, SAMPLE, chain_id=137, bulk=True)
    assert report.stored.trades == 9
    assert seen == [True]
    # both done: the sums of every fill, every deferred index
    assert await pool.fetchval("SELECT count(*) FROM orderflow_position_sums_pending") == 0
    assert await pool.fetchval("SELECT count(*) FROM orderflow_trade_indexes_missing()") == 0


async def test_a_failed_end_step_leaves_the_other_done_and_is_raised(
    pool: asyncpg.Pool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Side by side, the end's fold and build are independent: the one that fails is raised once
    the other has ended, and what the other did is committed (pending sums are folded by the
    next run, a partition left unindexed built by a listener or the next import)."""

    async def broken_build(p: asyncpg.Pool) -> list[str]:
        raise RuntimeError("the build failed")

    monkeypatch.setattr(ingest, "build_missing_in", broken_build)
    with pytest.raises(RuntimeError, match="the build failed"):
        await ingest_file(pool, SAMPLE, chain_id=137, bulk=True)
    assert await pool.fetchval("SELECT count(*) FROM orderflow_position_sums_pending") == 0
    assert await pool.fetchval("SELECT count(*) FROM orderflow_trade_indexes_missing()") > 0
    monkeypatch.undo()

    async def broken_fold(self: pending_sums.BackgroundFolds) -> None:
        raise RuntimeError("the fold failed")

    monkeypatch.setattr(pending_sums.BackgroundFolds, "finish", broken_fold)
    with pytest.raises(RuntimeError, match="the fold failed"):
        await ingest_file(pool, SAMPLE, chain_id=137, bulk=True)
    assert await pool.fetchval("SELECT count(*) FROM orderflow_trade_indexes_missing()") == 0


async def test_bom_and_crlf_are_tolerated(pool: asyncpg.Pool, tmp_path: Path) -> None:
    path = tmp_path / "windows.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + SAMPLE.read_text().replace("\n", "\r\n").encode())
    report = await ingest_file(pool, path, chain_id=137)
    assert (report.lines, report.malformed_lines, report.stored.trades) == (17, 0, 9)


async def test_a_bom_in_the_middle_of_an_appended_file_is_not_a_dead_letter(
    pool: asyncpg.Pool, tmp_path: Path
) -> None:
    """``cat a.jsonl b.jsonl`` where b was saved with a BOM: the BOM starts a middle line."""
    lines = SAMPLE.read_text().splitlines()
    path = tmp_path / "appended.jsonl"
    bom = "\ufeff"
    path.write_text(bom + "\n".join(lines[:8]) + "\n" + bom + "\n".join(lines[8:]) + "\n")
    report = await ingest_file(pool, path, chain_id=137)
    assert (report.stored.dead_letters, report.stored.trades) == (0, 9)
