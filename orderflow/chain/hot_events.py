"""One hot log (OrderFilled / OrdersMatched of a known exchange) → a light record and row text.

The file import's fast path (``decode_fast.py``) calls :meth:`HotLogs.take` for each parsed
log object. It keeps the log only when ``decode`` would turn it into a Fill or a Match, and then
with exactly the values ``decode_events`` gives them; anything else is refused (False or any
exception) and left to ``decode``. What differs is only the cost. Block numbers, times, log
indexes and block hashes go through the same parsers as in ``decode`` (``fields.py``), memoised
per batch; ``check_amounts`` is the same call. The data payload, the transaction and order
hashes and the wallet topics are checked by one ``fromhex`` (:func:`_payload`) and split by one
``struct`` call: that takes ``0x`` strings of the exact length and zero-padded wallet topics
only — a subset of what ``data_words``, ``hash32`` and ``topic_address`` (i.e. ``fill_topics``)
accept, read the same way. No ``LogRef`` or ``Fill`` is built: the record carries its staging
row's text (``copy_render``'s columns) around the amounts the taker correction may still lower,
and the fields that correction and the match links read (``events.FillFields``,
``MatchFields``).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from orderflow.chain import contracts as c
from orderflow.chain.contracts import ChainAddresses
from orderflow.chain.copy_render import NULL
from orderflow.chain.fields import (
    block_number,
    check_amounts,
    hash32,
    log_index,
    quantity,
)

__all__ = ["HotFill", "HotLogs", "HotMatch"]


@dataclass(slots=True, eq=False)  # compared and hashed by identity
class HotFill:
    """A fill as the fast path keeps it: what the cross-log steps read, and its row's text."""

    tx_hash: str
    log_index: int
    address: str
    version: str
    block_number: int
    is_taker_aggregate: bool
    order_hash: str
    side: str
    token_id: int
    shares: int
    collateral: int
    head: str  # the row up to the token id, with its tab
    tail: str  # fee … metadata, with a tab after each
    link: int | None = field(default=None, init=False)  # its match's log index, once known

    @property
    def ref(self) -> HotFill:
        return self


@dataclass(slots=True, eq=False)  # compared and hashed by identity
class HotMatch:
    """A match as the fast path keeps it."""

    tx_hash: str
    log_index: int
    address: str
    version: str
    block_number: int
    taker_order_hash: str
    side: str
    token_id: int
    shares: int
    collateral: int
    head: str  # the row up to the token id, with its tab

    @property
    def ref(self) -> HotMatch:
        return self


_FILL_V1, _FILL_V2, _MATCH_V1, _MATCH_V2 = range(4)
_KINDS: dict[str, dict[str, int]] = {
    "V1": {c.TOPIC_ORDER_FILLED_V1: _FILL_V1, c.TOPIC_ORDERS_MATCHED_V1: _MATCH_V1},
    "V2": {c.TOPIC_ORDER_FILLED_V2: _FILL_V2, c.TOPIC_ORDERS_MATCHED_V2: _MATCH_V2},
    "V3": {c.TOPIC_ORDER_FILLED_V2: _FILL_V2, c.TOPIC_ORDERS_MATCHED_V2: _MATCH_V2},
}
# Data payloads cut into words; an amount is its 24 high bytes (zero: below 2**64, else
# ``check_amounts`` refuses it anyway) and a uint64.
# Each is followed by the bytes of the transaction hash and the topics (checked, not read: see
# _payload): order hash and two wallets after a fill's words, order hash, its wallet and 20 zero
# bytes after a match's.
_FILL_V2_WORDS = struct.Struct(">32s32s24sQ24sQ24sQ32s32s104x")  # side, token, 3 amounts, 2 words
_FILL_V1_WORDS = struct.Struct(">32s32s24sQ24sQ24sQ104x")  # 2 asset ids, 3 amounts
_MATCH_WORDS = struct.Struct(">32s32s24sQ24sQ104x")  # side (V1: asset id), token/asset id, amounts
_PAD = "0x" + "0" * 24  # an address topic's first 26 characters
_ZERO = bytes(32)
_ZERO_HEX = "0x" + "0" * 64
_HIGH = bytes(24)
_ONE = bytes(31) + b"\x01"


