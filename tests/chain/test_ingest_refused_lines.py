"""``listen --from-file``: a log the decoder refuses is a dead letter naming its file and line.

A line that parses as a JSON object but that the decoder refuses (too few topics, a data word
too short, an unknown event of a known exchange, a missing field) is found in a large file only
by its line: the dead letter carries it (``source_file``, ``source_line``, and the reason
starts with ``<file> line <n>:``), whichever path decodes its batch — the fast path
(``decode_fast``), the general decoder (a batch holding a retracted log), in a thread or in a
decoding process."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from orderflow.chain.checkpoints import get_checkpoint
from orderflow.chain.decode import decode_batch
from orderflow.chain.fields import MAX_BLOCK_NUMBER
from orderflow.chain.file_lines import LineBatch, lines_locator
from orderflow.chain.ingest import ingest_file, ingest_logs
from orderflow.chain.store_guard import store_batch_isolating
from tests.chain import sample_logs as s
from tests.chain.hostile import fill


def _spoilt(removed_line: bool) -> tuple[list[dict[str, Any]], dict[int, str]]:
    """The sample's logs with four of them spoilt; {line: what is wrong}."""
    logs = s.build()
    bad: dict[int, str] = {}
    logs[4] = {**logs[4], "topics": logs[4]["topics"][:2]}  # an OrderFilled with 2 topics
    bad[5] = "topic"
    logs[10] = {**logs[10], "data": logs[10]["data"][:100]}  # a V2 fill's data cut short
    bad[11] = "data"
    logs[7] = {**logs[7], "topics": ["0x" + "ab" * 32, *logs[7]["topics"][1:]]}
    bad[8] = "unknown topic0"
    spoilt = dict(logs[13])
    del spoilt["logIndex"]
    logs[13] = spoilt
    bad[14] = "logIndex"
    if removed_line:  # a retracted log: the batch is decoded the general way
        logs.append({**logs[0], "removed": True, "blockNumber": hex(99_000_000)})
    return logs, bad


@pytest.mark.parametrize("workers", [0, 1])
@pytest.mark.parametrize("general", [False, True], ids=["fast-path", "general-path"])
async def test_a_refused_log_names_its_file_and_line(
    pool: asyncpg.Pool, tmp_path: Path, workers: int, general: bool
) -> None:
    logs, bad = _spoilt(general)
    path = tmp_path / "logs.jsonl"
    # A blank line first: line numbers count every line, as for a malformed line.
    path.write_text("\n" + "".join(json.dumps(log) + "\n" for log in logs))
    report = await ingest_file(pool, path, chain_id=137, workers=workers)
    assert (report.stored.dead_letters, report.stored.removed) == (len(bad), int(general))

    letters = await pool.fetch(
        "SELECT source_file, source_line, reason FROM orderflow_dead_letters"
        " ORDER BY source_line NULLS FIRST"
    )
    assert [(r["source_file"], r["source_line"]) for r in letters] == [
        ("logs.jsonl", line + 1) for line in sorted(bad)
    ]
    for r, (line, what) in zip(letters, sorted(bad.items()), strict=True):
        assert r["reason"].startswith(f"logs.jsonl line {line + 1}: "), r["reason"]
        assert what in r["reason"], r["reason"]


async def test_a_log_refused_from_a_node_then_read_from_a_file_gets_its_line(
    pool: asyncpg.Pool, tmp_path: Path
) -> None:
    """The dead letter's identity is the log: read from a file after a node sent it, the same
    row is seen again and now says where the file holds it."""
    logs, bad = _spoilt(False)
    await ingest_logs(pool, logs, chain_id=137)  # as a node's reply: no file
    assert await pool.fetchval(
        "SELECT count(*) FROM orderflow_dead_letters WHERE source_file IS NULL"
    ) == len(bad)
    path = tmp_path / "again.jsonl"
    path.write_text("".join(json.dumps(log) + "\n" for log in logs))
    await ingest_file(pool, path, chain_id=137)
    letters = await pool.fetch(
        "SELECT source_file, source_line, times_seen FROM orderflow_dead_letters"
        " ORDER BY source_line NULLS FIRST"
    )
    assert [tuple(r) for r in letters] == [("again.jsonl", line, 2) for line in sorted(bad)]


