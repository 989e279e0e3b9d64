"""COPY's text format read by its rules (``orderflow.history.copy_text``), on files PostgreSQL
itself writes (``COPY … TO STDOUT`` in text format, with and without HEADER) of a table with
nullable bytea, text and numeric columns, imported as the listener stores the chain's logs.

Until 7 Dec 2026 a ``.tsv`` was read as CSV with a tab: a NULL (``\\N``) was the text ``\\N``
(the V2 fills whose builder and metadata are NULL: dead letters, "not hex") and a text value
opening with a quote ran on over the fields and lines after it.
"""

from __future__ import annotations

import csv
import random
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from orderflow.history import import_file
from orderflow.history.copy_text import copy_fields, general_fields
from orderflow.history.errors import LayoutError
from orderflow.history.sources import RowReader
from tests.history.test_graph_dumps import _reference, _rest, graph_node_row

_BYTEA = {"id", "order_hash", "maker", "taker", "builder", "metadata", "transaction_hash"}
_BYTEA |= {"contract"}
NOTES: list[str | None] = [
    None,
    '"quoted" at the start, a\ttab and a \\ backslash',
    '"',
    "line\nbreak, carriage\rreturn, \b\f\v controls, é and 🎲",
    "\\N",  # the text \N, not NULL: COPY writes it \\N
    '"a\t"b"',
    "",
]


def _row(n: int, f: dict[str, Any]) -> dict[str, Any]:
    row: dict[str, Any] = graph_node_row(n, f)
    if "builder" in row and n % 2:  # the chain's builder and metadata are zero: NULL reads so
        row["builder"] = row["metadata"] = None
    row["note"] = NOTES[n % len(NOTES)]
    row["gas_price"] = None if n % 3 else n  # a nullable numeric the layout ignores
    return row


def _type(name: str) -> str:
    return "bytea" if name in _BYTEA else "text" if name == "note" else "numeric"


def _value(name: str, value: Any) -> Any:
    if value is None or _type(name) == "text":
        return value
    return bytes.fromhex(str(value)[2:]) if _type(name) == "bytea" else int(value)


async def copy_text(
    pool: asyncpg.Pool, rows: list[dict[str, Any]], path: Path, *, header: bool = True
) -> Path:
    """``rows`` in a table of their own, written to ``path`` by ``COPY … TO STDOUT`` in text
    format."""
    names = list(rows[0])
    columns = ", ".join(f'"{k}" {_type(k)}' for k in names)
    async with pool.acquire() as conn:
        await conn.execute(f"CREATE TEMP TABLE order_filled ({columns})")
        records = [tuple(_value(k, r[k]) for k in names) for r in rows]
        await conn.copy_records_to_table("order_filled", records=records)
        await conn.copy_from_table("order_filled", output=str(path), format="text", header=header)
        await conn.execute("DROP TABLE order_filled")
    return path


@pytest.mark.parametrize(("exchange", "seed"), [("v1", 5), ("v2", 6), ("v2", 7)])
async def test_nulls_and_escaped_text_import_exactly(
    pool: asyncpg.Pool, chain_pool: asyncpg.Pool, tmp_path: Path, exchange: str, seed: int
) -> None:
    fills, logs = await _reference(pool, chain_pool, tmp_path, exchange, seed)
    rows = [_row(n, f) for n, f in enumerate(fills)]
    dump = await copy_text(pool, rows, tmp_path / "order_filled.tsv")
    raw = dump.read_text()
    assert "\t\\N\t" in raw and '\t"quoted" at the start, a\\ttab and a \\\\ backslash\t' in raw
    report = await import_file(pool, dump, chain_id=137)
    assert (report.stored.trades, report.dead_letters) == (len(fills), 0), report
    await _rest(pool, chain_pool, tmp_path, logs)


async def test_every_value_reads_as_postgresql_wrote_it(pool: asyncpg.Pool, tmp_path: Path) -> None:
    """The text column of the file, read back by the reader, is the table's, NULL an empty
    field (as a CSV writes it)."""
    rows = [{"id": f"\\x{n:064x}", "note": note} for n, note in enumerate(NOTES)]
    dump = await copy_text(pool, rows, tmp_path / "notes.tsv")
    with RowReader(dump).open() as reader:
        assert reader.copy_text and reader.columns == ["id", "note"]
        got = [r.values["note"] for rows_, _ in reader.batches(100) for r in rows_]
    assert got == [note or "" for note in NOTES]


