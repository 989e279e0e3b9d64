"""A table dumped in PostgreSQL's COPY text format (``COPY … TO STDOUT`` without CSV, as
``psql \\copy`` and pg_dump's data write it), imported as the listener stores the chain's logs.

COPY's text format escapes the backslash, so a ``bytea`` column's hex output ``\\x5b33…`` is
written ``\\\\x5b33…`` (checked below on the file PostgreSQL writes, not assumed); the CSV format
(``test_graph_dumps.py``) writes it as it is. Until 7 Dec 2026 the import read only the CSV
spelling: every such value was "not 32 bytes of hex", the id no log id, and the file refused.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import asyncpg
import pytest

from orderflow.history import import_file
from tests.history.test_graph_dumps import _reference, _rest, graph_node_row


def _column_type(value: object) -> str:
    return "bytea" if str(value).startswith("\\x") else "numeric"


def _record(row: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(
        bytes.fromhex(str(v)[2:]) if _column_type(v) == "bytea" else int(v) for v in row.values()
    )


async def _copy_text(pool: asyncpg.Pool, rows: list[dict[str, Any]], path: Path) -> Path:
    """``rows`` (graph-node's table: bytea and numeric columns) in a table of their own, written
    to ``path`` by ``COPY … TO STDOUT`` in text format with a header line."""
    columns = ", ".join(f'"{k}" {_column_type(v)}' for k, v in rows[0].items())
    async with pool.acquire() as conn:
        await conn.execute(f"CREATE TEMP TABLE order_filled ({columns})")
        await conn.copy_records_to_table("order_filled", records=[_record(r) for r in rows])
        await conn.copy_from_table("order_filled", output=str(path), format="text", header=True)
        await conn.execute("DROP TABLE order_filled")
    return path


@pytest.mark.parametrize(("exchange", "seed"), [("v1", 5), ("v2", 6)])
async def test_a_copy_text_dump_with_bytea_imports_exactly(
    pool: asyncpg.Pool, chain_pool: asyncpg.Pool, tmp_path: Path, exchange: str, seed: int
) -> None:
    fills, logs = await _reference(pool, chain_pool, tmp_path, exchange, seed)
    rows = [graph_node_row(n, f) for n, f in enumerate(fills)]
    dump = await _copy_text(pool, rows, tmp_path / "order_filled.tsv")
    first = dump.read_text().splitlines()[1].split("\t")
    # what PostgreSQL writes: the id's bytea hex with its backslash escaped
    assert first[list(rows[0]).index("id")] == "\\" + rows[0]["id"]
    report = await import_file(pool, dump, chain_id=137)
    assert (report.stored.trades, report.dead_letters) == (len(fills), 0), report
    await _rest(pool, chain_pool, tmp_path, logs)
