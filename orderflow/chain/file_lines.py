"""A JSON-lines file of raw logs as batches of lines, and one line as a log object.

:func:`line_batches` runs in the importing process: it reads the file as bytes and cuts it
into batches of ``batch_size`` non-blank lines, extended so no transaction is split between
two (the rule of ``ingest_chunks.grouped``); it parses only the few lines around each cut, to read
their transaction hash. :func:`parse_line` runs wherever a batch is decoded (a decoding
process, or a worker thread).

Lines are read and judged by ``orderflow import``'s rules, ``line_rules``: ``\\n`` ends a line
(``\\r\\n`` too), a lone ``\\r`` is inside its line (a file of ``\\r`` line ends only is read
so), a byte-order mark and surrounding whitespace are removed from every line, line numbers
count every line, blank or not; a line holding bytes that are no UTF-8, or longer than
``MAX_LINE_CHARS`` characters (held only up to four bytes a character, then read past), is a
dead letter saying so. Until 7 Dec 2026 this reader had rules of its own, those of a text-mode
file opened with ``errors="replace"``: a lone ``\\r`` ended a line (a string holding one made
two dead letters and every later line was numbered one too far), invalid UTF-8 read as U+FFFD
(a log with such a byte in a field the decoder does not read was stored as if whole), and a line
of any length was held and decoded (a 20 M-character log was stored).
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import orjson

from orderflow.chain.events import DeadLetter
from orderflow.chain.fields import FieldError, log_index
from orderflow.chain.json_keys import duplicate_key
from orderflow.chain.line_rules import (
    KEPT_CHARS,
    LINE_END_HEAD,
    LONG_LINE,
    MAX_LINE_CHARS,
    line_end,
    line_text,
    shown,
)
from orderflow.chain.line_rules import judged as judged_text
from orderflow.chain.storable import loads_tolerant

MAX_LINE_IN_DEAD_LETTER = KEPT_CHARS  # characters of a malformed line kept for inspection
_READ_BYTES = 1 << 20
_SWAP = bytes.maketrans(b"\r\n", b"\n\r")  # a file of \r line ends read as \n ones
_UNKNOWN = object()  # a transaction hash not read yet


@dataclass(slots=True)
class Line:
    """One non-blank line: the parsed object, or None with ``error`` set."""

    number: int
    value: Any
    text: str
    error: str | None = None


def _plain_log(value: Any) -> bool:
    """A log object as nodes send it: strings, booleans, null and lists of strings only.

    orjson reads integers beyond 64 bits as floats and ``json`` as integers; a line holding any
    number (never the case in a node's reply) is parsed by ``json`` so both paths agree."""
    if type(value) is not dict:
        return False
    for v in value.values():
        t = type(v)
        if t is str or t is bool or v is None:
            continue
        if t is list:
            for x in v:
                if type(x) is not str:
                    return False
            continue
        return False
    return True


def parse_line(number: int, raw: bytes) -> Line | None:
    """Parse one line (without its line ending); None for a blank line."""
    b = raw.strip()
    if b[:1] == b"{" and b[-1:] == b"}":  # the common case: one log object, no BOM
        try:
            value = orjson.loads(b)  # a C parser: ~4 us per 1 KB line instead of ~9
        except orjson.JSONDecodeError:  # bytes that are no UTF-8 too
            value = None
        if _plain_log(value) and duplicate_key(b, value) is None:
            return Line(number, value, "")
    # Everything else by the shared rules (``line_rules.judged``).
    text = _text(raw)
    if not text:
        return None
    value, why = judged_text(text, "a log object")
    if why is not None:
        return Line(number, None, shown(text), why)
    return Line(number, value, text)


def cut_line(number: int, head: str) -> Line:
    """Line ``number``, longer than ``MAX_LINE_CHARS`` characters: its first ones, no log."""
    return Line(number, None, shown(head[:KEPT_CHARS]), LONG_LINE)


def batch_lines(lines: LineBatch) -> Iterator[Line]:
    """The non-blank lines of a batch, parsed, its cut ones (``LineBatch.cut``) included."""
    cut = dict(lines.cut)
    for i, raw in enumerate(lines.data.split(b"\n")):
        number, head = lines.first_line + i, cut.get(i)
        line = parse_line(number, raw) if head is None else cut_line(number, head)
        if line is not None:
            yield line


def malformed(file_name: str, line: Line, chain_id: int) -> DeadLetter:
    """The dead letter of a line that is not a log object."""
    return DeadLetter(
        raw={"file": file_name, "line": line.number, "text": line.text[:MAX_LINE_IN_DEAD_LETTER]},
        reason=f"{file_name} line {line.number}: {line.error}",
        chain_id=chain_id,
        file=file_name,
        line=line.number,
    )


def refused(letter: DeadLetter, file_name: str, number: int, unit: str = "line") -> None:
    """A dead letter made of line ``number``'s log object (by the decoder, or by the writer):
    where it is, too (``unit``: ``row`` for a history file's numbered rows).

    Its ``raw`` stays the log (its identity, shared with the same log from a node); the file
    and line go to ``file``/``line`` and the front of the reason, as for a malformed line."""
    letter.reason = f"{file_name} {unit} {number}: {letter.reason}"
    letter.file, letter.line = file_name, number


Locate = Callable[[DeadLetter], None]


def noting_unstored(locate: Locate | None, unstored: set[tuple[str, int]]) -> Locate:
    """``locate`` (if any), noting in ``unstored`` the (tx hash, log index) of each dead letter
    the writer makes of a log (one the database refused, or without a known time): not stored,
    so its block is not for a checkpoint (``DecodedBatch.top``). The decoder's dead letters
    already name their file and are left out."""

    def noting(letter: DeadLetter) -> None:
        if letter.file is None and letter.tx_hash is not None and letter.log_index is not None:
            unstored.add((letter.tx_hash, letter.log_index))
        if locate is not None:
            locate(letter)

    return noting


"""Names the file and line of a dead letter the writer made (``store.store_batch``'s
``locate``): a log without a known time, a staged row the store refused, a value the database
refused (``store_guard``). Those are made from decoded events, far from the line they came from."""


def by_identity(
    file_name: str, unit: str, entries: Callable[[], Iterable[tuple[str, int, int]]]
) -> Locate:
    """A :data:`Locate` finding a dead letter's line by its log's identity (transaction hash,
    log index) among ``entries`` (tx hash, log index, line) of the batch, listed the first time
    a dead letter asks (a batch without one costs nothing); a later line of the same identity
    wins (the second of two logs sharing it is the one the store refuses)."""
    lines: dict[tuple[str, int], int] | None = None

    def locate(letter: DeadLetter) -> None:
        nonlocal lines
        if letter.file is not None or letter.tx_hash is None or letter.log_index is None:
            return
        if lines is None:
            lines = {(tx.lower(), index): number for tx, index, number in entries()}
        number = lines.get((letter.tx_hash.lower(), letter.log_index))
        if number is not None:
            refused(letter, file_name, number, unit)

    return locate


def lines_locator(file_name: str, lines: LineBatch) -> Locate:
    """:func:`by_identity` over the log objects of a batch of a file's lines."""

    def entries() -> Iterator[tuple[str, int, int]]:
        for line in batch_lines(lines):
            if line.error is not None:
                continue
            tx = line.value.get("transactionHash")
            try:
                index = log_index(line.value.get("logIndex"))
            except FieldError:
                continue
            if isinstance(tx, str):
                yield tx, index, line.number

    return by_identity(file_name, "line", entries)


def _text(raw: bytes) -> str:
    """A line as ``orderflow import`` reads it: decoded (``surrogateescape``: a byte that is no
    UTF-8 is kept, as a lone surrogate), without a byte-order mark or spaces."""
    return line_text(raw.decode("utf-8", "surrogateescape"))


def _blank(raw: bytes) -> bool:
    b = raw.strip()
    if b[:1] == b"{":
        return False
    return not _text(raw)


def file_line_end(fh: IO[bytes]) -> bytes:
    """The line end of the file open as ``fh`` (``line_rules.line_end``, on its first
    ``LINE_END_HEAD`` bytes after its leading whitespace); ``fh`` is back at its start."""
    head = fh.read(LINE_END_HEAD).lstrip()
    while head == b"" and (more := fh.read(LINE_END_HEAD)):  # whitespace only, so far
        head = more.lstrip()
    head += fh.read(LINE_END_HEAD - len(head)) if len(head) < LINE_END_HEAD else b""
    fh.seek(0)
    return line_end(head.decode("latin-1")).encode()


def no_json_head(path: Path, lines: int = 20) -> int:
    """How many of the file's first non-blank lines were read, up to ``lines``, without one
    being JSON (a log object or not): 0 when one is, or when its first MiB holds no whole
    line. As many as it has, or ``lines``, is a file that is no JSON lines at all (a CSV, a log,
    a web page), not one with a few damaged lines."""
    with path.open("rb") as fh:
        end = file_line_end(fh)
        head = fh.read(_READ_BYTES)
        whole = not fh.read(1)
    if not whole:  # the last line may be cut: judge the whole ones
        head = head[: head.rfind(end) + 1]
    seen = 0
    for raw in head.split(end):
        text = _text(raw)
        if not text:
            continue
        try:
            loads_tolerant(text)
        except ValueError:
            seen += 1
            if seen == lines:
                break
            continue
        return 0
    return seen


def _tx_of(number: int, raw: bytes) -> Any:
    line = parse_line(number, raw)
    return line.value.get("transactionHash") if line is not None and line.error is None else None


_HOLD_BYTES = 4 * MAX_LINE_CHARS + 4  # a line of MAX_LINE_CHARS characters and its \r\n, at most
_KEPT_BYTES = 4 * KEPT_CHARS


class _Pending:
    """The start of the line being read, across blocks: held up to ``_HOLD_BYTES`` (a longer
    line holds more than ``MAX_LINE_CHARS`` characters), then only its first bytes."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.size = 0
        self.head: bytes | None = None  # the line is too long: its first bytes

    def add(self, data: bytes) -> None:
        self.size += len(data)
        if self.head is None:
            self.parts.append(data)
            if self.size > _HOLD_BYTES:
                self.head, self.parts = b"".join(self.parts)[:_KEPT_BYTES], []

    def line(self, end: bytes) -> tuple[bytes, str | None]:
        """The line ended by ``end`` (its last bytes): (its bytes, None), or (b"", its first
        characters) when it is longer than ``MAX_LINE_CHARS`` characters."""
        self.add(end)
        head, raw = self.head, b"".join(self.parts)
        self.parts, self.size, self.head = [], 0, None
        if head is not None:
            return b"", head.decode("utf-8", "surrogateescape")
        cut = _long(raw)
        return (raw, None) if cut is None else (b"", cut)


def _long(raw: bytes) -> str | None:
    """The first characters of ``raw`` if it holds more than ``MAX_LINE_CHARS`` characters."""
    if len(raw) <= MAX_LINE_CHARS:
        return None
    text = raw.decode("utf-8", "surrogateescape")
    return text[:KEPT_CHARS] if len(text) > MAX_LINE_CHARS else None


Block = tuple[list[bytes], int, bool, dict[int, str]]


def _line_blocks(fh: IO[bytes]) -> Generator[Block, None, None]:
    """The file's lines (without their endings) a block at a time, with the bytes read up to
    the end of the block's last line, whether every line of the block starts with ``{`` (then
    none is blank and none is cut: no per-line check is needed), and the lines longer than
    ``MAX_LINE_CHARS`` characters (``b""`` in the list), by index, with their first characters."""
    swap = file_line_end(fh) == b"\r"
    read = 0
    pending = _Pending()
    while True:
        block = fh.read(_READ_BYTES)
        read += len(block)
        if not block:  # the end of the file: its last line, if it has no line end
            if pending.size:
                last, cut = pending.line(b"")
                cuts = {} if cut is None else {0: cut}
                yield [last], read, not cuts and last[:1] == b"{", cuts
            return
        if swap:
            block = block.translate(_SWAP)
        at = block.rfind(b"\n")
        if at < 0:
            pending.add(block)  # no line end: all of it belongs to the line being read
            continue
        lines = block[:at].split(b"\n")
        cuts = {}
        lines[0], cut = pending.line(lines[0])
        if cut is not None:
            cuts[0] = cut
        if at > MAX_LINE_CHARS:  # a block that may hold a long line of its own: look
            for i in range(1, len(lines)):
                if (cut := _long(lines[i])) is not None:
                    lines[i], cuts[i] = b"", cut
        rest = block[at + 1 :]
        if rest:
            pending.add(rest)
        yield lines, read - len(rest), not cuts and all(x[:1] == b"{" for x in lines), cuts


@dataclass(slots=True)
class LineBatch:
    """Consecutive lines of a file, joined by ``\\n``; ``first_line`` is the first one's number."""

    data: bytes
    first_line: int
    lines: int  # physical lines, blank ones included
    end_offset: int  # bytes of the file read up to the end of this batch
    cut: list[tuple[int, str]] = field(default_factory=list)
    """Lines longer than ``MAX_LINE_CHARS`` characters, by index in ``data`` (where they are
    empty), with their first characters: each a dead letter (``cut_line``)."""


