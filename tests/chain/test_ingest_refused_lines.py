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

from orderflow.chain.ingest import ingest_file, ingest_logs
from tests.chain import sample_logs as s


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