@pytest.mark.parametrize("workers", [0, 1])
async def test_the_writers_dead_letters_name_their_file_and_line(
    pool: asyncpg.Pool, tmp_path: Path, workers: int
) -> None:
    """Dead letters the writer makes, far from the line: a fill without blockTimestamp whose
    block is unknown (line 3), and a fill whose (block, log index) an earlier line's fill
    holds with other content (line 5, in a later batch). On main both had no file and line
    (source_file NULL, reasons without '<file> line <n>:')."""
    untimed = {k: v for k, v in fill(11, 1, 2).items() if k != "blockTimestamp"}
    lines = [fill(10, 1, 1), fill(10, 2, 1), untimed, fill(12, 1, 3), fill(10, 1, 4)]
    path = tmp_path / "logs.jsonl"
    path.write_text("".join(json.dumps(log) + "\n" for log in lines))
    report = await ingest_file(pool, path, chain_id=137, workers=workers, batch_size=1)
    assert (report.stored.trades, report.stored.dead_letters) == (3, 2)
    letters = await pool.fetch(
        "SELECT source_file, source_line, reason FROM orderflow_dead_letters"
        " ORDER BY source_line NULLS FIRST"
    )
    assert [(r["source_file"], r["source_line"]) for r in letters] == [
        ("logs.jsonl", 3),
        ("logs.jsonl", 5),
    ]
    assert letters[0]["reason"].startswith("logs.jsonl line 3: OrderFilled has no blockTimestamp")
    assert letters[1]["reason"].startswith("logs.jsonl line 5: OrderFilled at block 10, log index")


async def test_a_value_the_database_refuses_names_its_file_and_line(pool: asyncpg.Pool) -> None:
    """No file line decodes to a value the database refuses (decoding checks them all), so the
    batch is spoilt by hand, as in test_hostile: the isolating store's dead letter names the
    line its log came from. On main ``store_batch_isolating`` had no way to know it."""
    lines = [fill(10, i, i) for i in range(1, 4)]
    data = "\n".join(json.dumps(log) for log in lines).encode()
    batch = decode_batch(lines, 137)
    batch.fills[1].maker = "0xnot-an-address"
    async with pool.acquire() as conn:
        stats = await store_batch_isolating(
            conn,
            batch,
            chain_id=137,
            locate=lines_locator("f.jsonl", LineBatch(data, 7, 3, len(data))),
        )
    assert (stats.trades, stats.dead_letters) == (2, 1)
    row = await pool.fetchrow("SELECT source_file, source_line, reason FROM orderflow_dead_letters")
    assert (row["source_file"], row["source_line"]) == ("f.jsonl", 8)
    assert row["reason"].startswith("f.jsonl line 8: refused by the database")


@pytest.mark.parametrize("workers", [0, 1])
@pytest.mark.parametrize("batch_size", [1, 5000])
@pytest.mark.parametrize("why", ["refused by the database", "is not a valid time"])
async def test_the_stream_checkpoint_is_the_highest_block_stored(
    pool: asyncpg.Pool, tmp_path: Path, workers: int, batch_size: int, why: str
) -> None:
    """``ingest_file(stream=…)`` moves its checkpoint to the highest block it stored, never to
    a block whose log the writer made a dead letter of: one the database refused (a block its
    ``orderflow_trades`` partition cannot be made for: ``orderflow_ensure_partitions`` counts in
    an INTEGER) or a fill without a time whose block is unknown. On main the checkpoint was the
    highest block of any log in the batch (2**63 - 1), as the history import's was before
    ``Encoded.top_without``. Nor to the block of a log the decoder made a dead letter of (its
    time, derived here from that block, is not a valid time): on main that counted too."""
    untimed = {k: v for k, v in fill(40, 1, 5).items() if k != "blockTimestamp"}
    far = fill(MAX_BLOCK_NUMBER, 1, 3)
    if why.startswith("refused"):  # a valid time: decoded, then refused by the database
        far["blockTimestamp"] = fill(12, 1, 2)["blockTimestamp"]
    lines = [fill(10, 1, 1), fill(12, 1, 2), far, untimed]
    path = tmp_path / "logs.jsonl"
    path.write_text("".join(json.dumps(log) + "\n" for log in lines))
    report = await ingest_file(
        pool, path, chain_id=137, workers=workers, batch_size=batch_size, stream="file:x"
    )
    assert (report.stored.trades, report.stored.dead_letters) == (2, 2)
    reasons = await pool.fetch("SELECT reason FROM orderflow_dead_letters ORDER BY source_line")
    assert why in reasons[0]["reason"], reasons
    async with pool.acquire() as conn:
        checkpoint = await get_checkpoint(conn, 137, "file:x")
    assert checkpoint is not None and checkpoint.block_number == 12, checkpoint
