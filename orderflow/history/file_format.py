"""What a file of rows is, from its name checked against its first bytes: CSV (or TSV), JSON
(lines or arrays of rows) or Parquet, and whether it is gzip'd."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from orderflow.history.errors import HistoryError, LayoutError

FileFormat = Literal["csv", "jsonl", "parquet"]
_GZIP_MAGIC = b"\x1f\x8b"
_PARQUET_MAGIC = b"PAR1"


def detect_format(path: Path) -> tuple[FileFormat, bool]:
    """(format, gzipped) from the name (``.csv``, ``.jsonl``/``.ndjson``/``.json``, ``.parquet``,
    each optionally ``.gz``), checked against the file's first bytes."""
    try:
        with path.open("rb") as fh:
            head = fh.read(4)
    except OSError as exc:
        raise HistoryError(f"cannot read {path}: {exc.strerror or exc}") from None
    gz = head[:2] == _GZIP_MAGIC
    name = path.name.lower()
    if name.endswith(".gz"):
        name = name[:-3]
    if head == _PARQUET_MAGIC or name.endswith((".parquet", ".pq")):
        if gz:
            raise LayoutError(f"{path.name}: gzip'd Parquet is not supported (Parquet compresses)")
        return "parquet", False
    if name.endswith((".jsonl", ".ndjson", ".json")):
        return "jsonl", gz
    if name.endswith((".csv", ".tsv")):
        return "csv", gz
    raise LayoutError(
        f"{path.name}: cannot tell the format from the name "
        "(use .csv, .tsv, .jsonl, .ndjson, .json or .parquet, optionally .gz)"
    )
