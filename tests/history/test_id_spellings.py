"""Subgraph dumps whose ``id`` is the fill's log id, in each spelling real subgraphs write it:
``<tx hash>-<log index>`` (the old Graph scaffold, Messari), ``<tx hash>_0x<log index in hex>``
(Polymarket's own ``getEventKey``: ``hash.toHexString() + '_' + logIndex.toHexString()``),
``<tx hash>-0x<hex>``, and ``hash.concatI32(logIndex.toI32())`` (today's ``graph init``
scaffold: 36 bytes, the index as 4 little-endian bytes). Each determines (transaction, log
index) exactly, so each imports as the listener stores the chain's logs; an id that does not is
a dead letter of its line, the rest of the file imported. Until 6 Dec 2026 only the first
spelling was read: a file whose first row held another was refused whole (``LayoutError``), and
one whose later rows did lost them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import asyncpg
import pytest

from orderflow.chain.ingest import ingest_logs
from orderflow.history import import_file
from orderflow.history.log_ids import split_log_id
from tests.history import dumps as d
from tests.history.test_exactly_once import _assert_same, gamma_rows, sim_logs


def graph_id(f: dict[str, Any], spelling: str) -> str:
    """The fill's ``id`` as a subgraph of that spelling writes it (lower-case hex, ``0x``)."""
    tx: str = f["tx"]
    index: int = f["log_index"]
    if spelling == "dash":
        return f"{tx}-{index}"
    if spelling == "event-key":
        return f"{tx}_{hex(index)}"
    if spelling == "dash-hex":
        return f"{tx}-{hex(index)}"
    return tx + index.to_bytes(4, "little").hex()  # concatI32


def subgraph_fill(f: dict[str, Any], spelling: str, *, tx_column: bool = True) -> dict[str, Any]:
    """An OrderFilled entity as a subgraph's JSON export holds it (``dumps.subgraph_row``:
    BigInts as decimal strings, seconds as a string) with its block and the emitting exchange
    (a subgraph indexing both exchanges records ``event.address``), keyed by its log id."""
    row = {**d.subgraph_row(f), "id": graph_id(f, spelling), "blockNumber": str(f["block"])}
    row["contract"] = f["address"]
    if not tx_column:
        del row["transactionHash"]
    return row


SPELLINGS = ["dash", "event-key", "dash-hex", "concatI32"]


def test_each_spelling_gives_the_transaction_and_log_index() -> None:
    tx = "0x" + "ab" * 32
    f = {"tx": tx, "log_index": 1535}
    for spelling in SPELLINGS:
        assert split_log_id(graph_id(f, spelling)) == (tx, 1535), spelling
    assert split_log_id(tx + "ff050000") == (tx, 1535)  # concatI32: 1535 = 0x5ff, little-endian
    assert split_log_id(f"{tx}_0x{'cd' * 32}") is None  # txHash_orderHash: no log index
    assert split_log_id(f"{tx}-0x") is None
    assert split_log_id(tx + "ff05") is None  # not 4 bytes: not concatI32


@pytest.mark.parametrize("spelling", SPELLINGS)
async def test_every_id_spelling_imports_the_fills_exactly_once(
    pool: asyncpg.Pool, chain_pool: asyncpg.Pool, tmp_path: Path, spelling: str
) -> None:
    logs = sim_logs("v1", seed=5)
    reference = await ingest_logs(chain_pool, logs, chain_id=137)
    fills = d.fills_of(logs)
    assert reference.stored.trades == len(fills) > 5
    await import_file(pool, d.write_csv(tmp_path / "blocks.csv", d.blocks_of(logs)), chain_id=137)

    # Half the file with a transactionHash column, half without (the id alone derives it).
    path = d.write_jsonl(
        tmp_path / "orderFilleds.jsonl",
        [subgraph_fill(f, spelling, tx_column=i % 2 == 0) for i, f in enumerate(fills)],
    )
    workers = 2 if spelling == "concatI32" else 0  # and parsed in worker processes
    report = await import_file(pool, path, chain_id=137, batch_size=16, workers=workers)
    assert (report.stored.trades, report.dead_letters) == (len(fills), 0)
    matches = d.write_parquet(tmp_path / "matches.parquet", d.matches_of(logs))
    await import_file(pool, matches, chain_id=137)
    markets = d.write_jsonl(tmp_path / "markets.jsonl", await gamma_rows(chain_pool))
    await import_file(pool, markets, chain_id=137)
    await _assert_same(pool, chain_pool)

    again = await import_file(pool, path, chain_id=137)  # re-import: a no-op
    assert (again.stored.trades, again.dead_letters) == (0, 0)
    # The same fills in another dump spelling their ids otherwise: stored once.
    other = "dash" if spelling != "dash" else "concatI32"
    second = d.write_csv(tmp_path / "other.csv", [subgraph_fill(f, other) for f in fills])
    again = await import_file(pool, second, chain_id=137)
    assert (again.stored.trades, again.dead_letters) == (0, 0)
    await _assert_same(pool, chain_pool)


async def test_an_underived_id_is_a_dead_letter_of_its_line_not_the_files(
    pool: asyncpg.Pool, chain_pool: asyncpg.Pool, tmp_path: Path
) -> None:
    logs = sim_logs("v1", seed=5)
    fills = d.fills_of(logs)
    rows = [subgraph_fill(f, "concatI32") for f in fills]
    bad = {
        0: f"{fills[0]['tx']}_{fills[0]['order_hash']}",  # the orderbook subgraph's id
        3: f"{fills[3]['tx']}-0xzz",
        5: "",
    }
    for i, value in bad.items():
        rows[i]["id"] = value
    await import_file(pool, d.write_csv(tmp_path / "blocks.csv", d.blocks_of(logs)), chain_id=137)
    report = await import_file(pool, d.write_csv(tmp_path / "fills.csv", rows), chain_id=137)

    assert report.dead_letters == len(bad)
    assert report.stored.trades == len(fills) - len(bad)
    found = await pool.fetch(
        "SELECT source_line, reason FROM orderflow_dead_letters ORDER BY source_line"
    )
    assert [r["source_line"] for r in found] == [i + 2 for i in sorted(bad)]  # line 1: header
    for r in found:
        assert r["reason"].startswith(f"fills.csv line {r['source_line']}: id "), r["reason"]
    stored = {
        (r[0], r[1]) for r in await pool.fetch("SELECT tx_hash, log_index FROM orderflow_trades")
    }
    assert stored == {(f["tx"], f["log_index"]) for i, f in enumerate(fills) if i not in bad}
