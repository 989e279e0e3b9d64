"""Column-wise parsing of a batch of OrderFilled / OrdersMatched rows: the import's fast path.

Parsing row by row calls a strict parser per value (``rows.uint``, ``rows.hash32`` …): about a
microsecond each, a dozen per row. Here each needed column of a batch is converted at once —
hashes lower-cased and checked as hex with one ``bytes.fromhex`` over the whole column, amounts
by ``int`` over the digit strings, exchanges, times and sides through a memo of the few distinct
texts — and the rows are assembled into the same identities and :class:`build.Prepared` values
``RowEncoder.identity`` and :func:`build.prepare` give.

The fast path only ever *accepts*: a value it does not recognise at a glance (whitespace, ``0x``
quantities, Parquet decimals, a missing field, a bad hash …) leaves that row's entry ``None``, and
the caller parses the row with the strict per-row parsers, which either accept it or name what
is wrong (the dead letter). ``tests/history/test_build.py`` holds both paths equal.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from orderflow.chain.encode import ZERO32
from orderflow.chain.fields import MAX_BLOCK_NUMBER, MAX_LOG_INDEX
from orderflow.history.build import Prepared, Unusual
from orderflow.history.row_batches import Batch
from orderflow.history.rows import RowEncoder, RowError, side, timestamp

Identity = tuple[str, int, int]
FAIL: Any = object()
"""A value the fast path does not take (where ``None`` is a legitimate value)."""

_MAX_SECONDS = 253_402_300_799
_new = tuple.__new__
_MAX_PRICE = 10**10


def _hexes(values: list[Any], nbytes: int) -> list[str | None]:
    """``0x`` + lower-case hex of each value that is ``nbytes`` of hex (with or without a hex
    prefix: :mod:`orderflow.history.hex_text`) or of bytes; None for anything else."""
    n = 2 * nbytes
    bodies: list[str | None] = []
    add = bodies.append
    for v in values:
        if type(v) is str:
            size = len(v)
            if size == n + 2 and (v[0] == "0" or v[0] == "\\") and (v[1] == "x" or v[1] == "X"):
                add(v[2:])  # hex_text.hex_body's spellings, inline: this loop is the hot path
                continue
            if size == n:
                add(v)
                continue
        elif type(v) is bytes and len(v) == nbytes:
            add(v.hex())
            continue
        add(None)
    good = [b for b in bodies if b is not None]
    try:
        whole = len(bytes.fromhex("".join(good))) == nbytes * len(good)
    except ValueError:
        whole = False
    if whole:
        return [None if b is None else "0x" + b.lower() for b in bodies]
    return [None if b is None or not _is_hex(b, nbytes) else "0x" + b.lower() for b in bodies]


def _is_hex(body: str, nbytes: int) -> bool:
    try:
        return len(bytes.fromhex(body)) == nbytes and " " not in body
    except ValueError:
        return False


def _uints(values: list[Any]) -> list[int | None]:
    """Whole numbers from ASCII digit strings (at most 78 digits: a uint256) and ints >= 0."""
    return [
        int(v)
        if type(v) is str and len(v) <= 78 and v.isdigit() and v.isascii()
        else v
        if type(v) is int and v >= 0
        else None
        for v in values
    ]


def _uint(value: Any) -> int | None:
    """:func:`_uints` of one value: token / asset id columns go through :func:`_memo` with it
    (77-digit texts that repeat, a market's tokens, converted once per distinct text)."""
    return _uints([value])[0]


def _memo(values: list[Any], parse: Callable[[Any], Any]) -> list[Any]:
    """``parse`` of each value, once per distinct text (FAIL where it raises)."""
    seen: dict[str, Any] = {}
    out: list[Any] = []
    add = out.append
    for v in values:
        if type(v) is str:
            try:
                add(seen[v])
                continue
            except KeyError:
                pass
        try:
            result = parse(v)
        except (RowError, Unusual, ValueError, OverflowError, OSError, TypeError):
            result = FAIL
        if type(v) is str:
            seen[v] = result
        add(result)
    return out


def _seconds(value: Any) -> int | None:
    seconds = timestamp(value)
    if seconds is not None and not 0 <= seconds <= _MAX_SECONDS:
        raise Unusual("timestamp out of range")
    return seconds


def _opt_hexes(values: list[Any], absent: str | None = ZERO32) -> list[Any]:
    """An optional bytes32: ``absent`` when absent (a builder, metadata: ZERO32; a row's own
    block hash: None), FAIL when not a hash."""
    hexes = _hexes(values, 32)
    return [
        absent if v is None or v == "" else FAIL if h is None else h
        for v, h in zip(values, hexes, strict=True)
    ]


def identities(enc: RowEncoder, batch: Batch) -> tuple[list[Identity | None], list[Any]]:
    """(identity, own block hash) per row: None / FAIL where the row needs the strict parsers."""
    cols = enc.layout.columns
    n = len(batch.rows)
    if enc.layout.id_derives_log_index:
        ids: list[Identity | None] = [None] * n
    else:
        txs = _hexes(batch.column(cols["tx_hash"]), 32)
        indexes = _uints(batch.column(cols["log_index"]))
        blocks = _uints(batch.column(cols["block_number"]))
        ids = [
            None
            if t is None or i is None or b is None or i > MAX_LOG_INDEX or b > MAX_BLOCK_NUMBER
            else (t, i, b)
            for t, i, b in zip(txs, indexes, blocks, strict=True)
        ]
    if "block_hash" not in cols:
        return ids, [None] * n
    return ids, _opt_hexes(batch.column(cols["block_hash"]), None)


def prepared(enc: RowEncoder, batch: Batch) -> list[Prepared | None]:
    """:func:`build.prepare` of each row, column-wise; None where the row needs the per-row path."""
    cols = enc.layout.columns
    n = len(batch.rows)
    missing: list[Any] = [None] * n

    def col(canonical: str) -> list[Any]:
        name = cols.get(canonical)
        return missing if name is None else batch.column(name)

    addresses = enc.addresses

    def exchange(value: Any) -> tuple[str, str]:
        addr = enc.exchange(value)
        return addr, addresses.exchanges[addr]

    exchanges = _memo(col("exchange"), exchange)
    times = _memo(col("timestamp"), _seconds)
    fill = enc.layout.kind == "fills"
    if fill:
        hashes = _hexes(col("order_hash"), 32)
        makers = _hexes(col("maker"), 20)
        takers: list[Any] = _hexes(col("taker"), 20)
        fees: list[Any] = _uints(col("fee"))
        builders = _opt_hexes(col("builder"))
        metadatas = _opt_hexes(col("metadata"))
    else:
        hashes = _hexes(col("taker_order_hash"), 32)
        makers = _hexes(col("taker_order_maker"), 20)
        takers, fees = [""] * n, [0] * n
        builders = metadatas = missing
    maker_amounts = _uints(col("maker_amount"))
    taker_amounts = _uints(col("taker_amount"))
    maker_assets = _memo(col("maker_asset_id"), _uint)
    taker_assets = _memo(col("taker_asset_id"), _uint)
    sides = _memo(col("side"), side) if "side" in cols else missing
    tokens = _memo(col("token_id"), _uint)
    out: list[Prepared | None] = []
    add = out.append
    for i in range(n):
        ex, seconds, order_hash, maker, taker, fee = (
            exchanges[i], times[i], hashes[i], makers[i], takers[i], fees[i]
        )  # fmt: skip
        a, b = maker_amounts[i], taker_amounts[i]
        if (
            ex is FAIL or seconds is FAIL or order_hash is None or maker is None or taker is None
            or fee is None or a is None or b is None
        ):  # fmt: skip
            add(None)
            continue
        address, version = ex
        builder = metadata = None
        if version == "V1":
            x, y = maker_assets[i], taker_assets[i]
            if x is None or y is None:
                add(None)
                continue
            if x == 0 and y != 0:
                buy, token = True, y
            elif y == 0 and x != 0:
                buy, token = False, x
            else:
                add(None)
                continue
        else:
            word, maybe_token = sides[i], tokens[i]
            if word is None or word is FAIL or maybe_token is None:
                add(None)
                continue
            token = maybe_token
            buy = word == 0
            if fill:
                builder, metadata = builders[i], metadatas[i]
                if builder is FAIL or metadata is FAIL:
                    add(None)
                    continue
        shares, collateral = (b, a) if buy else (a, b)
        if (
            token >> 256
            or (shares | collateral | fee) >> 63
            or (shares and collateral >= shares * _MAX_PRICE)
        ):
            add(None)
            continue
        fields = (fill, address, version, order_hash, maker, taker, "BUY" if buy else "SELL",
                  token, shares, collateral, fee, builder, metadata, seconds)  # fmt: skip
        add(_new(Prepared, fields))  # Prepared(*fields), without its Python-level __new__
    return out
