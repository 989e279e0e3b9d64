"""The bytes reader sees the lines `orderflow import` sees; COPY text carries any value exactly."""

from __future__ import annotations

import dataclasses
import io
import json
from pathlib import Path

import asyncpg
import pytest
from hypothesis import given
from hypothesis import strategies as st

from orderflow.chain import file_lines
from orderflow.chain import store_sql as sql
from orderflow.chain.copy_render import own_timestamps, render
from orderflow.chain.decode import decode_batch
from orderflow.chain.file_lines import line_batches, parse_line
from tests.chain import sample_logs as s
from tests.chain.test_line_rules import history_lines, raw_log_lines

_UNESCAPE = {"t": "\t", "n": "\n", "r": "\r"}

TRICKY = (
    b"\xef\xbb\xbf" + json.dumps({"a": 1}).encode() + b"\r\n"  # BOM, CRLF
    b"\n"
    b"  \t \r"  # a lone CR: no line end, so this and the next are one line
    b"x\ry\r\n"  # (before 7 Dec 2026: a blank line, then "x" and "y")
    b"\xc2\xa0\n"  # a no-break space only: blank for str.strip
    b"\xff\xfe{bad utf-8}\n"
    b"\xef\xbb\xbf\n"  # a BOM alone
    b'{"logIndex": 123456789012345678901234567890}\n'
    b'{"topics": [1]}\r'
    b"last line without an end"
)


@pytest.mark.parametrize("block", [1, 2, 3, 7, 1 << 20])
def test_lines_numbers_and_values_are_orderflow_imports(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, block: int
) -> None:
    """The same lines, numbers, values and reasons as ``orderflow import`` reads (the shared
    ``line_rules``); until 7 Dec 2026 the reference was a text-mode file opened with
    ``errors="replace"``, whose lone ``\\r`` ended a line and whose bad bytes read as U+FFFD."""
    monkeypatch.setattr(file_lines, "_READ_BYTES", block)  # every line end across a block end
    path = tmp_path / "tricky.jsonl"
    path.write_bytes(TRICKY)
    assert raw_log_lines(path, 2) == history_lines(path)
    # Values are what json (the text path) makes of each line, orjson or not.
    big = parse_line(1, b'{"logIndex": 123456789012345678901234567890}')
    assert big is not None and big.value == {"logIndex": 123456789012345678901234567890}
    assert list(line_batches(path, batch_size=2))[-1].end_offset == len(TRICKY)


def test_batches_never_split_a_transaction(tmp_path: Path) -> None:
    path = tmp_path / "sample.jsonl"
    logs = s.build()
    path.write_text("".join(json.dumps(log) + "\n" for log in logs))
    txs = [log["transactionHash"] for log in logs]
    start = 0
    for b in line_batches(path, batch_size=3):
        n = len([x for x in b.data.split(b"\n") if x.strip()])
        assert b.first_line == start + 1
        end = start + n
        assert end == len(txs) or txs[end - 1] != txs[end]
        start = end
    assert start == len(txs)


async def test_copy_text_carries_hand_built_values_exactly(pool: asyncpg.Pool) -> None:
    """A value decoding never produces (tab, newline, backslash, CR) is escaped, not mangled."""
    batch = decode_batch(s.build(), 137)
    fill = batch.fills[0]
    fill.order_hash = "a\tb\\Nc\nd\re\\"
    fill.builder = None
    plain = render(batch.fills[1:], batch.matches, own_timestamps())[0]
    rows = render(batch.fills, batch.matches, own_timestamps())[0]
    assert rows.fills.count(b"\n") == len(batch.fills)
    assert rows.fills.endswith(plain.fills)  # the other rows come out as before
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(sql.CREATE_TEMP_TABLES)
        await conn.copy_to_table(
            "orderflow_tmp_fills",
            source=io.BytesIO(rows.fills),
            columns=sql.FILL_COLUMNS,
            format="text",
        )
        got = await conn.fetch("SELECT order_hash, builder FROM orderflow_tmp_fills")
    assert tuple(got[0]) == (fill.order_hash, None)
    assert [r[0] for r in got[1:]] == [f.order_hash for f in batch.fills[1:]]


def _copy_fields(line: str) -> list[str | None]:
    """One line of COPY text format read as PostgreSQL reads it."""
    out: list[str | None] = []
    for f in line.split("\t"):
        if f == "\\N":
            out.append(None)
            continue
        chars: list[str] = []
        i = 0
        while i < len(f):
            if f[i] == "\\":
                chars.append(_UNESCAPE.get(f[i + 1], f[i + 1]))
                i += 2
            else:
                chars.append(f[i])
                i += 1
        out.append("".join(chars))
    return out


_FILL = decode_batch(s.build(), 137).fills[0]
_TEXT = st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\x00"))


@given(order_hash=_TEXT, maker=_TEXT)
def test_any_text_value_reads_back_as_itself(order_hash: str, maker: str) -> None:
    fill = dataclasses.replace(_FILL, order_hash=order_hash, maker=maker)
    rows, _ = render([fill], [], own_timestamps())
    text = rows.fills.decode()
    assert text.endswith("\n") and text.count("\n") == 1
    fields = _copy_fields(text[:-1])
    assert len(fields) == len(sql.FILL_COLUMNS)
    assert (fields[7], fields[8], fields[0]) == (order_hash, maker, _FILL.ref.tx_hash)
