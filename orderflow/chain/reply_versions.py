"""A node's reply holding two versions of one log: neither is the truth.

A log is one (block number, block hash, log index): a node sends it once, or the same copy
twice (harmless: the store keeps one). Two copies there that differ in anything else (address,
topics, data, transaction) mean the reply is unreliable, and storing either one would take a
guess as the chain's fill: the store's replacement of a stored row by the node's log
(``store_replace``) ends on whichever version comes last. So the backfill reads such a range
again (``backfill_read.TwoVersions``), and the live stream reads the heights of such a batch
with eth_getLogs instead (``live_store.LiveStore.flush``); when the node keeps answering so,
every version is a dead letter saying so and none is stored. Until 6 Dec 2026 the version
stored was the last one the replace loop met (a reply reversed stored the fake amount) and
the other a dead letter blaming "an imported row, or a fork's left over".

A different block hash under one block number is not this: that is a block the chain may have
replaced (``backfill_headers.verified_headers`` checks it against the header).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

from orderflow.chain.decode import dead_letter
from orderflow.chain.events import DeadLetter
from orderflow.chain.fields import FieldError, block_number, log_index

_Place = tuple[int, str, int]  # block number, block hash (lower case), log index


def _place(raw: Mapping[str, Any]) -> _Place | None:
    """Where a log sits, or None when its block number or log index does not parse (decode
    dead-letters it)."""
    try:
        return (
            block_number(raw.get("blockNumber")),
            str(raw.get("blockHash")).lower(),
            log_index(raw.get("logIndex")),
        )
    except FieldError:
        return None


def _content(raw: Mapping[str, Any]) -> tuple[str, ...]:
    """What two copies of one log must agree on."""
    topics = raw.get("topics")
    return (
        str(raw.get("address")).lower(),
        *(str(t).lower() for t in (topics if isinstance(topics, list) else [topics])),
        str(raw.get("data")).lower(),
        str(raw.get("transactionHash")).lower(),
    )


def split_versions(
    raws: Sequence[Mapping[str, Any]], chain_id: int
) -> tuple[list[Mapping[str, Any]], list[DeadLetter]]:
    """A reply's logs without those whose place another log of the reply holds with other
    content, and one dead letter for each distinct version of those (none stored)."""
    versions: dict[_Place, dict[tuple[str, ...], Mapping[str, Any]]] = defaultdict(dict)
    for raw in raws:
        place = _place(raw)
        if place is not None:
            versions[place].setdefault(_content(raw), raw)
    torn = {place: found for place, found in versions.items() if len(found) > 1}
    if not torn:
        return list(raws), []
    kept = [raw for raw in raws if _place(raw) not in torn]
    dead = [
        dead_letter(
            raw,
            f"the node's reply itself held {len(found)} versions of the log at block "
            f"{place[0]}, log index {place[2]} (other amounts, wallets, order, token or "
            "transaction), read after read: a node never sends two, so none is stored",
            chain_id,
        )
        for place, found in torn.items()
        for raw in found.values()
    ]
    return kept, dead
