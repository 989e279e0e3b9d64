"""A JSON-lines file of raw logs as batches of lines, and one line as a log object.

:func:`line_batches` runs in the importing process: it reads the file as bytes and cuts it
into batches of ``batch_size`` non-blank lines, extended so no transaction is split between
two (the rule of ``ingest_chunks.grouped``); it parses only the few lines around each cut, to read
their transaction hash. :func:`parse_line` runs wherever a batch is decoded (a decoding
process, or a worker thread).

Line semantics are those of a file opened in text mode with ``encoding="utf-8-sig",
errors="replace"``, as the import always read it: ``\\n``, ``\\r\\n`` and a lone ``\\r`` end a
line, invalid UTF-8 becomes U+FFFD, a byte-order mark and surrounding whitespace are removed
from every line, and line numbers count every line, blank or not.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import orjson

from orderflow.chain.events import DeadLetter
from orderflow.chain.fields import FieldError, log_index
from orderflow.chain.json_keys import REASON as REPEATED_KEY
from orderflow.chain.json_keys import duplicate_key
from orderflow.chain.line_rules import line_text
from orderflow.chain.storable import loads_tolerant

MAX_LINE_IN_DEAD_LETTER = 10_000  # characters of a malformed line kept for inspection
_READ_BYTES = 1 << 20
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
        except orjson.JSONDecodeError:
            value = None
        if _plain_log(value) and duplicate_key(b, value) is None:
            return Line(number, value, "")
    # Everything else exactly as the text-mode reader did it.
    text = _text(raw)
    if not text:
        return None
    try:
        value = loads_tolerant(text)
    except ValueError as exc:
        return Line(number, None, text, f"not JSON ({str(exc)[:200]})")
    if not isinstance(value, dict):
        return Line(number, None, text, f"a JSON {type(value).__name__}, not a log object")
    if (key := duplicate_key(text, value)) is not None:
        return Line(number, None, text, REPEATED_KEY.format(key=key))
    return Line(number, value, text)


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
        for i, raw in enumerate(lines.data.split(b"\n")):
            line = parse_line(lines.first_line + i, raw)
            if line is None or line.error is not None:
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
    """A line as the text-mode reader saw it: decoded, without a byte-order mark or spaces."""
    return line_text(raw.decode("utf-8", "replace"))


def _blank(raw: bytes) -> bool:
    b = raw.strip()
    if b[:1] == b"{":
        return False
    return not _text(raw)


def no_json_head(path: Path, lines: int = 20) -> int:
    """How many of the file's first non-blank lines were read, up to ``lines``, without one
    being JSON (a log object or not): 0 when one is, or when its first MiB holds no whole
    line. As many as it has, or ``lines``, is a file that is no JSON lines at all (a CSV, a log,
    a web page), not one with a few damaged lines."""
    with path.open("rb") as fh:
        head = fh.read(_READ_BYTES)
        whole = not fh.read(1)
    if not whole:  # the last line may be cut: judge the whole ones
        head = head[: max(head.rfind(b"\n"), head.rfind(b"\r")) + 1]
    seen = 0
    for raw in head.splitlines():
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


def _line_blocks(fh: IO[bytes]) -> Generator[tuple[list[bytes], int, bool], None, None]:
    """The file's lines (without their endings) a block at a time, with the bytes read so far
    and whether every line of the block starts with ``{`` (then none is blank: no per-line
    check is needed)."""
    offset = 0
    rest = b""
    while True:
        block = fh.read(_READ_BYTES)
        data = rest + block
        if block:
            # A final \r may be the first half of a \r\n: it stays for the next block.
            body = data[:-1] if data[-1:] == b"\r" else data
            cut = max(body.rfind(b"\n"), body.rfind(b"\r"))
            if cut < 0:
                rest = data
                continue
            head, rest = body[: cut + 1], data[cut + 1 :]
        else:
            head, rest = data, b""
        offset += len(head)
        if b"\r" in head:
            head = head.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        lines = head.split(b"\n")
        if lines[-1] == b"":
            lines.pop()  # after the last line end
        if lines:
            yield lines, offset, all(line[:1] == b"{" for line in lines)
        if not block:
            return


@dataclass(slots=True)
class LineBatch:
    """Consecutive lines of a file, joined by ``\\n``; ``first_line`` is the first one's number."""

    data: bytes
    first_line: int
    lines: int  # physical lines, blank ones included
    end_offset: int  # bytes of the file read up to the end of this batch


def line_batches(path: Path, batch_size: int) -> Generator[LineBatch, None, None]:
    """Batches of ``batch_size`` non-blank lines, extended so no transaction is split.

    A batch grows by at most another ``batch_size`` lines for one transaction (as the
    in-memory path's ``ingest_chunks.grouped`` does), so the batches, and therefore the stored rows,
    are the same as decoding the whole file in one process."""
    with path.open("rb") as fh:
        lines: list[bytes] = []
        first = 1
        logs = 0
        last: tuple[int, bytes] | None = None  # the batch's last non-blank line
        last_tx: Any = _UNKNOWN
        end = 0
        before = 0  # lines of the file before the current block
        for block, read, objects in _line_blocks(fh):
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
                if objects or not _blank(raw):
                    if logs >= batch_size and last is not None:
                        if last_tx is _UNKNOWN:
                            last_tx = _tx_of(*last)
                        tx = _tx_of(number, raw)
                        if last_tx is None or tx != last_tx or logs >= 2 * batch_size:
                            yield LineBatch(b"\n".join(lines), first, len(lines), end)
                            lines, first, logs = [], number, 0
                        last_tx = tx
                    else:
                        last_tx = _UNKNOWN
                    logs += 1
                    last = (number, raw)
                lines.append(raw)
                end = read
                i += 1
            before += len(block)
        if logs:  # not for a file of blank lines only
            yield LineBatch(b"\n".join(lines), first, len(lines), end)
