"""A dump's OrderFilled / OrdersMatched row → the event the listener's decoder would produce.

The import used to turn every row into its raw log (``rows.RowEncoder.encode``) and read that
back with ``orderflow.chain.decode``: exact by construction, and three quarters of the import's
Python time. :func:`prepare` and :func:`event_of` build the same :class:`Fill` / :class:`Match`
straight from the row's parsed values, with the decoder's checks; ``tests/history/test_build.py``
holds them equal to the round trip on every layout, field by field, raw log included.

What keeps the two paths from drifting is the fallback: :func:`prepare` accepts only a row the
decoder certainly accepts (one asset id 0, amounts the ledger holds, a side of 0/1, a time that
is a time, …) and raises :class:`Unusual` — or the row parsers' ``RowError`` — for anything else.
The caller then runs that one row through the raw-log round trip, so a bad row becomes exactly
the dead letter it always was (same reason, same raw object), and a row the shortcut is too
cautious about is still stored as the decoder stores it.

The decoded event's ``ref.raw`` (the raw log, which the store keeps in a dead letter if the
database later refuses the event, and hashes for a log that had no timestamp) is a
:class:`PendingLog`: encoded from the prepared values only when something reads it.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any, NamedTuple

from orderflow.chain.contracts import ExchangeVersion
from orderflow.chain.encode import (
    LogPosition,
    encode_order_filled_v1,
    encode_order_filled_v2,
    encode_orders_matched_v1,
    encode_orders_matched_v2,
)
from orderflow.chain.events import FeeAsset, Fill, LogRef, Match, Side
from orderflow.chain.fields import MAX_BLOCK_NUMBER, MAX_LOG_INDEX, check_amounts
from orderflow.history.rows import (
    MAX_SECONDS,
    RowEncoder,
    address,
    hash32,
    timestamp,
    uint,
)

_NAMES = {
    (True, "V1"): "OrderFilled (V1)",
    (True, "V2"): "OrderFilled (V2)",
    (True, "V3"): "OrderFilled (V3)",
    (False, "V1"): "OrdersMatched (V1)",
    (False, "V2"): "OrdersMatched (V2)",
    (False, "V3"): "OrdersMatched (V3)",
}
_HEX = frozenset("0123456789abcdefABCDEF")


class Unusual(ValueError):
    """The row is not one the shortcut builds: take it through the raw-log round trip."""


class Prepared(NamedTuple):
    """A fill's or match's fields as the decoder reads them from the raw log (before the
    taker-amount correction). For a match ``order_hash`` / ``maker`` are the taker order's hash
    and maker, ``taker`` is empty and ``fee`` 0."""

    fill: bool
    exchange: str
    version: ExchangeVersion
    order_hash: str
    maker: str
    taker: str
    side: Side
    token: int
    shares: int
    collateral: int
    fee: int
    builder: str | None
    metadata: str | None
    timestamp: int | None


def prepare(enc: RowEncoder, v: Mapping[str, Any]) -> Prepared:
    """The event fields of one OrderFilled / OrdersMatched row; RowError, FieldError or
    :class:`Unusual` when the row must take the raw-log round trip instead."""
    get = enc.value
    exchange = enc.exchange(get(v, "exchange"))
    version = enc.addresses.exchanges[exchange]
    seconds = timestamp(get(v, "timestamp"))
    if seconds is not None and not 0 <= seconds <= MAX_SECONDS:
        raise Unusual("timestamp out of range")
    fill = enc.layout.kind == "fills"
    if fill:
        order_hash = hash32(get(v, "order_hash"), "order hash")
        maker = address(get(v, "maker"), "maker")
        taker = address(get(v, "taker"), "taker")
        fee = uint(get(v, "fee"), "fee")
    else:
        order_hash = hash32(get(v, "taker_order_hash"), "taker order hash")
        maker = address(get(v, "taker_order_maker"), "taker order maker")
        taker, fee = "", 0
    maker_amount = uint(get(v, "maker_amount"), "maker amount")
    taker_amount = uint(get(v, "taker_amount"), "taker amount")
    builder = metadata = None
    if version == "V1":
        maker_asset, taker_asset = enc._asset_ids(v)
        if maker_asset == 0 and taker_asset != 0:
            buy, token = True, taker_asset
        elif taker_asset == 0 and maker_asset != 0:
            buy, token = False, maker_asset
        else:
            raise Unusual("not exactly one asset id 0")
    else:
        side_word, token = enc._side_token(v)
        buy = side_word == 0
        if fill:
            builder = enc._opt_hash(v, "builder")
            metadata = enc._opt_hash(v, "metadata")
    if token >> 256:
        raise Unusual("token id beyond uint256")
    shares, collateral = (taker_amount, maker_amount) if buy else (maker_amount, taker_amount)
    check_amounts(_NAMES[fill, version], shares, collateral, fee)
    return Prepared(
        fill,
        exchange,
        version,
        order_hash,
        maker,
        taker,
        "BUY" if buy else "SELL",
        token,
        shares,
        collateral,
        fee,
        builder,
        metadata,
        seconds,
    )


def checked_block_hash(value: object) -> str:
    """A block hash as the decoder accepts it from an encoded log (``0x`` + 64 hex), lower."""
    if (
        type(value) is not str
        or len(value) != 66
        or value[:2] != "0x"
        or not _HEX.issuperset(value[2:])
    ):
        raise Unusual(f"block hash {value!r} is not 0x + 32 bytes of hex")
    return value.lower()


def check_position(identity: tuple[str, int, int]) -> None:
    """The log index and block number fit the ledger's columns (else the decoder refuses)."""
    if identity[1] > MAX_LOG_INDEX or identity[2] > MAX_BLOCK_NUMBER:
        raise Unusual("log index or block number beyond the ledger's columns")


