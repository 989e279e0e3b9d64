"""A dump's row → the raw log the contract emitted, so the listener's own decoder reads it.

Rows of OrderFilled / OrdersMatched exports are re-encoded with ``orderflow.chain.encode`` (the
exact inverse of the decoder) and raw-log rows are reassembled; ``orderflow.chain.decode`` then
produces the very events it produces for ``eth_getLogs`` output, and ``store_batch`` stores them.
There is one decoding and one storage path: a row imported here and the same log seen by the
listener become the same database row.

Values are parsed strictly: amounts must be whole numbers (a float or ``1e6`` is refused, not
rounded), hashes 32 bytes, addresses 20 bytes, with or without ``0x`` (some exports drop it) and in
any case (checksummed exports). A value that does not parse raises :class:`RowError`, which the
caller turns into a dead letter with the file, the line and this reason.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, TypeVar

from orderflow.chain import contracts as c
from orderflow.chain.contracts import ChainAddresses
from orderflow.chain.encode import (
    ZERO32,
    LogPosition,
    encode_order_filled_v1,
    encode_order_filled_v2,
    encode_orders_matched_v1,
    encode_orders_matched_v2,
)
from orderflow.history.hex_text import as_0x, hex_body
from orderflow.history.layouts import Layout
from orderflow.history.log_ids import read_log_id

T = TypeVar("T")

# Exchange names as exports spell them (e.g. a ``contract`` column) -> mainnet address.
EXCHANGE_NAMES: dict[str, str] = {
    "CTFEXCHANGE": c.V1_CTF_EXCHANGE,
    "NEGRISKCTFEXCHANGE": c.V1_NEG_RISK_CTF_EXCHANGE,
    "NEGRISKEXCHANGE": c.V1_NEG_RISK_CTF_EXCHANGE,
    "CTFEXCHANGEV2": c.V2_CTF_EXCHANGE,
    "NEGRISKCTFEXCHANGEV2": c.V2_NEG_RISK_CTF_EXCHANGE,
    "NEGRISKEXCHANGEV2": c.V2_NEG_RISK_CTF_EXCHANGE,
    "EXCHANGEV3": c.V3_EXCHANGE,
}


_HEX_QUANTITY = re.compile(r"0[xX][0-9a-fA-F]+")

MAX_SECONDS = 253_402_300_799  # 9999-12-31T23:59:59Z: datetime's last second


class RowError(ValueError):
    """A value of a row that does not parse (the message names the field and the value)."""


class OtherExchange(RowError):
    """A row naming another exchange than ``--exchange``; ``own`` is the row's."""

    def __init__(self, own: str, given: str) -> None:
        super().__init__(f"exchange {own}, --exchange {given}: one of them is wrong")
        self.own = own


def _shown(value: object) -> str:
    return repr(value)[:80]


def uint(value: object, name: str) -> int:
    """A whole number a word of a log holds (below 2**256): an int, a whole Decimal, decimal
    digits or 0x hex; RowError naming ``name`` otherwise."""
    if type(value) is int:
        if value < 0:
            raise RowError(f"{name} is negative: {value}")
        if value >> 256:
            raise RowError(f"{name} is beyond uint256: {value}")
        return value
    if isinstance(value, Decimal) and value.is_finite() and _exponent(value) >= 0:
        return uint(int(value), name)  # Parquet decimal(78, 0) columns (not decimal(38, 6))
    if isinstance(value, str):
        text = value.strip()
        if text.isdigit() and text.isascii():
            return uint(int(text), name)
        if _HEX_QUANTITY.fullmatch(text):  # not int(text, 16): it takes "0x1_0" as 16
            return uint(int(text, 16), name)
    if value is None or value == "":
        raise RowError(f"{name} is missing")
    raise RowError(f"{name} is not a whole number: {_shown(value)}")


def _exponent(value: Decimal) -> int:
    """The exponent ``value`` is written with: negative for fraction digits, as every value of
    a Parquet decimal column of scale 6 has (``Decimal('5.000000')``: amounts in USDC, not base
    units, though that one is whole)."""
    exponent = value.as_tuple().exponent
    return exponent if isinstance(exponent, int) else -1


