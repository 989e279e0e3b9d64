"""``listen --from-file`` fed hostile files: every good line stored once, each bad line one dead
letter naming its line and why, nothing else lost, whatever the decoding (a thread, one or two
processes) and however the file is cut into batches and read blocks.

The line rules are ``orderflow import``'s (``orderflow.chain.line_rules``): a line ends at
``\\n`` (``\\r\\n`` too), a lone ``\\r`` is inside its line, a file of ``\\r`` line ends only is
read so, invalid UTF-8 is a dead letter naming the byte, a line over ``MAX_LINE_CHARS``
characters is a dead letter of its first ``KEPT_CHARS`` characters.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from orderflow.chain import file_lines
from orderflow.chain.contracts import TOPIC_ORDER_FILLED_V2
from orderflow.chain.ingest import ingest_file
from orderflow.chain.storable import loads_tolerant
from tests.chain.test_ingest_workers import everything, killed_then_rerun, sim_logs

TABLES = (
    "orderflow_trades",
    "orderflow_matches",
    "orderflow_tokens",
    "orderflow_conditions",
    "orderflow_market_outcomes",
)
DECODER = ("data is missing", "topic0 is not", "exceeds 0x7fffffff", "logIndex")
"""Reasons the decoder gives (the line is a log object): not the reader's."""
LONG = 20_000_000  # characters: past the 16 M a line may hold


def _line(log: dict[str, Any]) -> bytes:
    return json.dumps(log).encode()


def _note(log: dict[str, Any], value: str) -> bytes:
    """``log`` with an extra field ``note`` (the decoder reads no such field) holding ``value``
    as raw JSON text."""
    return b'{"note": ' + value.encode("utf-8", "surrogateescape") + b", " + _line(log)[1:]


class Hostile:
    """A file of good logs (the reference file holds them alone) with hostile lines among them:
    ``bad`` maps the line number of each line that must be a dead letter to a piece of its
    reason."""

    def __init__(self) -> None:
        self.good: list[dict[str, Any]] = []
        self.lines: list[bytes] = []
        self.ends: list[bytes] = []
        self.bad: dict[int, str] = {}

    def add(self, raw: bytes, *, end: bytes = b"\n", why: str | None = None) -> None:
        self.lines.append(raw)
        self.ends.append(end)
        if why is not None:
            self.bad[len(self.lines)] = why

    def body(self) -> bytes:
        return b"".join(raw + end for raw, end in zip(self.lines, self.ends, strict=True))


def hostile_file(seed: int = 4, *, long_line: bool = True) -> Hostile:
    logs = sim_logs("v2", seed)
    others = [  # fills: each would store a trade if let through
        log for log in sim_logs("v2", seed + 100) if log["topics"][0] == TOPIC_ORDER_FILLED_V2
    ]
    h = Hostile()
    cases: list[tuple[bytes, bytes, str | None]] = [
        # A lone CR between tokens is JSON whitespace: a good log. Inside a string it is a
        # control character JSON does not allow: one dead letter, not two fragments.
        (_line(others[0]).replace(b", ", b",\r", 1), b"\n", None),
        (_note(others[1], '"a\rb"'), b"\n", "not JSON (Invalid control character"),
        (_note(others[2], '"caf\udce9"'), b"\n", "not UTF-8: byte 0xe9 at character 14"),
        (_line(others[3]) + b" \xff", b"\n", "not UTF-8: byte 0xff"),
        (_note(others[4], '"a\x00b"'), b"\n", "not JSON (Invalid control character"),
        (b"\x00" + _line(others[5]), b"\n", "not JSON (Expecting value"),
        (b"[1, 2]", b"\n", "a JSON list, not a log object"),
        (b"42", b"\r\n", "a JSON int, not a log object"),
        (b'"0xab"', b"\n", "a JSON str, not a log object"),
        (_line(others[6]) + _line(others[7]), b"\n", "2 JSON values where one"),
        (_note(others[8], "1")[:-1] + b', "note": 2}', b"\n", "the key 'note' appears twice"),
        (_line(dict(others[9], data=0)), b"\n", "data is missing or not 0x hex"),
        (_line(dict(others[10], topics=[1, 2, 3, 4])), b"\n", "topic0 is not a string"),
        (_line(dict(others[11], logIndex=2**70)), b"\n", "exceeds 0x7fffffff"),
        # Read as the listener reads a node's reply (``storable.loads_tolerant``): an integer
        # too long for int() as its text, a part nested too deep as a string; in a field the
        # decoder does not read, the log is good.
        (_note(others[12], "9" * 5000), b"\n", None),
        (_note(others[13], "[" * 100_000 + "]" * 100_000), b"\n", None),
        (_line(others[15])[:-1] + b', "logIndex": ' + b"9" * 5000 + b"}", b"\n", "twice"),
        (_line(dict(others[16], logIndex="x")).replace(b'"x"', b"9" * 5000), b"\n", "logIndex"),
        (b"  \t ", b"\r\n", None),  # blank
        (b"\xef\xbb\xbf", b"\r\n", None),  # a BOM starting a middle line (the next log's)
    ]
    if long_line:
        cases.append((_note(others[14], '"' + "x" * LONG + '"'), b"\n", "a line of more than"))
    good = iter(logs)
    for raw, end, why in cases:
        for _ in range(3):  # good lines between, some ended by \r\n
            log = next(good)
            h.add(_line(log), end=b"\r\n" if len(h.lines) % 2 else b"\n")
            h.good.append(log)
        if raw == b"\xef\xbb\xbf":
            raw += _line(next(good))
        h.add(raw, end=end, why=why)
        if why is None and raw.strip():
            h.good.append(loads_tolerant(raw.replace(b"\xef\xbb\xbf", b"")))
    for log in good:
        h.add(_line(log))
        h.good.append(log)
    h.ends[-1] = b""  # the last line without a line end
    return h