def line_batches(path: Path, batch_size: int) -> Generator[LineBatch, None, None]:
    """Batches of ``batch_size`` non-blank lines, extended so no transaction is split.

    A batch grows by at most another ``batch_size`` lines for one transaction (as the
    in-memory path's ``ingest_chunks.grouped`` does), so the batches, and therefore the stored rows,
    are the same as decoding the whole file in one process."""
    with path.open("rb") as fh:
        lines: list[bytes] = []
        cut: list[tuple[int, str]] = []  # the batch's lines too long to hold
        first = 1
        logs = 0
        last: tuple[int, bytes] | None = None  # the batch's last non-blank line
        last_tx: Any = _UNKNOWN
        end = 0
        before = 0  # lines of the file before the current block
        for block, read, objects, cuts in _line_blocks(fh):
            i = 0
            while i < len(block):
                if objects and logs < batch_size:  # the common case: whole slices, no checks
                    take = block[i : i + batch_size - logs]
                    lines += take
                    logs += len(take)
                    i += len(take)
                    last, last_tx = (before + i, take[-1]), _UNKNOWN
                    end = read
                    continue
                number, raw = before + i + 1, block[i]
                if objects or i in cuts or not _blank(raw):
                    if logs >= batch_size and last is not None:
                        if last_tx is _UNKNOWN:
                            last_tx = _tx_of(*last)
                        tx = _tx_of(number, raw)
                        if last_tx is None or tx != last_tx or logs >= 2 * batch_size:
                            yield LineBatch(b"\n".join(lines), first, len(lines), end, cut)
                            lines, cut, first, logs = [], [], number, 0
                        last_tx = tx
                    else:
                        last_tx = _UNKNOWN
                    logs += 1
                    last = (number, raw)
                if i in cuts:
                    cut.append((len(lines), cuts[i]))
                lines.append(raw)
                end = read
                i += 1
            before += len(block)
        if logs:  # not for a file of blank lines only
            yield LineBatch(b"\n".join(lines), first, len(lines), end, cut)
