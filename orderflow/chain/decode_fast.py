"""The file import's fast path: lines of hot events straight to COPY text, no dataclasses.

Nearly every log of a file import is an OrderFilled or OrdersMatched of a known exchange. For
those, :func:`render_lines` goes from the parsed JSON object to the staging row's text: the
same field parsers as ``decode`` (``fields.py``: ``data_words``, ``fill_topics``, ``side_of``,
``check_amounts``, ``hash32`` …), per-batch memos of the block fields, and one light record per
fill or match instead of a ``LogRef`` and a ``Fill``. The cross-log steps are the shared ones:
``amounts.correct_events`` (a match's taker fill gets its executed amounts) and
``copy_render.match_links`` run on the light records.

A log is taken here only when it has exactly the shape that ``decode`` turns into a Fill or a
Match: string fields, a known exchange and topic, ``blockTimestamp`` present, ``removed`` not
true, the right topic count and data length, every field parser satisfied. Anything else — a
malformed value, another event, a retracted log — is decoded by ``decode.log_decoder``, one log
at a time, exactly as ``decode_batch`` would, so dead letters and every other event are the
general path's own. If that decoder returns a Fill or a Match after all (a hot event in a shape
this module does not take, e.g. without ``blockTimestamp``), the batch is not this module's:
:func:`render_lines` returns None and the caller decodes the whole batch the general way.
``tests/chain/test_decode_fast.py`` checks both paths give the same chunk, byte for byte.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, NamedTuple

import orjson

from orderflow.chain import contracts as c
from orderflow.chain.amounts import correct_events
from orderflow.chain.contracts import ChainAddresses
from orderflow.chain.copy_render import NULL, CopyRows, match_links
from orderflow.chain.decode import log_decoder
from orderflow.chain.events import DeadLetter, DecodedBatch, Fill, Match
from orderflow.chain.fields import (
    block_number,
    check_amounts,
    data_words,
    fill_topics,
    hash32,
    log_index,
    quantity,
    side_of,
    topic_address,
)
from orderflow.chain.file_lines import malformed, parse_line

__all__ = ["HotFill", "HotMatch", "Rendered", "render_lines"]


class HotFill:
    """A fill as the fast path keeps it: what the cross-log steps read, and its row's text."""

    __slots__ = (
        "address",
        "collateral",
        "head",
        "is_taker_aggregate",
        "log_index",
        "order_hash",
        "shares",
        "side",
        "tail",
        "token_id",
        "tx_hash",
    )

    def __init__(
        self,
        tx_hash: str,
        log_index: int,
        address: str,
        is_taker_aggregate: bool,
        order_hash: str,
        side: str,
        token_id: int,
        shares: int,
        collateral: int,
        head: str,
        tail: str,
    ) -> None:
        self.tx_hash = tx_hash
        self.log_index = log_index
        self.address = address
        self.is_taker_aggregate = is_taker_aggregate
        self.order_hash = order_hash
        self.side = side
        self.token_id = token_id
        self.shares = shares
        self.collateral = collateral
        self.head = head  # the row up to the token id, with its tab
        self.tail = tail  # fee … metadata, with a tab after each

    @property
    def ref(self) -> HotFill:
        return self


class HotMatch:
    """A match as the fast path keeps it."""

    __slots__ = (
        "address",
        "collateral",
        "head",
        "log_index",
        "shares",
        "side",
        "taker_order_hash",
        "tx_hash",
    )

    def __init__(
        self,
        tx_hash: str,
        log_index: int,
        address: str,
        taker_order_hash: str,
        side: str,
        shares: int,
        collateral: int,
        head: str,
    ) -> None:
        self.tx_hash = tx_hash
        self.log_index = log_index
        self.address = address
        self.taker_order_hash = taker_order_hash
        self.side = side
        self.shares = shares
        self.collateral = collateral
        self.head = head  # the row up to the token id, with its tab

    @property
    def ref(self) -> HotMatch:
        return self


_FILL_V1, _FILL_V2, _MATCH_V1, _MATCH_V2 = range(4)
_KINDS: dict[tuple[str, str], int] = {
    ("V1", c.TOPIC_ORDER_FILLED_V1): _FILL_V1,
    ("V1", c.TOPIC_ORDERS_MATCHED_V1): _MATCH_V1,
    ("V2", c.TOPIC_ORDER_FILLED_V2): _FILL_V2,
    ("V2", c.TOPIC_ORDERS_MATCHED_V2): _MATCH_V2,
    ("V3", c.TOPIC_ORDER_FILLED_V2): _FILL_V2,
    ("V3", c.TOPIC_ORDERS_MATCHED_V2): _MATCH_V2,
}


def _epoch(value: str) -> int:
    """``blockTimestamp`` as ``decode`` then ``copy_render.own_timestamps`` read it."""
    return int(datetime.fromtimestamp(quantity(value, "blockTimestamp"), UTC).timestamp())