def _payload(
    data: Any, words: int, tx: Any, order: Any, first: Any, second: Any = _PAD + "0" * 40
) -> bytes:
    """``data``'s words, then the bytes of the ``tx`` hash, the ``order`` hash topic and the
    ``first`` and ``second`` wallet topics (their 20 address bytes), in one ``fromhex``; raises
    unless every one is a ``0x`` string of the exact length, the wallets zero-padded (see the
    module docstring)."""
    if (
        data[:2] != "0x"
        or tx[:2] != "0x"
        or order[:2] != "0x"
        or first[:26] != _PAD
        or second[:26] != _PAD
        or len(data) != 2 + 64 * words
        or len(tx) != 66
        or len(order) != 66
        or len(first) != 66
        or len(second) != 66
    ):
        raise ValueError("not the plain shape")
    payload = bytes.fromhex(data[2:] + tx[2:] + order[2:] + first[26:] + second[26:])
    if len(payload) != 32 * words + 104:  # whitespace, which fromhex skips
        raise ValueError("not the plain shape")
    return payload


def _epoch(value: str) -> int:
    """``blockTimestamp`` as ``decode`` then ``copy_render.own_timestamps`` read it."""
    return int(datetime.fromtimestamp(quantity(value, "blockTimestamp"), UTC).timestamp())


