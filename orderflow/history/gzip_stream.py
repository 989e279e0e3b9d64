"""A gzip'd file read up to where it breaks off.

A download cut short (no end-of-stream marker) or a corrupt stream made ``gzip`` raise from
deep inside a reader (``EOFError: Compressed file ended before the end-of-stream marker was
reached``, naming no file), and the rows of the batch being read were neither stored nor dead
letters. Here the text simply ends at the break, and ``broken`` says why: the readers import
every row before it, treat the row it cuts as a dead letter (``sources.RowReader.cut_short``),
and the import then stops naming the file (``RowReader.check_whole``).

A stream cut short is right up to the cut. A *damaged* one is not: deflate decodes a flipped bit
into other bytes and goes on, mostly to the stream's end, where only the trailer's CRC shows it
(387 of 400 random one-bit flips of a CSV's stream, here). Its rows after the damage read as
rows, with wrong values — a hash or an amount a digit off — and were stored before the CRC was
checked, for good (until 6 Dec 2026). So :func:`damage` reads the whole stream first, and a
damaged file is refused before any of its rows is read (``sources.RowReader.open``).
"""

from __future__ import annotations

import gzip
import io
import zlib
from typing import IO


def damage(raw: IO[bytes]) -> str | None:
    """Why the gzip stream in ``raw`` is damaged — data deflate cannot decode, a CRC or length
    that does not match the data, bytes after it that are no gzip stream — or None when it is
    whole or only cut short (every byte before the cut is the compressed one). Decompresses it
    once to its end (0.13 s of CPU for 64 MB of CSV, ≈ 4 % of importing its rows: docs/history.md)
    and leaves ``raw`` at its start."""
    start = raw.tell()
    buffer = bytearray(1 << 20)
    try:
        with gzip.GzipFile(fileobj=raw) as stream:
            while stream.readinto(buffer):
                pass
    except EOFError:
        return None  # cut short: BreakingGzip reads up to the cut
    except (OSError, zlib.error) as exc:  # gzip.BadGzipFile is an OSError
        return str(exc) or type(exc).__name__
    finally:
        raw.seek(start)
    return None


class BreakingGzip(io.RawIOBase):
    """The decompressed bytes of ``raw`` up to the end of the stream or where it breaks."""

    def __init__(self, raw: IO[bytes]) -> None:
        self._gzip = gzip.GzipFile(fileobj=raw)
        self.broken: str | None = None
        """Why the stream ended before its end-of-stream marker (None: it did not)."""
        self.ends_line = True
        """The last byte read was a line break (so the break cut no line)."""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        if self.broken is not None:
            return 0
        try:
            data = self._gzip.read1(len(buffer))  # one read: read() drops what it had
        except (EOFError, OSError, zlib.error) as exc:  # gzip.BadGzipFile is an OSError
            self.broken = str(exc) or type(exc).__name__
            return 0
        n = len(data)
        buffer[:n] = data
        if n:
            self.ends_line = data.endswith(b"\n")
        return n

    def close(self) -> None:
        self._gzip.close()
        super().close()