class _Hot:
    """One batch's hot events, in input order, and the memos of fields many logs share."""

    def __init__(self, addresses: ChainAddresses) -> None:
        self.exchanges = addresses.exchanges
        self.numbers: dict[str, int] = {}
        self.epochs: dict[str, int] = {}
        self.hashes: dict[str, str] = {}
        self.tokens: dict[int, str] = {}
        self.fills: list[HotFill] = []
        self.matches: list[HotMatch] = []
        self.blocks: list[int] = []
        self.v1_txs: dict[str, None] = {}
        self.v3_fill_tokens: dict[int, None] = {}
        self.v3_match_tokens: dict[int, None] = {}

    def _hash(self, value: str) -> str:
        try:
            return self.hashes[value]
        except KeyError:
            checked = self.hashes[value] = hash32(value, "hash")
            return checked

    def _token(self, token: int) -> str:
        try:
            return self.tokens[token]
        except KeyError:
            text = self.tokens[token] = str(token)
            return text

    def take(self, raw: dict[str, Any]) -> bool:
        """Keep ``raw`` if it is a well-formed hot event (True); else leave it to ``decode``.

        Any error means "not taken": ``decode`` then names it (a dead letter) or decodes it."""
        try:
            return self._take(raw)
        except Exception:
            return False

    def _take(self, raw: dict[str, Any]) -> bool:
        address = raw.get("address")
        topics = raw.get("topics")
        if type(address) is not str or type(topics) is not list or not topics:
            return False
        address = address.lower()
        version = self.exchanges.get(address)
        t0 = topics[0]
        if version is None or type(t0) is not str:
            return False
        kind = _KINDS.get((version, t0.lower()))
        if kind is None or raw.get("removed") is True:
            return False
        bn, ts = raw.get("blockNumber"), raw.get("blockTimestamp")
        bh, tx = raw.get("blockHash"), raw.get("transactionHash")
        li = raw.get("logIndex")
        if type(bn) is not str or type(ts) is not str or type(bh) is not str:
            return False
        if type(tx) is not str or type(li) is not str:
            return False
        number = self.numbers.get(bn)
        if number is None:
            number = self.numbers[bn] = block_number(bn)
        epoch = self.epochs.get(ts)
        if epoch is None:
            epoch = self.epochs[ts] = _epoch(ts)
        block_hash = self._hash(bh)
        tx_hash = self._hash(tx)
        index = log_index(li)
        where = f"{tx_hash}\t{index}\t{number}\t{block_hash}\t{epoch}\t{address}\t{version}\t"
        if kind in (_FILL_V1, _FILL_V2):
            if len(topics) != 4:
                return False
            fill = self._fill(raw, kind, topics, where, tx_hash, index, address)
            self.fills.append(fill)
            if version == "V1":
                self.v1_txs[tx_hash] = None
            elif version == "V3":
                self.v3_fill_tokens[fill.token_id] = None
        else:
            if len(topics) != 3:
                return False
            match, token = self._match(raw, kind, topics, where, tx_hash, index, address)
            self.matches.append(match)
            if version == "V3":
                self.v3_match_tokens[token] = None
        self.blocks.append(number)
        return True

    def _fill(
        self,
        raw: dict[str, Any],
        kind: int,
        topics: list[str],
        where: str,
        tx_hash: str,
        index: int,
        address: str,
    ) -> HotFill:
        """``decode_events._order_filled_v1`` / ``_order_filled_v2`` without the dataclasses."""
        if kind == _FILL_V2:
            d = data_words(raw, 7, "OrderFilled")
            side = side_of(int.from_bytes(d[0:32], "big"), "OrderFilled")
            token = int.from_bytes(d[32:64], "big")
            maker_amount = int.from_bytes(d[64:96], "big")
            taker_amount = int.from_bytes(d[96:128], "big")
            fee = int.from_bytes(d[128:160], "big")
            if side == "BUY":
                shares, collateral = taker_amount, maker_amount
            else:
                shares, collateral = maker_amount, taker_amount
            fee_asset = "COLLATERAL"
            extra = f"0x{d[160:192].hex()}\t0x{d[192:224].hex()}\t"
        else:
            d = data_words(raw, 5, "OrderFilled (V1)")
            maker_asset = int.from_bytes(d[0:32], "big")
            taker_asset = int.from_bytes(d[32:64], "big")
            maker_amount = int.from_bytes(d[64:96], "big")
            taker_amount = int.from_bytes(d[96:128], "big")
            fee = int.from_bytes(d[128:160], "big")
            if maker_asset == 0 and taker_asset != 0:
                side, token, shares, collateral = "BUY", taker_asset, taker_amount, maker_amount
                fee_asset = "SHARES"
            elif taker_asset == 0 and maker_asset != 0:
                side, token, shares, collateral = "SELL", maker_asset, maker_amount, taker_amount
                fee_asset = "COLLATERAL"
            else:
                raise ValueError("not one collateral asset")  # decode names it
            extra = f"{NULL}\t{NULL}\t"
        check_amounts("OrderFilled", shares, collateral, fee)
        order_hash, maker, taker = fill_topics(topics)
        aggregate = taker == address
        head = (
            f"{where}{order_hash}\t{maker}\t{taker}\t{'t' if aggregate else 'f'}\t{side}\t"
            f"{self._token(token)}\t"
        )
        tail = f"{fee}\t{fee_asset}\t{extra}"
        return HotFill(
            tx_hash,
            index,
            address,
            aggregate,
            order_hash,
            side,
            token,
            shares,
            collateral,
            head,
            tail,
        )

    def _match(
        self,
        raw: dict[str, Any],
        kind: int,
        topics: list[str],
        where: str,
        tx_hash: str,
        index: int,
        address: str,
    ) -> tuple[HotMatch, int]:
        """``decode_events._orders_matched_v1`` / ``_orders_matched_v2`` without the dataclasses."""
        d = data_words(raw, 4, "OrdersMatched")
        first = int.from_bytes(d[0:32], "big")
        second = int.from_bytes(d[32:64], "big")
        maker_amount = int.from_bytes(d[64:96], "big")
        taker_amount = int.from_bytes(d[96:128], "big")
        if kind == _MATCH_V2:
            side, token = side_of(first, "OrdersMatched"), second
        elif first == 0 and second != 0:
            side, token = "BUY", second
        elif second == 0 and first != 0:
            side, token = "SELL", first
        else:
            raise ValueError("not one collateral asset")  # decode names it
        if side == "BUY":
            shares, collateral = taker_amount, maker_amount
        else:
            shares, collateral = maker_amount, taker_amount
        check_amounts("OrdersMatched", shares, collateral, 0)
        taker_hash = hash32(topics[1], "takerOrderHash")
        wallet = topic_address(topics[2], "takerOrderMaker")
        head = f"{where}{taker_hash}\t{wallet}\t{side}\t{self._token(token)}\t"
        return HotMatch(tx_hash, index, address, taker_hash, side, shares, collateral, head), token

    def rows(self) -> CopyRows:
        """The staging rows, as ``copy_render.render`` writes them for the same events."""
        fills, matches = self.fills, self.matches
        correct_events(fills, matches)
        links = match_links(fills, matches)
        touched: dict[str, None] = {}
        out: list[str] = []
        for f in fills:
            link = links.get((f.tx_hash, f.log_index))
            if link is None:
                touched[f.tx_hash] = None
                out.append(f"{f.head}{f.shares}\t{f.collateral}\t{f.tail}{NULL}\n")
            else:
                out.append(f"{f.head}{f.shares}\t{f.collateral}\t{f.tail}{link}\n")
        fill_text = "".join(out)
        out = []
        for m in matches:
            touched[m.tx_hash] = None
            out.append(f"{m.head}{m.shares}\t{m.collateral}\n")
        blocks = self.blocks
        return CopyRows(
            fills=fill_text.encode(),
            fill_count=len(fills),
            matches="".join(out).encode(),
            match_count=len(matches),
            touched=list(touched),
            v1_txs=list(self.v1_txs),
            v3_tokens=list(self.v3_fill_tokens | self.v3_match_tokens),
            blocks=(min(blocks), max(blocks)) if blocks else None,
        )