def _hex_body(value: object, nbytes: int, name: str) -> str:
    if isinstance(value, bytes | bytearray):
        if len(value) != nbytes:
            raise RowError(f"{name} is {len(value)} bytes, expected {nbytes}")
        return bytes(value).hex()
    if value is None or value == "":
        raise RowError(f"{name} is missing")
    if not isinstance(value, str):
        raise RowError(f"{name} is not hex: {_shown(value)}")
    text = value.strip()
    body = hex_body(text)
    if body is None:
        body = text
    if len(body) != 2 * nbytes:
        raise RowError(f"{name} is not {nbytes} bytes of hex: {_shown(value)}")
    try:
        bytes.fromhex(body)
    except ValueError:
        raise RowError(f"{name} is not hex: {_shown(value)}") from None
    return body.lower()


def hash32(value: object, name: str) -> str:
    return "0x" + _hex_body(value, 32, name)


def address(value: object, name: str) -> str:
    return "0x" + _hex_body(value, 20, name)


def timestamp(value: object) -> int | None:
    """Unix seconds from seconds, a datetime, or ISO 8601 text; None when absent."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):  # a zone-less time in an export is UTC, as chain times are
        return int((value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp())
    if type(value) is int:
        if value < 0:  # as the text "-5" is: no chain's block is older than 1970
            raise RowError(f"timestamp is before 1970: {value}")
        return value
    if isinstance(value, str):
        text = value.strip()
        if text.isdigit() and text.isascii():  # not '²' nor Arabic-Indic digits
            return int(text)
        if text[:2] == "0x":  # eth_getLogs' blockTimestamp
            return uint(text, "timestamp")
        if re.search(r"[+-]\d\d$", text):  # Gamma's "2023-03-10 18:04:29+00"
            text += ":00"
        elif text.endswith(" UTC"):  # Dune's "2022-11-21 19:49:29.000 UTC"
            text = text[:-4] + "+00:00"
        try:
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise RowError(f"timestamp is not unix seconds or ISO 8601: {_shown(value)}") from None
        return int((parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).timestamp())
    raise RowError(f"timestamp is not unix seconds or ISO 8601: {_shown(value)}")


def exchange_of(value: object, addresses: ChainAddresses) -> str:
    """The exchange address from an address or an export's contract name; unknown → RowError."""
    if isinstance(value, str) and hex_body(value.strip()) is None:
        named = EXCHANGE_NAMES.get(value.strip().upper().replace("_", "").replace(" ", ""))
        if named is None:
            raise RowError(f"unknown exchange {_shown(value)}")
        value = named
    addr = address(value, "exchange")
    if addr not in addresses.exchanges:
        raise RowError(f"unknown exchange {addr} (not a watched Polymarket exchange)")
    return addr


def side(value: object) -> int:
    if isinstance(value, str):
        text = value.strip().upper()
        if text in ("0", "BUY"):
            return 0
        if text in ("1", "SELL"):
            return 1
    elif type(value) is int and value in (0, 1):
        return value
    raise RowError(f"side is not 0/1/BUY/SELL: {_shown(value)}")


def jsonable(values: Mapping[str, Any]) -> dict[str, Any]:
    """A row as JSON-safe values (bytes as 0x hex, datetimes as ISO) for a dead letter."""
    out: dict[str, Any] = {}
    for k, v in values.items():
        if isinstance(v, bytes | bytearray):
            out[k] = "0x" + bytes(v).hex()
        elif isinstance(v, datetime):
            out[k] = v.isoformat()
        elif isinstance(v, str | int | float | bool) or v is None:
            out[k] = v
        else:
            out[k] = json.loads(json.dumps(v, default=str))
    return out