async def test_escapes_copy_from_reads_as_postgresql_does(pool: asyncpg.Pool) -> None:
    """Escapes COPY TO never writes but COPY FROM reads (octal, hex, a backslash before any
    other character or a tab): the reader's fields are what PostgreSQL's COPY FROM stores."""
    lines = [
        '\\101\\x42\\x7\\303\\251\\0601\t\\q\\"\\\tx',
        "a\\\\\\tb\t\\\\",
        "\\N\t\\\\N",
    ]
    async with pool.acquire() as conn:
        await conn.execute("CREATE TEMP TABLE esc (a text, b text)")
        data = "".join(line + "\n" for line in lines).encode()
        await conn.copy_to_table("esc", source=_Bytes(data), format="text")
        stored = [tuple(r) for r in await conn.fetch("SELECT a, b FROM esc")]
        await conn.execute("DROP TABLE esc")
    assert [copy_fields(line) for line in lines] == [[a or "", b or ""] for a, b in stored]


class _Bytes:
    def __init__(self, data: bytes) -> None:
        self._chunks = [data]

    def __aiter__(self) -> _Bytes:
        return self

    async def __anext__(self) -> bytes:
        if not self._chunks:
            raise StopAsyncIteration
        return self._chunks.pop()


async def test_a_headerless_copy_text_file_is_refused_saying_so(
    pool: asyncpg.Pool, tmp_path: Path
) -> None:
    rows = [{"id": f"\\x{n:064x}", "note": note} for n, note in enumerate(NOTES)]
    dump = await copy_text(pool, rows, tmp_path / "order_filled.tsv", header=False)
    with pytest.raises(LayoutError, match=r"not a header.*WITH \(FORMAT text, HEADER\)"):
        await import_file(pool, dump, chain_id=137)


def test_a_quoting_tsv_of_other_tools_reads_as_before(tmp_path: Path) -> None:
    """Control: a TSV as Python's csv, pandas or a spreadsheet write it (quotes around a value
    holding a tab, a quote or a line end; NULL an empty field; a backslash itself) is read as
    CSV with a tab, as it always was."""
    notes = ['"quoted"', "a\tb", "line\nbreak", "C:\\temp\\new", "", "plain"]
    path = tmp_path / "notes.tsv"
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh, delimiter="\t")
        w.writerow(["id", "note"])
        w.writerows([f"0x{n:064x}", note] for n, note in enumerate(notes))
    with RowReader(path).open() as reader:
        assert not reader.copy_text
        got = [r.values["note"] for rows_, _ in reader.batches(100) for r in rows_]
    assert got == notes


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_quick_paths_read_as_the_grammar_does(seed: int) -> None:
    """Lines of backslashes, N, tabs, quotes and escape letters (hostile, not only what COPY
    writes): each quicker path of ``copy_fields`` gives the fields the grammar gives."""
    rng = random.Random(seed)
    alphabet = ["\\", "\\", "N", "\t", "\t", "a", '"', "x", "4", "1", "t", "é", "\0"]
    for _ in range(20_000):
        line = "".join(rng.choices(alphabet, k=rng.randrange(1, 12)))
        assert copy_fields(line) == general_fields(line), repr(line)


def test_a_copy_text_file_cut_short_has_its_last_row_a_dead_letter(tmp_path: Path) -> None:
    """As a CSV's (test_cut_csv.py): a last line without its line end is no row."""
    path = tmp_path / "cut.tsv"
    path.write_text(f"id\tnote\n\\\\x{0:064x}\t\\N\n\\\\x{1:064x}\tcut her")
    with RowReader(path).open() as reader:
        assert reader.copy_text
        [(rows, bad)] = list(reader.batches(100))
    assert [r.values["id"] for r in rows] == [f"\\x{0:064x}"]
    assert [(b.number, b.reason) for b in bad] == [(3, "cut off where the compressed file breaks")]


async def test_a_quoting_tsv_of_fills_imports_exactly(
    pool: asyncpg.Pool, chain_pool: asyncpg.Pool, tmp_path: Path
) -> None:
    """Control, end to end: the same fills as a TSV of Python's csv (0x hex, NULL an empty
    field, a note quoted where it holds a tab, a quote or a line end) store what the listener
    stores, as before, one of its notes the text ``\\N`` (a sign of COPY text: the file's rows
    are of the header's width as CSV, not as COPY text, so it is read as CSV)."""
    fills, logs = await _reference(pool, chain_pool, tmp_path, "v2", 6)
    rows = [_row(n, f) for n, f in enumerate(fills)]
    path = tmp_path / "order_filled.tsv"
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh, delimiter="\t")
        w.writerow(list(rows[0]))
        for r in rows:
            w.writerow(["" if v is None else "0x" + v[2:] if _type(k) == "bytea" else v
                        for k, v in r.items()])  # fmt: skip
    assert '"\t' in path.read_text()
    report = await import_file(pool, path, chain_id=137)
    assert (report.stored.trades, report.dead_letters) == (len(fills), 0), report
    await _rest(pool, chain_pool, tmp_path, logs)
