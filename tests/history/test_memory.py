"""What the import allocates per batch forms no reference cycle: reference counting frees a
batch as soon as it is done with, so the import may run the cyclic collector rarely
(``memory.py``) and its memory stays bounded by the batch size."""

from __future__ import annotations

import gc
from pathlib import Path

import pytest

from orderflow.chain.contracts import MAINNET
from orderflow.history.events import RowDecoder
from orderflow.history.layouts import detect
from orderflow.history.memory import collecting_less
from orderflow.history.sources import RowReader
from tests.conftest import settle_spare_databases
from tests.history import dumps as d
from tests.history.test_exactly_once import sim_logs


@pytest.mark.parametrize("name", ["fills.parquet", "fills.csv.gz", "fills.jsonl"])
def test_batches_leave_no_cyclic_garbage(tmp_path: Path, name: str) -> None:
    logs = sim_logs("v1", seed=51)
    rows = [d.snake_row(f) for f in d.fills_of(logs)]
    rows[3]["maker_amount_filled"] = "12.5"  # a dead letter, through the raw-log round trip
    if name.endswith(".parquet"):
        rows = [{k: str(v) for k, v in r.items()} for r in rows]
        path = d.write_parquet(tmp_path / name, rows)
    elif ".csv" in name:
        path = d.write_csv(tmp_path / name, rows)
    else:
        path = d.write_jsonl(tmp_path / name, rows)
    hashes = {b["block_number"]: b["block_hash"] for b in d.blocks_of(logs)}
    with RowReader(path) as reader:
        decoder = RowDecoder(detect(reader.columns, name), name, "row", 137, MAINNET)
        decoder.hashes = hashes
        batches = reader.column_batches(10)
        next(batches)  # whatever opening the file allocates once
        settle_spare_databases()  # the test databases' thread leaves cyclic garbage of its own
        gc.collect()
        gc.disable()
        try:
            stored = 0
            for batch in batches:
                encoded = decoder.encode(decoder.parse(batch))
                stored += len(encoded.batch.fills) + len(encoded.batch.dead_letters)
                del batch, encoded
            assert stored > 20
            assert gc.collect() == 0  # nothing unreachable that refcounting did not free
        finally:
            gc.enable()


def test_the_thresholds_are_restored() -> None:
    before = gc.get_threshold()
    with collecting_less():
        assert gc.get_threshold()[0] >= 50_000
    assert gc.get_threshold() == before
