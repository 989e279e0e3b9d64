"""A ``.gz`` file whose compressed data is damaged (a flipped bit: a bad disk, a bad copy) is
refused before any of its rows is stored.

Deflate does not notice most damage where it happens: a flipped bit decodes into other bytes and
the stream goes on, to its end, where only the gzip trailer's CRC shows the data is not what was
compressed. Read row by row, the rows after the damage were stored before the CRC was checked:
with wrong values (an order hash, a transaction hash, an amount a digit off), for good — a good
copy imported afterwards stores nothing over them (the identity is taken; a wrong transaction
hash is a fill the chain never had), and its right rows became dead letters (until 6 Dec 2026).
A stream cut short (a download that stopped) is another thing: every byte before the cut is
right, and its rows are imported (tests/history/test_dead_letters.py)."""

from __future__ import annotations

import csv
import gzip
import io
import zlib
from pathlib import Path

import asyncpg
import pytest

from orderflow.chain.ingest import ingest_logs
from orderflow.history import import_file
from orderflow.history.errors import HistoryError
from tests.cli_env import orderflow_env
from tests.history import dumps as d
from tests.history.compare import rows
from tests.history.test_cli import run_cli
from tests.history.test_cut_csv import _by_identity
from tests.history.test_exactly_once import sim_logs


def damaged(data: bytes) -> bytes:
    """``data`` (a CSV file) gzip'd with one bit flipped where deflate decodes on, to the end of
    the stream, into another digit of one row's order hash or amount: only the trailer's CRC
    tells."""
    z = gzip.compress(data)  # a 10-byte header (no name), raw deflate, an 8-byte trailer
    rows = list(csv.DictReader(io.StringIO(data.decode(), newline="")))
    for at in range(len(z) // 3, len(z) - 8):
        for bit in range(8):
            flipped = bytearray(z)
            flipped[at] ^= 1 << bit
            try:
                text = zlib.decompress(bytes(flipped[10:-8]), -15).decode()
                read = list(csv.DictReader(io.StringIO(text, newline="")))
            except (zlib.error, UnicodeDecodeError, csv.Error):
                continue  # a flip deflate notices, or that makes no CSV: try the next
            if len(read) != len(rows) or read[-1] != rows[-1]:
                continue
            pairs = zip(read, rows, strict=True)
            diff = [(k, a[k]) for a, b in pairs for k in a if a[k] != b.get(k)]
            if len(diff) == 1 and diff[0][0] in VALUES and diff[0][1].isalnum():
                return bytes(flipped)
    raise AssertionError("no flip that only the CRC shows")


VALUES = ("orderHash", "makerAmountFilled", "takerAmountFilled")


async def test_a_damaged_gzip_file_stores_nothing_and_a_good_copy_stores_it_right(
    pool: asyncpg.Pool, chain_pool: asyncpg.Pool, tmp_path: Path
) -> None:
    logs = sim_logs("v1", seed=11)
    await ingest_logs(chain_pool, logs, chain_id=137, batch_size=37)
    await import_file(pool, d.write_csv(tmp_path / "blocks.csv", d.blocks_of(logs)), chain_id=137)
    good = d.write_csv(tmp_path / "good.csv.gz", [d.dune_row(f) for f in d.fills_of(logs)])
    path = tmp_path / "fills.csv.gz"
    path.write_bytes(damaged(gzip.decompress(good.read_bytes())))

    with pytest.raises(HistoryError) as exc:
        await import_file(pool, path, chain_id=137, batch_size=16)
    stored = await pool.fetchval("SELECT count(*) FROM orderflow_trades")
    assert stored == 0, f"{stored} trades stored from a damaged file: {exc.value}"
    assert str(exc.value).startswith("fills.csv.gz: the compressed data is damaged (CRC check")
    assert await pool.fetchval("SELECT count(*) FROM orderflow_sync_checkpoints") == 0

    report = await import_file(pool, good, chain_id=137, batch_size=16)
    assert report.dead_letters == 0
    reference = _by_identity(await rows(chain_pool, "orderflow_trades"))
    assert _by_identity(await rows(pool, "orderflow_trades")) == reference


async def test_the_command_refuses_a_damaged_file_without_a_traceback(
    dsn: str, tmp_path: Path
) -> None:
    fills = [d.dune_row(f) for f in d.fills_of(sim_logs("v1", seed=11))]
    good = d.write_csv(tmp_path / "good.csv", fills)
    path = tmp_path / "fills.csv.gz"
    path.write_bytes(damaged(good.read_bytes()))
    done = await run_cli(orderflow_env(dsn, tmp_path), str(path))
    assert done.returncode == 1
    assert "orderflow: fills.csv.gz: the compressed data is damaged" in done.stderr
    assert "Traceback" not in done.stderr
