"""The pieces of a capped block's re-read that need no node: the narrower filters, and the
union of their replies."""

from __future__ import annotations

from typing import Any

from orderflow.chain.capped_logs import in_log_order, narrower
from orderflow.chain.contracts import MAINNET


def raw(tx: str, index: int) -> dict[str, Any]:
    return {"transactionHash": tx, "logIndex": hex(index)}


def test_the_union_is_deduplicated_and_in_log_index_order() -> None:
    """A node that ignores the address filter answers every narrower filter with the same logs:
    each is kept once; replies per address come back out of log order: sorted again (as
    integers, 0x10 after 0x9)."""
    first, second = [raw("0xa", 9), raw("0xb", 16)], [raw("0xa", 2), raw("0xa", 9)]
    malformed = {"value": "not a log"}
    union = in_log_order([*first, malformed, *second, *first])
    assert union == [raw("0xa", 2), raw("0xa", 9), raw("0xb", 16), malformed]


def test_the_filter_narrows_by_address_then_by_topic0_then_not_at_all() -> None:
    wide = MAINNET.log_filter()
    per_address = narrower(wide)
    assert per_address is not None
    assert [f["address"] for f in per_address] == [[a] for a in MAINNET.watched_addresses()]
    per_topic = narrower(per_address[0])
    assert per_topic is not None
    assert [f["topics"] for f in per_topic] == [[[t]] for t in MAINNET.topics()[0]]
    assert all(f["address"] == per_address[0]["address"] for f in per_topic)
    assert narrower(per_topic[0]) is None
    assert narrower({"address": "0xa", "topics": ["0x1"]}) is None
