"""Hostile values through the file import path: one bad log never costs its batch.

For every case of ``tests/chain/hostile.py`` a file holds a valid fill, the hostile line and
another valid fill, imported as ONE batch: both valid fills are stored, the hostile log is a
dead letter on its own (or stored, when the hostile value sits in a field nobody reads), and a
second import changes nothing.
"""

from __future__ import annotations

import json
from pathlib import Path

import asyncpg
import pytest

from orderflow.chain.decode import decode_batch
from orderflow.chain.events import DeadLetter
from orderflow.chain.ingest import ingest_file
from orderflow.chain.storable import storable_json
from orderflow.chain.store import store_batch
from orderflow.chain.store_guard import store_batch_isolating
from tests.chain.hostile import CASES, Hostile, fill
from tests.cli_env import orderflow_env, run_orderflow_async


def _write(path: Path, case: Hostile) -> None:
    lines = [json.dumps(fill(10, 1, 1)), case.line(fill(10, 2, 2)), json.dumps(fill(10, 3, 3))]
    path.write_text("\n".join(lines) + "\n")


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
async def test_one_hostile_log_is_a_dead_letter_the_rest_is_stored(
    pool: asyncpg.Pool, tmp_path: Path, case: Hostile
) -> None:
    path = tmp_path / "hostile.jsonl"
    _write(path, case)
    report = await ingest_file(pool, path, chain_id=137, batch_size=100)
    assert report.batches == 1
    trades = await pool.fetchval("SELECT count(*) FROM orderflow_trades")
    letters = await pool.fetch("SELECT reason, raw::text AS raw FROM orderflow_dead_letters")
    assert trades == (3 if case.stored else 2)
    assert len(letters) == (0 if case.stored else 1), letters
    again = await ingest_file(pool, path, chain_id=137, batch_size=100)
    assert again.stored.trades == 0
    assert await pool.fetchval("SELECT count(*) FROM orderflow_dead_letters") == len(letters)


def test_storable_json_rewrites_what_postgres_refuses() -> None:
    raw = json.loads('{"a": NaN, "b": "\\ud800x", "c": "n\\u0000l", "d": 1e400, "e": "ok"}')
    text = storable_json(raw)
    assert json.loads(text) == {
        "a": "NaN",
        "b": "\\ud800x",
        "c": "n\ufffdl",
        "d": "Infinity",
        "e": "ok",
    }
    ordinary = {"z": 1, "a": ["é", "😀"]}
    assert storable_json(ordinary) == json.dumps(ordinary, sort_keys=True, separators=(",", ":"))


async def test_a_value_the_database_refuses_isolates_only_its_log(pool: asyncpg.Pool) -> None:
    """Defence in depth: if a log passes decoding but the database refuses it (here a fill whose
    wallet is not an address — the decoder never produces one), the batch is stored in parts
    and that one log becomes a dead letter naming the database's reason."""
    batch = decode_batch([fill(10, i, i) for i in range(1, 6)], 137)
    batch.fills[2].maker = "0xnot-an-address"
    with pytest.raises(asyncpg.PostgresError):
        async with pool.acquire() as conn:
            await store_batch(conn, batch, chain_id=137)
    async with pool.acquire() as conn:
        stats = await store_batch_isolating(conn, batch, chain_id=137)
    assert (stats.trades, stats.dead_letters) == (4, 1)
    reason = await pool.fetchval("SELECT reason FROM orderflow_dead_letters")
    assert "refused by the database" in reason and "evm_address" in reason
    assert isinstance(batch.dead_letters, list) and not any(
        isinstance(d, DeadLetter) and d.log_index == 3 for d in batch.dead_letters
    )


async def test_orderflow_listen_from_file_survives_every_hostile_value(
    dsn: str, pool: asyncpg.Pool, tmp_path: Path
) -> None:
    """The same cases through the CLI as a process, all in one file and one batch."""
    lines = []
    for i, case in enumerate(CASES):
        lines.append(json.dumps(fill(20 + i, 1, 100 + i)))
        lines.append(case.line(fill(20 + i, 2, 100 + i)))
    path = tmp_path / "hostile.jsonl"
    path.write_text("\n".join(lines) + "\n")
    done = await run_orderflow_async(
        orderflow_env(dsn, tmp_path), "listen", "--from-file", str(path), timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    stored = sum(1 for c in CASES if c.stored)
    assert await pool.fetchval("SELECT count(*) FROM orderflow_trades") == len(CASES) + stored
    assert await pool.fetchval("SELECT count(*) FROM orderflow_dead_letters") == len(CASES) - stored
