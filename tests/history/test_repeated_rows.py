"""A dump that holds a fill twice — pages of a subgraph export overlapping (``skip``
pagination shifts under new rows), two exports concatenated — stores it once, with the amounts
the file without the repeat stores. The repeat is not a second maker fill: a taker's executed
amounts, rebuilt from its makers' fills where the file has no OrdersMatched
(``amounts.correct_unmatched_takers``), count each maker fill once."""

from __future__ import annotations

from pathlib import Path

import asyncpg

from orderflow.history import import_file
from tests.history import dumps as d
from tests.history.compare import rows
from tests.history.test_exactly_once import sim_logs


async def test_a_fill_repeated_in_a_file_is_stored_once_with_the_same_amounts(
    pool: asyncpg.Pool, chain_pool: asyncpg.Pool, tmp_path: Path
) -> None:
    logs = sim_logs("v2", seed=7)
    fills = [d.camel_row(f) for f in d.fills_of(logs)]
    clean = d.write_jsonl(tmp_path / "clean.jsonl", fills)
    reference = await import_file(chain_pool, clean, chain_id=137)
    assert reference.stored.trades == len(fills) > 5

    repeated = []  # every line twice, as where each page repeats the one before's last rows
    for row in fills:
        repeated += [row, row]
    report = await import_file(
        pool, d.write_jsonl(tmp_path / "pages.jsonl", repeated), chain_id=137
    )
    assert report.stored.trades == len(fills)
    imported, expected = (
        await rows(pool, "orderflow_trades"),
        await rows(chain_pool, "orderflow_trades"),
    )
    diff = [
        (a["tx_hash"], a["log_index"], {k: (a[k], b[k]) for k in a if a[k] != b[k]})
        for a, b in zip(imported, expected, strict=True)
        if a != b
    ]
    assert diff == []

    # The same fills in another dump's layout (the Parquet dump, no block hash): none stored.
    await import_file(pool, d.write_csv(tmp_path / "blocks.csv", d.blocks_of(logs)), chain_id=137)
    snake = d.write_parquet(tmp_path / "v2.parquet", [d.snake_row(f) for f in d.fills_of(logs)])
    again = await import_file(pool, snake, chain_id=137)
    assert (again.stored.trades, again.dead_letters) == (0, 0)
    assert await rows(pool, "orderflow_trades") == expected