class RowEncoder:
    """Turns one layout's rows into raw logs; block hashes come from the row or ``known``."""

    def __init__(self, layout: Layout, addresses: ChainAddresses, chain_id: int) -> None:
        self.layout = layout
        self.addresses = addresses
        self.chain_id = chain_id
        self.col = layout.columns

    def value(self, values: Mapping[str, Any], canonical: str) -> Any:
        """The row's value of a canonical field (None when the layout has no such column)."""
        column = self.col.get(canonical)
        return None if column is None else values.get(column)

    def exchange(self, value: object) -> str:
        """The exchange address of a row whose exchange cell is ``value``: the cell's, or
        ``--exchange``'s where the row has none; RowError when the two differ or the cell names
        no watched exchange."""
        given = self.layout.exchange
        if given is not None and (value is None or value == ""):
            return given
        own = exchange_of(value, self.addresses)
        if given is not None and own != given:
            raise OtherExchange(own, given)
        return own

    def identity(self, values: Mapping[str, Any]) -> tuple[str, int, int]:
        """(tx hash, log index, block number) of a row; RowError when they do not parse."""
        if self.layout.id_derives_log_index:
            return self._id_identity(values)
        tx = hash32(self.value(values, "tx_hash"), "transaction hash")
        index = uint(self.value(values, "log_index"), "log index")
        return tx, index, uint(self.value(values, "block_number"), "block number")

    def _present(self, v: Mapping[str, Any], *canonical: str) -> bool:
        return all(self.value(v, c) not in (None, "") for c in canonical)

    def _id_identity(self, values: Mapping[str, Any]) -> tuple[str, int, int]:
        """The identity a log id gives, with the row's own transaction and block columns where
        it has them (each the same as the id's, when the id carries it too)."""
        shown = _shown(self.value(values, "id"))
        derived = read_log_id(self.value(values, "id"))
        if derived is None:
            raise RowError(f"id does not carry a log index: {shown}")
        if derived.chain is not None and derived.chain != self.chain_id:
            raise RowError(f"id {shown} is a log of chain {derived.chain}, not {self.chain_id}")
        tx, block = derived.tx, derived.block
        if self._present(values, "tx_hash"):
            own = hash32(self.value(values, "tx_hash"), "transaction hash")
            tx = _agreed(shown, "transaction", tx, "transactionHash", own)
        if self._present(values, "block_number") or block is None:
            own_block = uint(self.value(values, "block_number"), "block number")
            block = _agreed(shown, "block", block, "blockNumber", own_block)
        if tx is None:
            raise RowError(f"id {shown} names no transaction, and the row has no transactionHash")
        return tx, derived.log_index, block

    def row_block_hash(self, values: Mapping[str, Any]) -> str | None:
        if "block_hash" not in self.col:
            return None
        raw = self.value(values, "block_hash")
        return None if raw is None or raw == "" else hash32(raw, "block hash")

    def encode(
        self, values: Mapping[str, Any], identity: tuple[str, int, int], block_hash: str
    ) -> dict[str, Any]:
        tx, index, block = identity
        at = LogPosition(block, block_hash, tx, index, timestamp(self.value(values, "timestamp")))
        kind = self.layout.kind
        if kind == "logs":
            return self._raw(values, at)
        exchange = self.exchange(self.value(values, "exchange"))
        version = self.addresses.exchanges[exchange]
        if kind == "fills":
            return self._fill(values, at, exchange, version)
        return self._match(values, at, exchange, version)

    def _fill(
        self, v: Mapping[str, Any], at: LogPosition, exchange: str, version: str
    ) -> dict[str, Any]:
        g = self.value
        common: dict[str, Any] = {
            "at": at,
            "order_hash": hash32(g(v, "order_hash"), "order hash"),
            "maker": address(g(v, "maker"), "maker"),
            "taker": address(g(v, "taker"), "taker"),
            "maker_amount": uint(g(v, "maker_amount"), "maker amount"),
            "taker_amount": uint(g(v, "taker_amount"), "taker amount"),
            "fee": uint(g(v, "fee"), "fee"),
            "exchange": exchange,
        }
        if version == "V1":
            maker_asset, taker_asset = self._asset_ids(v)
            return encode_order_filled_v1(
                maker_asset_id=maker_asset, taker_asset_id=taker_asset, **common
            )
        side_word, token = self._side_token(v)
        return encode_order_filled_v2(
            side=side_word,  # type: ignore[arg-type]
            token_id=token,
            builder=self._opt_hash(v, "builder"),
            metadata=self._opt_hash(v, "metadata"),
            **common,
        )

    def _asset_ids(self, v: Mapping[str, Any]) -> tuple[int, int]:
        """V1 asset ids; from (side, token id) when a unified export gives only those."""
        if self._present(v, "maker_asset_id", "taker_asset_id") or not self._present(
            v, "side", "token_id"
        ):
            return (
                uint(self.value(v, "maker_asset_id"), "maker asset id"),
                uint(self.value(v, "taker_asset_id"), "taker asset id"),
            )
        token = uint(self.value(v, "token_id"), "token id")
        return (0, token) if side(self.value(v, "side")) == 0 else (token, 0)

    def _side_token(self, v: Mapping[str, Any]) -> tuple[int, int]:
        """V2 (side, token id); from the asset ids when an export maps V2 onto V1 columns."""
        if self._present(v, "side", "token_id") or not self._present(
            v, "maker_asset_id", "taker_asset_id"
        ):
            return side(self.value(v, "side")), uint(self.value(v, "token_id"), "token id")
        maker_asset = uint(self.value(v, "maker_asset_id"), "maker asset id")
        taker_asset = uint(self.value(v, "taker_asset_id"), "taker asset id")
        if (maker_asset == 0) == (taker_asset == 0):
            raise RowError(
                f"exactly one asset id must be 0 (collateral): {maker_asset}, {taker_asset}"
            )
        return (0, taker_asset) if maker_asset == 0 else (1, maker_asset)

    def _opt_hash(self, v: Mapping[str, Any], canonical: str) -> str:
        raw = self.value(v, canonical)
        return ZERO32 if raw is None or raw == "" else hash32(raw, canonical)

    def _match(
        self, v: Mapping[str, Any], at: LogPosition, exchange: str, version: str
    ) -> dict[str, Any]:
        g = self.value
        common: dict[str, Any] = {
            "at": at,
            "taker_order_hash": hash32(g(v, "taker_order_hash"), "taker order hash"),
            "taker_order_maker": address(g(v, "taker_order_maker"), "taker order maker"),
            "maker_amount": uint(g(v, "maker_amount"), "maker amount"),
            "taker_amount": uint(g(v, "taker_amount"), "taker amount"),
            "exchange": exchange,
        }
        if version == "V1":
            maker_asset, taker_asset = self._asset_ids(v)
            return encode_orders_matched_v1(
                maker_asset_id=maker_asset, taker_asset_id=taker_asset, **common
            )
        side_word, token = self._side_token(v)
        return encode_orders_matched_v2(
            side=side_word,  # type: ignore[arg-type]
            token_id=token,
            **common,
        )

    def _raw(self, v: Mapping[str, Any], at: LogPosition) -> dict[str, Any]:
        """A raw-log row (eth_getLogs JSON, BigQuery/cryo log tables) as an eth_getLogs object."""
        topics_value = self.value(v, "topics")
        if "topics" in self.col and self.col["topics"] != self.col.get("topic0"):
            if isinstance(topics_value, str):
                try:
                    topics_value = json.loads(topics_value)
                except ValueError:
                    topics_value = topics_value.split(",") if topics_value else []
            topics = list(topics_value or [])
        else:
            topics = [self.value(v, f"topic{i}") for i in range(4)]
            while topics and (topics[-1] is None or topics[-1] == ""):
                topics.pop()
        data = as_0x(self.value(v, "data"))
        log: dict[str, Any] = {
            "address": address(self.value(v, "exchange"), "address"),
            "topics": [hash32(t, "topic") for t in topics],
            "data": "0x" + bytes(data).hex() if isinstance(data, bytes | bytearray) else data,
            "blockNumber": at.block_number,
            "blockHash": at.block_hash,
            "transactionHash": at.tx_hash,
            "logIndex": at.log_index,
            "removed": self.value(v, "removed") in (True, "true", "True"),
        }
        if at.timestamp is not None:
            log["blockTimestamp"] = at.timestamp
        return log


def _agreed(shown: str, what: str, derived: T | None, column: str, own: T) -> T:
    """The row's own ``column`` value, which the id ``shown`` must agree with when it names
    one (``derived``)."""
    if derived is not None and own != derived:
        raise RowError(
            f"id {shown} names {what} {derived}, its {column} {own}: one of them is wrong"
        )
    return own
