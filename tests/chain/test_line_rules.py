"""One set of line rules (``orderflow.chain.line_rules``): ``orderflow import``'s reader (text)
and ``listen --from-file``'s (bytes) see the same lines, numbers, values and reasons in the
same hostile files, not two readers that agree by accident."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from orderflow.chain import file_lines
from orderflow.history.json_source import JsonSource
from orderflow.history.row_batches import Row, json_row
from tests.chain.test_from_file_hostile import hostile_file

Read = list[tuple[int, Any]]


def history_lines(path: Path) -> Read:
    """(line, the object or the reason) of each non-blank line, as ``orderflow import`` reads."""
    with path.open("rb") as raw:
        text = io.TextIOWrapper(raw, encoding="utf-8-sig", errors="surrogateescape", newline="")
        source = JsonSource(text, path.name).open()
        assert not source.array
        out: Read = []
        for chunk in source.chunks(1000):
            for number, line in chunk:
                row = json_row(number, line)
                out.append((number, row.values if isinstance(row, Row) else row.reason))
    return out


def raw_log_lines(path: Path, batch_size: int = 7) -> Read:
    """The same, as ``listen --from-file`` reads (its reasons name a log object, not a row)."""

    def lines() -> Iterator[tuple[int, Any]]:
        for batch in file_lines.line_batches(path, batch_size):
            for line in file_lines.batch_lines(batch):
                if line.error is None:
                    yield line.number, line.value
                else:
                    yield line.number, line.error.replace("not a log object", "not a row")

    return list(lines())


def _good(n: int) -> bytes:
    return json.dumps({"transactionHash": f"0x{n:064x}", "logIndex": hex(n)}).encode()


FILES: dict[str, bytes] = {
    "cr_only": b"\r".join(_good(n) for n in range(5)) + b"\r",
    "crlf": b"\r\n".join(_good(n) for n in range(5)) + b"\r\n",
    "bom_first": b"\xef\xbb\xbf" + b"\n".join(_good(n) for n in range(5)),
    "blank_head": b"\n \r\n\t\n" + b"\n".join(_good(n) for n in range(5)),
    "cut_short": _good(1) + b"\n" + _good(2) + b'\n{"transactionHash": "0x',
    "lone_cr": _good(1) + b"\n" + _good(2)[:-1] + b',\r"x": 1}\n{"a": "b\rc"}\n' + _good(3),
    "not_utf8": _good(1) + b'\n{"a": "\xff\xfe"}\n{"b": 1} \xc3\n' + _good(2) + b"\n",
    "two_values": _good(1) + _good(2) + b"\n" + _good(3) + b"\n[1]\n7\n",
    "nested": _good(1) + b'\n{"a": ' + b"[" * 50_000 + b"]" * 50_000 + b"}\n" + _good(2),
    "nul": _good(1) + b'\n{"a": "\x00"}\n\x00\n' + _good(2),
    "blank_only": b"\n\r\n  \n",
    "empty": b"",
}


@pytest.mark.parametrize("kind", sorted(FILES))
def test_both_readers_read_the_same_lines(tmp_path: Path, kind: str) -> None:
    path = tmp_path / f"{kind}.jsonl"
    path.write_bytes(FILES[kind])
    assert raw_log_lines(path) == history_lines(path)


def test_both_readers_read_the_same_hostile_file(tmp_path: Path) -> None:
    """The file ``test_from_file_hostile`` imports, its 20 M-character line included."""
    h = hostile_file()
    path = tmp_path / "hostile.jsonl"
    path.write_bytes(b"\n" + h.body())  # not opening with a log: the history reader's head
    history = history_lines(path)
    assert raw_log_lines(path) == history
    assert raw_log_lines(path, 5000) == history
    assert len(history) == sum(1 for raw in h.lines if raw.strip())
