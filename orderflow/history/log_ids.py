"""Log ids: the ``id`` column of an indexer's dump that stands in for a log's identity.

Subgraphs and indexers key an event entity by its log, each in its own spelling
(:data:`ID_SPELLINGS`); :func:`read_log_id` reads every one into a :class:`LogId` — the log
index, and the transaction, block and chain where the spelling carries them.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, NamedTuple

from orderflow.history.hex_text import hex_body

if TYPE_CHECKING:
    from orderflow.history.layouts import Layout

# A log id that carries the log index, as subgraphs spell it: "<tx hash>-<log index>" (the old
# Graph scaffold, Messari), "<tx hash>_0x<hex>" (Polymarket's getEventKey: hash.toHexString() +
# '_' + logIndex.toHexString()), "-" / "_" / ":" with decimal or 0x hex, and the scaffold's
# hash.concatI32(logIndex.toI32()): the hash's 32 bytes and the index's 4, little-endian; each
# with or without its hex prefix (a Bytes id from a graph-node database dump is bytea hex:
# :mod:`orderflow.history.hex_text`).
_ID_WITH_LOG_INDEX = re.compile(
    r"^([0-9a-f]{64})(?:[-_:](?:(\d{1,10})|0x([0-9a-f]{1,8}))|([0-9a-f]{8}))$",
    re.IGNORECASE | re.ASCII,  # \d: ASCII digits only, as every other number of a row
)
# Envio HyperIndex's event entities: "${chainId}_${block.number}_${logIndex}" (no transaction:
# a transaction hash column gives it).
_ENVIO_ID = re.compile(r"^(\d{1,12})_(\d{1,20})_(\d{1,10})$", re.ASCII)
ID_SPELLINGS = (
    "'<transaction hash>-<log index>' (or _ or :, the index decimal or 0x hex, as Polymarket's "
    "subgraphs key events: transactionHash_0x1f), the Graph scaffold's "
    "transactionHash.concatI32(logIndex), or Envio's chainId_blockNumber_logIndex with a "
    "transactionHash column"
)


class LogId(NamedTuple):
    """What a log id says of its log: the log index, and the transaction, block and chain where
    its spelling carries them."""

    tx: str | None
    log_index: int
    block: int | None = None
    chain: int | None = None

    def completes(self, layout: Layout) -> bool:
        """Whether the id, with the layout's columns, gives the whole identity."""
        return (self.tx is not None or layout.has("tx_hash")) and (
            self.block is not None or layout.has("block_number")
        )


def read_log_id(value: object) -> LogId | None:
    """The log id ``value`` is in one of the spellings of ``ID_SPELLINGS``, or None."""
    if isinstance(value, str) and (m := _ENVIO_ID.match(value.strip())):
        chain, block, index = (int(g) for g in m.groups())
        return LogId(None, index, block, chain)
    derived = split_log_id(value)
    return None if derived is None else LogId(*derived)


def split_log_id(value: object) -> tuple[str, int] | None:
    """(tx hash, log index) from an id in one of the spellings of ``ID_SPELLINGS``, or None."""
    if not isinstance(value, str):
        return None
    text = value.strip()
    m = _ID_WITH_LOG_INDEX.match(hex_body(text) or text)
    if m is None:
        return None
    tx, decimal, hexadecimal, concat_i32 = m.groups()
    if decimal is not None:
        index = int(decimal)
    elif hexadecimal is not None:
        index = int(hexadecimal, 16)
    else:
        index = int.from_bytes(bytes.fromhex(concat_i32), "little")
    return "0x" + tx.lower(), index