class Rendered(NamedTuple):
    """What ``decode_workers.Chunk`` holds of a batch decoded here."""

    batch: DecodedBatch  # every event but the fills and matches (those are in ``rows``)
    rows: CopyRows
    lines: int
    logs: int
    malformed: int
    top: int | None


def render_lines(
    data: bytes, first_line: int, file_name: str, chain_id: int, addresses: ChainAddresses
) -> Rendered | None:
    """Parse, decode and render the lines of ``data`` (joined by ``\\n``) as
    ``decode_workers`` does, the hot events the fast way; None when the batch holds a fill or
    match only the general path can take (the caller then decodes it that way)."""
    hot = _Hot(addresses)
    take = hot.take
    decode = log_decoder(chain_id, addresses)
    batch = DecodedBatch()
    bad: list[DeadLetter] = []
    lines = logs = 0
    for i, raw in enumerate(data.split(b"\n")):
        b = raw.strip()
        if b[:1] == b"{" and b[-1:] == b"}":  # file_lines.parse_line's first step
            try:
                value = orjson.loads(b)
            except orjson.JSONDecodeError:
                value = None
            if type(value) is dict and take(value):
                lines += 1
                logs += 1
                continue
        line = parse_line(first_line + i, raw)  # everything else exactly as the general path
        if line is None:
            continue
        lines += 1
        if line.error is not None:
            bad.append(malformed(file_name, line, chain_id))
            continue
        logs += 1
        item = decode(line.value)
        if type(item) is Fill or type(item) is Match:
            return None
        batch.add(item)
    batch.dead_letters.extend(bad)
    top = batch.max_block()
    if hot.blocks:
        high = max(hot.blocks)
        top = high if top is None else max(top, high)
    for ref in (*batch.ignored, *batch.removed):
        ref.raw = None  # counted only: not worth sending back
    return Rendered(batch, hot.rows(), lines, logs, len(bad), top)