async def _dead(pool: asyncpg.Pool) -> list[tuple[int, str]]:
    found = await pool.fetch("SELECT source_line, reason FROM orderflow_dead_letters")
    return sorted((r["source_line"], r["reason"]) for r in found)


def _ids(rows: list[Any]) -> set[tuple[str, int]]:
    return {(r["tx_hash"], r["log_index"]) for r in rows}


def _reference(tmp_path: Path, logs: list[dict[str, Any]]) -> Path:
    path = tmp_path / "good.jsonl"
    path.write_bytes(b"".join(_line(log) + b"\n" for log in logs))
    return path


def _check_dead(dead: list[tuple[int, str]], bad: dict[int, str], name: str) -> None:
    assert [n for n, _ in dead] == sorted(bad), ([n for n, _ in dead], sorted(bad))
    for number, reason in dead:
        assert reason.startswith(f"{name} line {number}: "), reason[:300]
        assert bad[number] in reason, (number, reason[:300])


@pytest.mark.parametrize(("workers", "batch_size"), [(0, 7), (0, 5000), (1, 11), (2, 5)])
async def test_hostile_lines_are_dead_letters_and_nothing_else_is_lost(
    pool: asyncpg.Pool, other_pool: asyncpg.Pool, tmp_path: Path, workers: int, batch_size: int
) -> None:
    h = hostile_file()
    path = tmp_path / "hostile.jsonl"
    path.write_bytes(h.body())
    report = await ingest_file(pool, path, chain_id=137, batch_size=batch_size, workers=workers)
    await ingest_file(other_pool, _reference(tmp_path, h.good), chain_id=137, workers=0)
    got, want = await everything(pool), await everything(other_pool)
    _check_dead(await _dead(pool), h.bad, path.name)
    stored, good = (_ids(x["orderflow_trades"]) for x in (got, want))
    extra, lost = sorted(stored - good), sorted(good - stored)
    assert not extra, f"{len(extra)} trades stored from dead letters' lines: {extra}"
    assert not lost, f"{len(lost)} good lines' trades not stored: {lost}"
    for table in TABLES:
        assert got[table] == want[table], table
    assert len(good) > 30
    assert report.lines == sum(1 for raw in h.lines if raw.strip())
    long_letter = await pool.fetchval(
        "SELECT raw FROM orderflow_dead_letters WHERE reason LIKE '%a line of more than%'"
    )
    assert len(long_letter["text"]) == 10_000
    again = await ingest_file(pool, path, chain_id=137, batch_size=batch_size, workers=workers)
    assert (again.stored.trades, again.stored.duplicate_trades) == (0, len(got["orderflow_trades"]))


async def test_kill_9_mid_hostile_file_then_rerun(
    dsn: str, pool: asyncpg.Pool, other_pool: asyncpg.Pool, tmp_path: Path
) -> None:
    """Killed mid-file and run again: each good line's rows once, each bad line one dead letter."""
    h = hostile_file(long_line=False)
    more = [log for seed in (21, 22) for log in sim_logs("v2", seed, days=3.0)]
    path = tmp_path / "hostile.jsonl"
    path.write_bytes(h.body() + b"\r\n" + b"\r\n".join(_line(log) for log in more) + b"\r\n")
    partial = await killed_then_rerun(dsn, pool, tmp_path, path)
    await ingest_file(other_pool, path, chain_id=137, batch_size=20, workers=0)
    got, want = await everything(pool), await everything(other_pool)
    assert 0 < partial < len(want["orderflow_trades"])
    for table in TABLES:
        assert got[table] == want[table], table
    _check_dead(await _dead(pool), h.bad, path.name)


