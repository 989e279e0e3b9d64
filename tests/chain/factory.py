"""Builders for test logs: deterministic hashes and positions, so expected rows are readable."""

from __future__ import annotations

from orderflow.chain.encode import LogPosition

T0 = 1_779_000_000  # 2026-05-17T06:40:00Z


def h32(tag: int | str) -> str:
    """A recognisable 32-byte hash: 0x + tag (hex) left-padded."""
    body = format(tag, "x") if isinstance(tag, int) else tag
    return "0x" + body.rjust(64, "0")


def addr(tag: int) -> str:
    return "0x" + format(tag, "x").rjust(40, "0")


def block_hash(number: int, fork: int = 0) -> str:
    return h32(f"b{fork:x}{number:08x}")


def at(
    block: int,
    log_index: int,
    tx: int = 1,
    *,
    timestamp: int | str | None = "auto",
    fork: int = 0,
    removed: bool = False,
) -> LogPosition:
    """Position of a log in block ``block`` (timestamp 2 s per block unless given)."""
    ts = T0 + 2 * block if timestamp == "auto" else timestamp
    assert ts is None or isinstance(ts, int)
    return LogPosition(
        block_number=block,
        block_hash=block_hash(block, fork),
        tx_hash=h32(f"7{tx:x}"),
        log_index=log_index,
        timestamp=ts,
        removed=removed,
    )