class HotLogs:
    """One batch's hot events (``events``, in input order) and the memos many logs share."""

    def __init__(self, addresses: ChainAddresses) -> None:
        self.fills: list[HotFill] = []
        self.matches: list[HotMatch] = []
        # The match links, as the logs arrive (see decode_fast._link): per transaction its
        # exchange, last log index and the fills since its last match; each match with those.
        self.open: dict[str, list[Any]] = {}
        self.segments: list[tuple[HotMatch, list[HotFill]]] = []
        self.regular = True  # every transaction from one exchange, log indexes increasing
        self.routes = {a: (a, v, _KINDS[v]) for a, v in addresses.exchanges.items()}
        self.indexes: dict[str, int] = {}
        # (blockNumber, blockTimestamp, blockHash, exchange) → the row's text from the block
        # number to the exchange generation, each field parsed as ``decode`` does.
        self.blocks: dict[tuple[str, str, str, str], tuple[int, str]] = {}
        self.tokens: dict[bytes, tuple[int, str]] = {}

    def _block(self, bn: str, ts: str, bh: Any, address: str, version: str) -> tuple[int, str]:
        if type(bh) is not str:
            raise TypeError("blockHash is not a string")
        number = block_number(bn)
        text = f"{number}\t{hash32(bh, 'blockHash')}\t{_epoch(ts)}\t{address}\t{version}\t"
        block = self.blocks[bn, ts, bh, address] = (number, text)
        return block

    def _token(self, word: bytes) -> tuple[int, str]:
        token = int.from_bytes(word, "big")
        pair = self.tokens[word] = (token, str(token))
        return pair

    def take(self, raw: dict[str, Any]) -> bool:
        """Keep ``raw`` if it is a well-formed hot event (True); else leave it to ``decode``
        (False, or any exception: ``decode`` then names the problem or decodes it)."""
        route = self.routes.get(raw["address"])
        if route is None:
            address = raw["address"]
            if type(address) is not str or (route := self.routes.get(address.lower())) is None:
                return False
        address, version, kinds = route
        topics = raw["topics"]
        if type(topics) is not list:
            return False
        t0 = topics[0]
        kind = kinds.get(t0)
        if kind is None and (type(t0) is not str or (kind := kinds.get(t0.lower())) is None):
            return False
        if raw.get("removed") is True:
            return False
        bn, ts, li = raw["blockNumber"], raw["blockTimestamp"], raw["logIndex"]
        if type(bn) is not str or type(ts) is not str or type(li) is not str:
            return False
        index = self.indexes.get(li)
        if index is None:
            index = self.indexes[li] = log_index(li)
        bh, tx = raw["blockHash"], raw["transactionHash"]
        number, block = self.blocks.get((bn, ts, bh, address)) or self._block(
            bn, ts, bh, address, version
        )
        if kind >= _MATCH_V1:
            return self._match(raw, kind, topics, block, tx, index, address, version, number)
        # decode_events._order_filled_v1 / _order_filled_v2, without the dataclasses.
        if len(topics) != 4:
            return False
        if kind == _FILL_V2:
            side_w, token_w, h1, maker_amount, h2, taker_amount, h3, fee, builder, meta = (
                _FILL_V2_WORDS.unpack(_payload(raw["data"], 7, tx, topics[1], topics[2], topics[3]))
            )
            if side_w == _ZERO:
                side, shares, collateral = "BUY", taker_amount, maker_amount
            elif side_w == _ONE:
                side, shares, collateral = "SELL", maker_amount, taker_amount
            else:
                return False
            tail = (
                f"{fee}\tCOLLATERAL\t{_ZERO_HEX if builder == _ZERO else '0x' + builder.hex()}\t"
                f"{_ZERO_HEX if meta == _ZERO else '0x' + meta.hex()}\t"
            )
        else:
            maker_w, taker_w, h1, maker_amount, h2, taker_amount, h3, fee = _FILL_V1_WORDS.unpack(
                _payload(raw["data"], 5, tx, topics[1], topics[2], topics[3])
            )
            if maker_w == _ZERO and taker_w != _ZERO:
                side, token_w, shares, collateral = "BUY", taker_w, taker_amount, maker_amount
                tail = f"{fee}\tSHARES\t{NULL}\t{NULL}\t"
            elif taker_w == _ZERO and maker_w != _ZERO:
                side, token_w, shares, collateral = "SELL", maker_w, maker_amount, taker_amount
                tail = f"{fee}\tCOLLATERAL\t{NULL}\t{NULL}\t"
            else:
                return False
        if not h1 == h2 == h3 == _HIGH:
            return False
        check_amounts("OrderFilled", shares, collateral, fee)
        t1, t2, t3 = topics[1], topics[2], topics[3]
        # hash32(tx) and fill_topics(topics), checked by _payload:
        tx_hash, order_hash = tx.lower(), t1.lower()
        maker, taker = "0x" + t2[26:].lower(), "0x" + t3[26:].lower()
        token, token_text = self.tokens.get(token_w) or self._token(token_w)
        aggregate = taker == address
        head = (
            f"{tx_hash}\t{index}\t{block}{order_hash}\t{maker}\t{taker}\t"
            f"{'t' if aggregate else 'f'}\t{side}\t{token_text}\t"
        )
        fill = HotFill(
            tx_hash, index, address, version, number, aggregate, order_hash, side, token,
            shares, collateral, head, tail,
        )  # fmt: skip
        self.fills.append(fill)
        state = self.open.get(tx_hash)
        if state is None:
            self.open[tx_hash] = [address, index, [fill]]
        else:
            if state[0] != address or index <= state[1]:
                self.regular = False
            state[1] = index
            state[2].append(fill)
        return True

    def _match(
        self,
        raw: dict[str, Any],
        kind: int,
        topics: list[Any],
        block: str,
        tx: str,
        index: int,
        address: str,
        version: str,
        number: int,
    ) -> bool:
        """decode_events._orders_matched_v1 / _orders_matched_v2, without the dataclasses."""
        if len(topics) != 3:
            return False
        first, second, h1, maker_amount, h2, taker_amount = _MATCH_WORDS.unpack(
            _payload(raw["data"], 4, tx, topics[1], topics[2])
        )
        if kind == _MATCH_V2:
            if first == _ZERO:
                side = "BUY"
            elif first == _ONE:
                side = "SELL"
            else:
                return False
            token_w = second
        elif first == _ZERO and second != _ZERO:
            side, token_w = "BUY", second
        elif second == _ZERO and first != _ZERO:
            side, token_w = "SELL", first
        else:
            return False
        if not h1 == h2 == _HIGH:
            return False
        if side == "BUY":
            shares, collateral = taker_amount, maker_amount
        else:
            shares, collateral = maker_amount, taker_amount
        check_amounts("OrdersMatched", shares, collateral, 0)
        # hash32(tx), hash32(topics[1]) and topic_address(topics[2]), checked by _payload:
        tx_hash, taker_hash = tx.lower(), topics[1].lower()
        wallet = "0x" + topics[2][26:].lower()
        token, token_text = self.tokens.get(token_w) or self._token(token_w)
        head = f"{tx_hash}\t{index}\t{block}{taker_hash}\t{wallet}\t{side}\t{token_text}\t"
        match = HotMatch(
            tx_hash, index, address, version, number, taker_hash, side, token, shares,
            collateral, head,
        )  # fmt: skip
        self.matches.append(match)
        state = self.open.get(tx_hash)
        if state is None:
            self.open[tx_hash] = [address, index, []]
        else:
            if state[0] != address or index <= state[1]:
                self.regular = False
            state[1] = index
            if state[2]:
                self.segments.append((match, state[2]))
                state[2] = []
        return True
