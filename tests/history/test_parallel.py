"""Parsing in worker processes stores exactly what parsing in process stores, in file order."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from orderflow.chain.backfill import STREAM
from orderflow.chain.checkpoints import get_checkpoint
from orderflow.chain.contracts import MAINNET
from orderflow.history import import_file
from orderflow.history.errors import LayoutError
from orderflow.history.events import RowDecoder
from orderflow.history.layouts import detect
from orderflow.history.parallel import parsed_in_workers
from orderflow.history.sources import RowReader
from tests.history import dumps as d
from tests.history.compare import rows
from tests.history.test_exactly_once import sim_logs


def _spoilt(fills: list[dict[str, Any]], amount: str, maker: str) -> list[dict[str, Any]]:
    out = [dict(f) for f in fills]
    out[2][amount] = "12.5"  # the parser refuses
    out[5][maker] = ""  # missing
    out[9][maker] = " " + out[9][maker]  # the strict parser takes it, the column-wise one not
    return out


async def _stored(pool: asyncpg.Pool) -> list[Any]:
    letters = await pool.fetch(
        "SELECT reason, raw::text, tx_hash, log_index, times_seen FROM orderflow_dead_letters"
        " ORDER BY reason"
    )
    async with pool.acquire() as conn:
        checkpoint = await get_checkpoint(conn, 137, STREAM)
    return [
        await rows(pool, "orderflow_trades"),
        await rows(pool, "orderflow_matches"),
        [tuple(r) for r in letters],
        checkpoint,
    ]


@pytest.mark.parametrize(
    ("name", "layout"),
    [("fills.parquet", "snake"), ("fills.csv.gz", "dune"), ("fills.jsonl", "camel")],
)
async def test_workers_store_what_the_main_process_stores(
    pool: asyncpg.Pool, chain_pool: asyncpg.Pool, tmp_path: Path, name: str, layout: str
) -> None:
    logs = sim_logs("v1" if layout != "camel" else "v2", seed=41)
    fills = d.fills_of(logs)
    if layout == "snake":
        table = [d.snake_row(f) for f in fills]
        path = d.write_parquet(tmp_path / name, table)  # Parquet: typed, unspoilt
    elif layout == "dune":
        table = _spoilt([d.dune_row(f) for f in fills], "makerAmountFilled", "maker")
        path = d.write_csv(tmp_path / name, table)
    else:
        table = _spoilt([d.camel_row(f) for f in fills], "makerAmountFilled", "maker")
        path = d.write_jsonl(tmp_path / name, table)
    blocks = d.write_csv(tmp_path / "blocks.csv", d.blocks_of(logs))
    outcome = []
    for target, workers in ((pool, 2), (chain_pool, 0)):
        await import_file(target, blocks, chain_id=137)
        # batches of 5 rows: many more batches than workers, several in flight at once
        report = await import_file(target, path, chain_id=137, batch_size=5, workers=workers)
        outcome.append((report.rows, report.dead_letters, report.stored, report.last_block))
    assert outcome[0] == outcome[1]
    assert outcome[0][0] == len(table)
    assert outcome[0][1] == (0 if layout == "snake" else 2)
    assert await _stored(pool) == await _stored(chain_pool)


async def test_a_refused_id_is_refused_before_the_workers_parse(
    pool: asyncpg.Pool, tmp_path: Path
) -> None:
    fills = d.fills_of(sim_logs("v1", seed=42))
    rows_ = [
        {**d.dune_row(f), "id": f"{f['tx']}_{f['order_hash']}"} for f in fills
    ]  # an id that is no log index, and no evt_index column
    for r in rows_:
        del r["evt_index"]
    path = d.write_csv(tmp_path / "fills.csv", rows_)
    with pytest.raises(LayoutError, match=r"none of the ids of its first .* derive one"):
        await import_file(pool, path, chain_id=137, workers=2)
    assert await pool.fetchval("SELECT count(*) FROM orderflow_trades") == 0


@pytest.mark.parametrize("name", ["fills.csv", "fills.jsonl", "fills.parquet"])
def test_workers_parse_batch_by_batch_as_the_main_process_does(tmp_path: Path, name: str) -> None:
    """Row by row and batch by batch, in file order: the same identities, fields, dead letters."""
    table = _spoilt([d.snake_row(f) for f in d.fills_of(sim_logs("v1", seed=43))],
                    "maker_amount_filled", "maker")  # fmt: skip
    table[7]["transaction_hash"] = "zz"  # no identity: a dead letter of the parse itself
    if name.endswith(".parquet"):
        path = d.write_parquet(tmp_path / name, [{k: str(v) for k, v in r.items()} for r in table])
    elif name.endswith(".csv"):
        path = d.write_csv(tmp_path / name, table)
    else:
        path = d.write_jsonl(tmp_path / name, table)

    def parsed(workers: int) -> list[Any]:
        with RowReader(path) as reader:
            decoder = RowDecoder(detect(reader.columns, name), name, "line", 137, MAINNET)
            batches = (
                parsed_in_workers(reader, decoder, 4, workers)
                if workers
                else ((decoder.parse(b), reader.position()) for b in reader.column_batches(4))
            )
            return [
                ([(r.number, r.values, i, o, f) for r, i, o, f in p.rows],
                 [(x.reason, x.raw) for x in p.dead], p.read, at)
                for p, at in batches
            ]  # fmt: skip

    in_process = parsed(0)
    assert len(in_process) > 6 and any(dead for _, dead, _, _ in in_process)
    assert parsed(2) == in_process


def test_workers_by_default_only_for_large_fill_files_and_spare_cores(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from orderflow.history import parallel

    path = d.write_jsonl(
        tmp_path / "fills.jsonl", [d.camel_row(f) for f in d.fills_of(sim_logs("v2", 44))]
    )
    with RowReader(path) as reader:
        layout = detect(reader.columns, path.name)
        monkeypatch.setattr(os, "cpu_count", lambda: 8)
        assert parallel.auto_workers(reader, layout) == 0  # a small file: not worth starting
        monkeypatch.setattr(parallel, "MIN_AUTO_BYTES", 1)
        assert parallel.auto_workers(reader, layout) == 4  # 8 cores: at most 4
        monkeypatch.setattr(os, "cpu_count", lambda: 2)
        assert parallel.auto_workers(reader, layout) == 0  # the import and PostgreSQL's cores
        monkeypatch.setattr(os, "cpu_count", lambda: 8)
        layout.kind = "markets"
        assert parallel.auto_workers(reader, layout) == 0
    csv = d.write_csv(
        tmp_path / "fills.csv", [d.dune_row(f) for f in d.fills_of(sim_logs("v1", 44))]
    )
    with RowReader(csv) as reader:  # Parquet and CSV: in process unless asked
        assert parallel.auto_workers(reader, detect(reader.columns, csv.name)) == 0
