"""numpy columns to and from PostgreSQL's binary COPY format, for fixed-width columns only.

The population step moves one row per wallet each way (the inputs out, the scores back): a
million wallets by some 30 float8 columns. As ``array_agg`` / ``unnest`` parameters that is
one Python float object per value and per-element array parsing in the server; in the binary
COPY format a row of fixed-width fields is a fixed-size record, so numpy reads and writes the
whole stream as one structured array.

Format (PostgreSQL docs, "COPY", binary format): an 11-byte signature, a 4-byte flags field and
a 4-byte header-extension length; per row a 2-byte field count, then per field a 4-byte length
(-1: NULL) and the value in network byte order; a 2-byte -1 trailer. Only non-NULL
``int2`` / ``int4`` / ``int8`` / ``float8`` fields are handled: a float column carries NaN,
not NULL (the SQL maps it with ``nullif(x, 'NaN')`` where a NULL is wanted).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import asyncpg
import numpy as np
import numpy.typing as npt

SIGNATURE = b"PGCOPY\n\xff\r\n\x00"
HEADER = SIGNATURE + b"\x00\x00\x00\x00" + b"\x00\x00\x00\x00"
TRAILER = b"\xff\xff"

# PostgreSQL type -> numpy big-endian dtype of its binary send format
TYPES = {"int2": ">i2", "int4": ">i4", "int8": ">i8", "float8": ">f8"}


def _record(columns: Sequence[tuple[str, str]]) -> np.dtype[np.void]:
    """One row: the field count, then (length, value) per column."""
    fields: list[tuple[str, str]] = [("_n", ">i2")]
    for name, pg_type in columns:
        fields += [(f"_len_{name}", ">i4"), (name, TYPES[pg_type])]
    return np.dtype(fields)


def encode(columns: Sequence[tuple[str, str]], values: Mapping[str, npt.ArrayLike]) -> bytes:
    """The COPY ... FROM STDIN (FORMAT binary) stream of ``values`` (one array per column,
    all of one length) for ``columns`` = ((name, PostgreSQL type), ...) in table order."""
    record = _record(columns)
    n = len(np.asarray(values[columns[0][0]])) if columns else 0
    rows = np.empty(n, dtype=record)
    rows["_n"] = len(columns)
    for name, pg_type in columns:
        rows[f"_len_{name}"] = np.dtype(TYPES[pg_type]).itemsize
        rows[name] = np.asarray(values[name])
    return HEADER + rows.tobytes() + TRAILER


def decode(
    columns: Sequence[tuple[str, str]], stream: bytes | bytearray
) -> dict[str, npt.NDArray[np.generic]]:
    """The columns of a COPY ... TO STDOUT (FORMAT binary) stream of non-NULL fixed-width
    fields, as native-endian arrays. Raises ValueError on anything else (a NULL, a column
    count or width that differs: the stream would not split into equal records)."""
    if not stream.startswith(SIGNATURE) or not stream.endswith(TRAILER):
        raise ValueError("not a PostgreSQL binary COPY stream")
    extension = int.from_bytes(stream[15:19], "big")
    body = stream[19 + extension : -len(TRAILER)]
    record = _record(columns)
    if len(body) % record.itemsize:
        raise ValueError("binary COPY stream does not match the expected fixed-width columns")
    rows = np.frombuffer(body, dtype=record)
    expected = {name: np.dtype(TYPES[t]).itemsize for name, t in columns}
    if rows.size and (
        np.any(rows["_n"] != len(columns))
        or any(np.any(rows[f"_len_{c}"] != w) for c, w in expected.items())
    ):
        raise ValueError("binary COPY stream has a NULL or a field of unexpected width")
    return {name: rows[name].astype(np.dtype(TYPES[t]).newbyteorder("=")) for name, t in columns}


async def read(
    conn: asyncpg.Connection, query: str, columns: Sequence[tuple[str, str]]
) -> dict[str, npt.NDArray[np.generic]]:
    """The rows of ``query`` (its columns in ``columns``' order and types), by binary COPY."""
    stream = bytearray()

    async def take(chunk: bytes) -> None:
        stream.extend(chunk)

    await conn.copy_from_query(query, output=take, format="binary")
    return decode(columns, stream)


async def write(
    conn: asyncpg.Connection,
    table: str,
    columns: Sequence[tuple[str, str]],
    values: Mapping[str, npt.ArrayLike],
) -> None:
    """``values`` into ``table`` (its columns in ``columns``' order and types), by binary COPY."""
    # a memoryview: asyncpg would take bytes for a file name
    await conn.copy_to_table(table, source=memoryview(encode(columns, values)), format="binary")
