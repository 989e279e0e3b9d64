"""The confirming read checks a range against the heads' headers the window holds, fetching only
its end (``BlockWindow.linked``, ``backfill_headers.verified_headers(held=…)``): only when those
headers are one chain whose top is the node's block now; otherwise every header is fetched, as
before."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from orderflow.chain.backfill_headers import Reorganised, verified_headers
from orderflow.chain.reorg import BlockWindow
from orderflow.chain.rpc import EthClient, Header

T = datetime(2026, 12, 7, tzinfo=UTC)


def _chain(low: int, high: int, fork: str = "a") -> list[Header]:
    def h(n: int) -> str:
        return "0x" + f"{fork}{n:x}".rjust(64, "0")

    return [Header(n, h(n), h(n - 1), T) for n in range(low, high + 1)]


class _Node(EthClient):
    """A node answering eth_getBlockByNumber from ``headers``, counting the calls."""

    def __init__(self, headers: list[Header]) -> None:
        self.by_number = {h.number: h for h in headers}
        self.asked: list[int] = []

    @property
    def endpoint(self) -> str:
        return "stub"

    async def header_by_number(self, number: int) -> Header | None:
        self.asked.append(number)
        return self.by_number.get(number)


def _window(headers: list[Header]) -> BlockWindow:
    window = BlockWindow(64)
    for h in headers:
        window.add(h)
    return window


def _log(header: Header) -> dict[str, str]:
    return {"blockNumber": hex(header.number), "blockHash": header.hash}


def test_linked_is_every_block_of_one_chain() -> None:
    chain = _chain(10, 20)
    assert _window(chain).linked(10, 20) == {h.number: h for h in chain}
    holed = _window([h for h in chain if h.number != 15])
    assert holed.linked(10, 20) is None and holed.linked(16, 20) is not None
    other = _chain(15, 15, fork="b")  # block 15 of another fork: 16 does not name it
    assert _window([*chain[:5], *other, *chain[6:]]).linked(10, 20) is None


async def test_a_held_chain_whose_top_is_the_nodes_costs_one_header() -> None:
    chain = _chain(9, 20)
    node = _Node(chain)
    raws = [_log(h) for h in chain[1:]]
    got = await verified_headers(
        node,
        raws,
        start=10,
        end=20,
        with_end=True,
        recent_from=0,
        below=chain[0],
        held=_window(chain).linked(9, 20),
    )
    assert node.asked == [20]
    assert got == {h.number: h for h in chain}


async def test_a_node_whose_top_moved_has_every_header_fetched() -> None:
    held = _chain(9, 20)
    node = _Node([*held[:6], *_chain(15, 20, fork="b")])  # blocks 15-20 replaced
    raws = [_log(h) for h in held[1:]]
    with pytest.raises(Reorganised):
        await verified_headers(
            node,
            raws,
            start=10,
            end=20,
            with_end=True,
            recent_from=0,
            below=held[0],
            held=_window(held).linked(9, 20),
        )
    assert sorted(set(node.asked)) == list(range(9, 21))  # the end first, then every one
