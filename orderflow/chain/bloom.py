"""A block header's ``logsBloom``, read as Ethereum writes it (yellow paper, eq. 24-26).

Every log of a block adds its address and each of its topics to the block's 2048-bit bloom:
for an item, the low 11 bits of each of the first three 16-bit words of ``keccak256(item)``
index a bit, counted from the lowest-order bit of the big-endian 256-byte value. A bloom has
no false negative — a block holding a log of address A and topic T has every bit of A and of T
set — but has false positives (a block of many logs sets most bits; on a busy Polygon block
most of the 2048 are set), so a match says only that the block *may* hold such a log.

:func:`may_match` answers that for an eth_getLogs filter of the listener's shape: some address
of the filter and some topic0 of it both in the bloom (they may come from two different logs:
one more way to a false positive, never a false negative).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from orderflow.chain.tokens import keccak256

BLOOM_BYTES = 256


def bloom_bits(item: bytes) -> tuple[int, int, int]:
    """The three bit indices (0 = the lowest-order bit) that ``item`` sets in a bloom."""
    h = keccak256(item)
    return (
        int.from_bytes(h[0:2], "big") & 0x7FF,
        int.from_bytes(h[2:4], "big") & 0x7FF,
        int.from_bytes(h[4:6], "big") & 0x7FF,
    )


def parse_bloom(value: object) -> int | None:
    """A header's ``logsBloom`` (0x + 512 hex digits) as an integer; None when absent or
    malformed (then nothing is concluded from it)."""
    if not isinstance(value, str) or len(value) != 2 + 2 * BLOOM_BYTES:
        return None
    try:
        return int(value[2:], 16) if value[:2] in ("0x", "0X") else None
    except ValueError:
        return None


def in_bloom(bloom: int, item: bytes) -> bool:
    """``item`` (an address's 20 bytes, a topic's 32) may be in the block: all three bits set."""
    return all(bloom >> bit & 1 for bit in bloom_bits(item))


def bloom_of(logs: Iterable[Mapping[str, object]]) -> int:
    """The bloom of these logs (address and topics of each), as a block header holds it."""
    bloom = 0
    for raw in logs:
        for item in [raw["address"], *raw["topics"]]:  # type: ignore[misc]
            for bit in bloom_bits(bytes.fromhex(str(item).removeprefix("0x"))):
                bloom |= 1 << bit
    return bloom


def _hex_items(value: object) -> list[bytes]:
    """A filter field (one 0x string, a list of them, or None: any) as bytes; [] for any."""
    values = value if isinstance(value, list) else [value] if isinstance(value, str) else []
    return [bytes.fromhex(str(v).removeprefix("0x")) for v in values]


def may_match(bloom: int, log_filter: Mapping[str, object]) -> bool:
    """Whether a block with this bloom may hold a log of ``log_filter`` (eth_getLogs's
    ``address`` and ``topics``; only topic0 is looked at, and a field left open matches)."""
    addresses = _hex_items(log_filter.get("address"))
    topics = log_filter.get("topics")
    topic0 = _hex_items(topics[0]) if isinstance(topics, list) and topics else []
    return all(not items or any(in_bloom(bloom, i) for i in items) for items in (addresses, topic0))