WHOLE_FILES = {
    "cr_only": (b"\r", b""),
    "crlf": (b"\r\n", b"\r\n"),
    "bom_first": (b"\n", b""),
    "cut_short": (b"\n", b'{"transactionHash": "0x'),
}


@pytest.mark.parametrize("workers", [0, 2])
@pytest.mark.parametrize("kind", sorted(WHOLE_FILES))
async def test_whole_file_shapes(
    pool: asyncpg.Pool, other_pool: asyncpg.Pool, tmp_path: Path, kind: str, workers: int
) -> None:
    logs = sim_logs("v2", 6)
    end, tail = WHOLE_FILES[kind]
    body = end.join(_line(log) for log in logs) + end + tail
    if kind == "bom_first":
        body = b"\xef\xbb\xbf" + body
    path = tmp_path / f"{kind}.jsonl"
    path.write_bytes(body)
    report = await ingest_file(pool, path, chain_id=137, batch_size=9, workers=workers)
    await ingest_file(other_pool, _reference(tmp_path, logs), chain_id=137, workers=0)
    assert (await everything(pool))["orderflow_trades"] == (await everything(other_pool))[
        "orderflow_trades"
    ]
    bad = {len(logs) + 1: "not JSON (Unterminated string"} if tail.strip() else {}
    _check_dead(await _dead(pool), bad, path.name)
    assert report.lines == len(logs) + len(bad)


@pytest.mark.parametrize("block", [1, 2, 3, 5, 64, 1 << 20])
def test_every_cut_of_the_reads_gives_the_same_lines(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, block: int
) -> None:
    """Read blocks (and batches) ending anywhere, inside a ``\\r\\n`` too: the same lines, the
    same numbers."""
    h = hostile_file(long_line=False)
    h.lines, h.ends = h.lines[:80], h.ends[:80]
    path = tmp_path / "hostile.jsonl"
    path.write_bytes(h.body())
    monkeypatch.setattr(file_lines, "_READ_BYTES", block)
    got = _parsed(path, 3)
    monkeypatch.setattr(file_lines, "_READ_BYTES", 1 << 20)
    assert got == _parsed(path, 1000)
    assert [n for n, _ in got] == [i + 1 for i, raw in enumerate(h.lines) if raw.strip()]
    reader = {n for n, why in h.bad.items() if n <= 80 and not any(d in why for d in DECODER)}
    assert {n for n, value in got if isinstance(value, str)} == reader


def _parsed(path: Path, batch_size: int) -> list[tuple[int, Any]]:
    """(line number, the log object or the dead letter's reason) of each non-blank line; a
    reason the decoder gives is not the reader's: such a line reads as its log object."""
    out: list[tuple[int, Any]] = []
    for batch in file_lines.line_batches(path, batch_size):
        for line in file_lines.batch_lines(batch):
            out.append((line.number, line.error if line.error is not None else line.value))
    return out


@pytest.mark.parametrize("block", [7, 64, 1 << 20])
def test_long_lines_by_characters_held_only_so_far(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, block: int
) -> None:
    """With the bound at 250 characters (held up to 1,004 bytes): a line of 200 two-byte
    characters is read; one of 251 is cut (counted in characters); one of 5,000 bytes is held
    only up to the bound, then read past; the lines after each keep their numbers."""
    monkeypatch.setattr(file_lines, "MAX_LINE_CHARS", 250)
    monkeypatch.setattr(file_lines, "_HOLD_BYTES", 4 * 250 + 4)
    monkeypatch.setattr(file_lines, "_READ_BYTES", block)
    held: list[int] = []
    add = file_lines._Pending.add

    def watched(self: Any, data: bytes) -> None:
        add(self, data)
        held.append(sum(map(len, self.parts)))

    monkeypatch.setattr(file_lines._Pending, "add", watched)
    lines = [
        b'{"a": "' + "\u00e9".encode() * 200 + b'"}',
        b'{"b": "' + "\u00e9".encode() * 251 + b'"}',
        b'{"c": "' + b"x" * 5000 + b'"}',
        b'{"d": 1}',
    ]
    path = tmp_path / "long.jsonl"
    path.write_bytes(b"\r\n".join(lines) + b"\r\n")
    got = _parsed(path, 2)
    assert [n for n, _ in got] == [1, 2, 3, 4]
    assert got[0][1] == {"a": "\u00e9" * 200} and got[3][1] == {"d": 1}
    assert got[1][1] == got[2][1] == "a line of more than 16,777,216 characters: no row"
    assert max(held) <= 4 * 250 + 4 + block
    cut = {
        line.number: line.text
        for b in file_lines.line_batches(path, 9)
        for line in file_lines.batch_lines(b)
        if line.error
    }
    assert cut[2] == '{"b": "' + "\u00e9" * 251 + '"}\r'  # its first characters, as read
    assert cut[3].startswith('{"c": "xxx') and lines[2].decode().startswith(cut[3].rstrip())
