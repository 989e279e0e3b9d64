"""Rows whose ``id`` (``<tx hash>-<log index>``) stands in for the log index and that also carry
a ``transactionHash``: the two must name one transaction. A row whose id names another is a
dead letter saying so; until 6 Dec 2026 the id was taken and the column not read, so a fill was
stored under a transaction the chain does not have it in (its fill of the chain then stored
beside it by the backfill: one fill counted twice)."""

from __future__ import annotations

from pathlib import Path

import asyncpg

from orderflow.chain.ingest import ingest_logs
from orderflow.history import import_file
from tests.history import dumps as d
from tests.history.test_exactly_once import sim_logs


async def test_an_id_naming_another_transaction_than_the_row_is_a_dead_letter(
    pool: asyncpg.Pool, chain_pool: asyncpg.Pool, tmp_path: Path
) -> None:
    logs = sim_logs("v1", seed=11)
    await ingest_logs(chain_pool, logs, chain_id=137)
    rows = []
    for f in d.fills_of(logs):
        row = d.dune_row(f)
        row["id"] = f"{row.pop('evt_tx_hash')}-{row.pop('evt_index')}"
        row["transactionHash"] = f["tx"].upper().replace("0X", "0x")  # any case: the same
        rows.append(row)
    wrong = "0x" + "ab" * 32
    rows[4]["id"] = f"{wrong}-{rows[4]['id'].split('-')[1]}"
    await import_file(pool, d.write_csv(tmp_path / "blocks.csv", d.blocks_of(logs)), chain_id=137)
    report = await import_file(pool, d.write_csv(tmp_path / "fills.csv", rows), chain_id=137)

    chain = {r[0] for r in await chain_pool.fetch("SELECT tx_hash FROM orderflow_trades")}
    stored = {r[0] for r in await pool.fetch("SELECT tx_hash FROM orderflow_trades")}
    assert stored - chain == set(), f"stored under a transaction the chain lacks: {stored - chain}"
    assert report.dead_letters == 1
    [reason] = [r[0] for r in await pool.fetch("SELECT reason FROM orderflow_dead_letters")]
    assert reason == (
        f"fills.csv line 6: id {rows[4]['id']!r} names transaction {wrong}, its transactionHash "
        f"{d.fills_of(logs)[4]['tx']}: one of them is wrong"
    )
    assert report.stored.trades == len(rows) - 1
