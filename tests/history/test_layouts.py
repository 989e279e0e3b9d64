"""Layouts by their real column names; the ones without a log identity are refused by name."""

from __future__ import annotations

import gzip
from pathlib import Path

import asyncpg
import pytest

from orderflow.history import LayoutError, detect, import_file
from orderflow.history.log_ids import split_log_id
from orderflow.history.sources import RowReader
from tests.history import dumps as d

SUBGRAPH = [  # the orderbook subgraph's OrderFilledEvent, as Goldsky / a GraphQL query returns it
    "id", "transactionHash", "timestamp", "orderHash", "maker", "taker", "makerAssetId",
    "takerAssetId", "makerAmountFilled", "takerAmountFilled", "fee",
]  # fmt: skip
POLY_DATA = [  # poly_data's goldsky/orderFilled.csv header
    "timestamp", "maker", "makerAssetId", "makerAmountFilled", "taker", "takerAssetId",
    "takerAmountFilled", "transactionHash",
]  # fmt: skip
SNAKE_V1 = [  # the Parquet dump of every V1 OrderFilled event
    "timestamp", "datetime", "block_number", "transaction_hash", "log_index", "contract",
    "order_hash", "maker", "taker", "maker_asset_id", "taker_asset_id", "maker_amount_filled",
    "taker_amount_filled", "fee",
]  # fmt: skip
SNAKE_V2 = [
    "timestamp", "datetime", "block_number", "transaction_hash", "log_index", "contract",
    "order_hash", "maker", "taker", "side", "token_id", "maker_amount_filled",
    "taker_amount_filled", "fee", "builder", "metadata",
]  # fmt: skip
DUNE = [
    "contract_address", "evt_tx_hash", "evt_index", "evt_block_time", "evt_block_number",
    "orderHash", "maker", "taker", "makerAssetId", "takerAssetId", "makerAmountFilled",
    "takerAmountFilled", "fee",
]  # fmt: skip
GAMMA = ["id", "question", "conditionId", "slug", "outcomes", "outcomePrices", "clobTokenIds",
         "negRisk", "closed", "closedTime", "questionID", "resolvedBy"]  # fmt: skip


def test_snake_camel_and_dune_spellings_meet() -> None:
    v1, v2, dune = detect(SNAKE_V1, "a"), detect(SNAKE_V2, "b"), detect(DUNE, "c")
    assert (v1.kind, v1.generation, v2.generation, dune.generation) == ("fills", "V1", "V2", "V1")
    assert v1.columns["tx_hash"] == "transaction_hash" and dune.columns["tx_hash"] == "evt_tx_hash"
    assert dune.columns["log_index"] == "evt_index" and v1.columns["exchange"] == "contract"
    assert dune.columns["timestamp"] == "evt_block_time"
    assert detect(GAMMA, "g").kind == "markets"
    assert detect(["block_number", "block_hash", "timestamp", "parent_hash"], "x").kind == "blocks"
    logs = ["address", "topics", "data", "blockNumber", "blockHash", "transactionHash", "logIndex"]
    assert detect(logs, "l").kind == "logs"
    cryo = ["block_number", "transaction_index", "log_index", "transaction_hash", "address",
            "topic0", "topic1", "topic2", "topic3", "data"]  # fmt: skip
    assert detect(cryo, "cryo").kind == "logs"


def test_the_subgraph_layout_is_refused_naming_the_log_index() -> None:
    with pytest.raises(LayoutError) as exc:
        detect(SUBGRAPH, "orderFilledEvents.jsonl")
    text = str(exc.value)
    assert "subgraph" in text and "log_index (logIndex / log_index / evt_index)" in text
    assert "block_number" in text and "exchange" in text
    assert "does not carry a log index" in text


def test_poly_data_csv_is_refused_naming_every_missing_field() -> None:
    with pytest.raises(LayoutError) as exc:
        detect(POLY_DATA, "orderFilled.csv")
    text = str(exc.value)
    assert "poly_data" in text
    for missing in ("log_index", "block_number", "exchange", "order_hash", "fee"):
        assert f"{missing} (" in text


def test_an_id_that_derives_the_log_index_stands_in_for_it() -> None:
    tx = "0x" + "ab" * 32
    assert split_log_id(f"{tx}-17") == (tx, 17)
    assert split_log_id(f"{tx[2:].upper()}_3") == (tx, 3)
    assert split_log_id(f"{tx}_0x{'cd' * 32}") is None  # the subgraph's txHash_orderHash
    layout = detect(["id", "block_number", "contract", *SNAKE_V1[6:]], "x")
    assert layout.id_derives_log_index


async def test_a_refused_file_stores_nothing(pool: asyncpg.Pool, tmp_path: Path) -> None:
    from tests.history.test_exactly_once import sim_logs

    fills = [f for f in d.fills_of(sim_logs("v1", seed=3))]
    sub = d.write_jsonl(tmp_path / "orderFilledEvents.jsonl.gz", [d.subgraph_row(f) for f in fills])
    csv_path = d.write_csv(tmp_path / "orderFilled.csv", [d.poly_data_row(f) for f in fills])
    for path in (sub, csv_path):
        with pytest.raises(LayoutError, match="no approximate identities"):
            await import_file(pool, path, chain_id=137)
    # An id column in the subgraph's format with block and exchange present: no row of the first
    # batch derives a log index, so the file is refused.
    rows = [{**d.subgraph_row(f), "blockNumber": f["block"], "contract": f["address"]}
            for f in fills]  # fmt: skip
    with_id = d.write_csv(tmp_path / "with-id.csv", rows)
    with pytest.raises(LayoutError, match="transactionHash_orderHash"):
        await import_file(pool, with_id, chain_id=137)
    assert await pool.fetchval("SELECT count(*) FROM orderflow_trades") == 0


def test_reader_streams_gzip_csv_in_batches_with_line_numbers(tmp_path: Path) -> None:
    path = tmp_path / "rows.csv.gz"
    with gzip.open(path, "wt") as fh:
        fh.write("a,b\n1,2\n\n3\n4,5\n")
    with RowReader(path) as reader:
        assert (reader.format, reader.gzipped, reader.columns) == ("csv", True, ["a", "b"])
        batches = list(reader.batches(2))
        assert reader.progress() == 1.0
    rows = [r for rows, _ in batches for r in rows]
    bad = [b for _, bad in batches for b in bad]
    assert [(r.number, r.values) for r in rows] == [
        (2, {"a": "1", "b": "2"}),
        (5, {"a": "4", "b": "5"}),
    ]
    assert [(b.number, b.reason) for b in bad] == [(4, "1 fields where the header has 2")]


@pytest.mark.parametrize(
    "name", ["day.csv", "day.csv.gz", "day.jsonl", "day.jsonl.gz", "blank.jsonl"]
)
async def test_an_empty_file_imports_nothing(pool: asyncpg.Pool, tmp_path: Path, name: str) -> None:
    """A dump split by day can hold a day without a row: a file with no header and no line (or
    only blank lines) imports nothing and is no refusal, so the files after it are imported."""
    path = tmp_path / name
    text = b"\n\n" if name.startswith("blank") else b""
    path.write_bytes(gzip.compress(text) if name.endswith(".gz") else text)
    report = await import_file(pool, path, chain_id=137, kind="fills")
    assert (report.rows, report.dead_letters, report.last_block) == (0, 0, None)
    assert report.layout == "empty file"
    assert "0 rows" in report.summary()
    assert await pool.fetchval("SELECT count(*) FROM orderflow_sync_checkpoints") == 0