class Times:
    """Unix seconds → the decoder's UTC datetime, memoised (a block's fills share one time)."""

    __slots__ = ("memo",)

    def __init__(self) -> None:
        self.memo: dict[int, datetime] = {}

    def of(self, seconds: int | None) -> datetime | None:
        if seconds is None:
            return None
        try:
            return self.memo[seconds]
        except KeyError:
            if len(self.memo) > 100_000:
                self.memo.clear()
            when = self.memo[seconds] = datetime.fromtimestamp(seconds, UTC)
            return when


def event_of(
    p: Prepared,
    identity: tuple[str, int, int],
    block_hash: str,
    chain_id: int,
    when: datetime | None,
) -> Fill | Match:
    """The decoded event of a prepared row at its place in the chain (``block_hash`` checked
    by :func:`checked_block_hash`, ``when`` = ``Times.of(p.timestamp)``)."""
    tx, index, block = identity
    ref = LogRef(
        chain_id,
        block,
        block_hash,
        tx,
        index,
        p.exchange,
        when,
        PendingLog(p, identity, block_hash),
    )
    if not p.fill:
        return Match(
            ref,
            p.version,
            p.order_hash,
            p.maker,
            p.side,
            p.token,
            p.shares,
            p.collateral,
        )
    fee_asset: FeeAsset = "SHARES" if p.version == "V1" and p.side == "BUY" else "COLLATERAL"
    return Fill(
        ref,
        p.version,
        p.order_hash,
        p.maker,
        p.taker,
        p.side,
        p.token,
        p.shares,
        p.collateral,
        p.fee,
        fee_asset,
        p.builder,
        p.metadata,
        p.taker == p.exchange,
    )


def raw_of(p: Prepared, identity: tuple[str, int, int], block_hash: str) -> dict[str, Any]:
    """The raw log the round trip would have decoded (``orderflow.chain.encode``)."""
    tx, index, block = identity
    at = LogPosition(block, block_hash, tx, index, p.timestamp)
    buy = p.side == "BUY"
    maker_amount, taker_amount = (p.collateral, p.shares) if buy else (p.shares, p.collateral)
    if p.version == "V1":
        assets = (0, p.token) if buy else (p.token, 0)
        if p.fill:
            return encode_order_filled_v1(
                at=at, order_hash=p.order_hash, maker=p.maker, taker=p.taker,
                maker_asset_id=assets[0], taker_asset_id=assets[1], maker_amount=maker_amount,
                taker_amount=taker_amount, fee=p.fee, exchange=p.exchange,
            )  # fmt: skip
        return encode_orders_matched_v1(
            at=at, taker_order_hash=p.order_hash, taker_order_maker=p.maker,
            maker_asset_id=assets[0], taker_asset_id=assets[1], maker_amount=maker_amount,
            taker_amount=taker_amount, exchange=p.exchange,
        )  # fmt: skip
    if p.fill:
        assert p.builder is not None and p.metadata is not None
        return encode_order_filled_v2(
            at=at, order_hash=p.order_hash, maker=p.maker, taker=p.taker, side=p.side,
            token_id=p.token, maker_amount=maker_amount, taker_amount=taker_amount, fee=p.fee,
            builder=p.builder, metadata=p.metadata, exchange=p.exchange,
        )  # fmt: skip
    return encode_orders_matched_v2(
        at=at, taker_order_hash=p.order_hash, taker_order_maker=p.maker, side=p.side,
        token_id=p.token, maker_amount=maker_amount, taker_amount=taker_amount,
        exchange=p.exchange,
    )  # fmt: skip


class PendingLog(Mapping[str, Any]):
    """An event's raw log, encoded by :func:`raw_of` on first read (rarely: the store reads it
    only for a dead letter, or to hash a log that lacked its timestamp)."""

    __slots__ = ("_log", "block_hash", "identity", "prepared")

    def __init__(self, prepared: Prepared, identity: tuple[str, int, int], block_hash: str) -> None:
        self.prepared = prepared
        self.identity = identity
        self.block_hash = block_hash
        self._log: dict[str, Any] | None = None

    def _get(self) -> dict[str, Any]:
        if self._log is None:
            self._log = raw_of(self.prepared, self.identity, self.block_hash)
        return self._log

    def __getitem__(self, key: str) -> Any:
        return self._get()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._get())

    def __len__(self) -> int:
        return len(self._get())

    def __repr__(self) -> str:
        return repr(self._get())
