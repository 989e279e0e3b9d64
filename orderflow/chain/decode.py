"""Raw JSON-RPC log objects → typed events. Pure: no I/O, no web3 contract objects.

A log is decoded by slicing its ``data`` into 32-byte words (``bytes.fromhex`` once, then
``int.from_bytes`` per word) and reading indexed fields straight from ``topics``. The decoder
is chosen by the emitting address (which exchange generation, or ConditionalTokens) and topic0.

Nothing raises: a log that cannot be decoded comes back as :class:`DeadLetter` with a reason
precise enough to act on ("OrderFilled (V1) data is 128 bytes, expected 160"); a log with
``removed: true`` comes back as :class:`Removed`; a recognised event orderflow does not store
(FeeCharged, CTF transfers) as :class:`Ignored`.

Trade semantics (docs/listener.md): one Fill per OrderFilled from its maker's side. V1 derives
the side from which asset id is 0 (0 = collateral) and charges the fee in what the owner
receives (shares on a BUY, collateral on a SELL); V2/V3 carry ``side`` (0 BUY, 1 SELL) and
charge fees in collateral. ``is_taker_aggregate`` is true when the taker is the exchange itself.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from orderflow.chain import contracts as c
from orderflow.chain.contracts import MAINNET, ChainAddresses, ExchangeVersion
from orderflow.chain.events import (
    ConditionPreparation,
    ConditionResolution,
    DeadLetter,
    Decoded,
    Fill,
    Ignored,
    LogRef,
    Match,
    Removed,
    TokenRegistration,
)
from orderflow.chain.tokens import MAX_OUTCOME_SLOTS, ctf_tokens, resolve_registered_pair

__all__ = ["DecodedBatch", "decode_batch", "decode_log"]

_QUANTITY = re.compile(r"0x[0-9a-fA-F]{1,64}")
_ZERO_PAD = "0" * 24


class _Bad(Exception):
    """Internal: why a log cannot be decoded (becomes DeadLetter.reason)."""


@dataclass(slots=True)
class DecodedBatch:
    """A batch of logs sorted by kind, in input order within each kind."""

    fills: list[Fill] = field(default_factory=list)
    matches: list[Match] = field(default_factory=list)
    registrations: list[TokenRegistration] = field(default_factory=list)
    conditions: list[ConditionPreparation] = field(default_factory=list)
    resolutions: list[ConditionResolution] = field(default_factory=list)
    dead_letters: list[DeadLetter] = field(default_factory=list)
    removed: list[LogRef] = field(default_factory=list)
    ignored: list[LogRef] = field(default_factory=list)

    def add(self, item: Decoded) -> None:
        if isinstance(item, Fill):
            self.fills.append(item)
        elif isinstance(item, Match):
            self.matches.append(item)
        elif isinstance(item, DeadLetter):
            self.dead_letters.append(item)
        elif isinstance(item, TokenRegistration):
            self.registrations.append(item)
        elif isinstance(item, ConditionPreparation):
            self.conditions.append(item)
        elif isinstance(item, ConditionResolution):
            self.resolutions.append(item)
        elif isinstance(item, Removed):
            self.removed.append(item.ref)
        else:
            self.ignored.append(item.ref)

    def extend(self, other: DecodedBatch) -> None:
        self.fills.extend(other.fills)
        self.matches.extend(other.matches)
        self.registrations.extend(other.registrations)
        self.conditions.extend(other.conditions)
        self.resolutions.extend(other.resolutions)
        self.dead_letters.extend(other.dead_letters)
        self.removed.extend(other.removed)
        self.ignored.extend(other.ignored)

    @property
    def events(self) -> int:
        """Number of storable events (fills, matches, registrations, conditions, resolutions)."""
        return (
            len(self.fills)
            + len(self.matches)
            + len(self.registrations)
            + len(self.conditions)
            + len(self.resolutions)
        )

    def __len__(self) -> int:
        return self.events + len(self.dead_letters) + len(self.removed) + len(self.ignored)

    def max_block(self) -> int | None:
        """Highest block number of any decoded or retracted log (None for an empty batch)."""
        refs = [
            *(e.ref for e in self.fills),
            *(e.ref for e in self.matches),
            *(e.ref for e in self.registrations),
            *(e.ref for e in self.conditions),
            *(e.ref for e in self.resolutions),
            *self.ignored,
        ]
        numbers = [r.block_number for r in refs]
        numbers.extend(d.block_number for d in self.dead_letters if d.block_number is not None)
        return max(numbers, default=None)


# --- field parsers (raise _Bad with the field name) ---------------------------------------------


def _quantity(value: Any, name: str) -> int:
    if type(value) is str:
        if _QUANTITY.fullmatch(value) is None:
            raise _Bad(f"{name} is not a 0x hex quantity: {value[:80]!r}")
        return int(value, 16)
    if type(value) is int and value >= 0:
        return value
    raise _Bad(f"{name} is missing or not a hex quantity ({type(value).__name__})")


def _hash32(value: Any, name: str) -> str:
    if type(value) is not str or len(value) != 66 or value[:2] not in ("0x", "0X"):
        raise _Bad(f"{name} is not a 32-byte 0x hex string: {str(value)[:80]!r}")
    try:
        if len(bytes.fromhex(value[2:])) != 32:
            raise ValueError
    except ValueError:
        raise _Bad(f"{name} is not hex: {value!r}") from None
    return "0x" + value[2:].lower()


def _topic_address(topic: str, name: str) -> str:
    word = _hash32(topic, name)
    if word[2:26] != _ZERO_PAD:
        raise _Bad(f"{name} topic is not an address (non-zero high bytes): {topic}")
    return "0x" + word[26:]


def _fill_topics(t: list[str]) -> tuple[str, str, str]:
    """orderHash, maker, taker from topics 1-3, checked with one ``fromhex`` (the hot path).

    Anything unusual falls through to the field-by-field parsers, which name the bad field.
    """
    t1, t2, t3 = t[1], t[2], t[3]
    try:
        if (
            len(t1) == len(t2) == len(t3) == 66
            and t1[:2] == t2[:2] == t3[:2] == "0x"
            and t2[2:26] == _ZERO_PAD
            and t3[2:26] == _ZERO_PAD
            and len(bytes.fromhex(t1[2:] + t2[26:] + t3[26:])) == 72
        ):
            return t1.lower(), "0x" + t2[26:].lower(), "0x" + t3[26:].lower()
    except (ValueError, TypeError):
        pass
    return (
        _hash32(t1, "orderHash"),
        _topic_address(t2, "maker"),
        _topic_address(t3, "taker"),
    )


def _data(raw: Mapping[str, Any], words: int, event: str) -> bytes:
    data = raw.get("data")
    if type(data) is not str or data[:2] not in ("0x", "0X"):
        raise _Bad(f"{event} data is missing or not 0x hex")
    try:
        payload = bytes.fromhex(data[2:])
    except ValueError:
        raise _Bad(f"{event} data is not hex") from None
    if len(payload) != 32 * words:
        raise _Bad(f"{event} data is {len(payload)} bytes, expected {32 * words}")
    return payload


def _topics(raw: Mapping[str, Any], count: int, event: str) -> list[str]:
    topics = raw["topics"]
    if len(topics) != count:
        raise _Bad(f"{event} has {len(topics)} topics, expected {count}")
    return topics  # type: ignore[no-any-return]


def _word(payload: bytes, i: int) -> int:
    return int.from_bytes(payload[32 * i : 32 * i + 32], "big")


_FILLED_NAMES = {v: f"OrderFilled ({v})" for v in ("V1", "V2", "V3")}
_MATCHED_NAMES = {v: f"OrdersMatched ({v})" for v in ("V1", "V2", "V3")}
_INT64_BITS = 63
_MAX_PRICE = 10**10  # orderflow_trades.price is NUMERIC(20, 10)


def _plausible(event: str, shares: int, collateral: int, fee: int) -> None:
    """Reject amounts the ledger's columns cannot hold (no real fill comes near them).

    The whole supply of USDC is below 2**63 base units, and a price is at most a few dollars a
    share; a log beyond either is corrupt or hostile and must not abort its batch's insert.
    """
    if (shares | collateral | fee) >> _INT64_BITS:
        raise _Bad(
            f"{event} amount exceeds 2**63 base units (shares={shares}, "
            f"collateral={collateral}, fee={fee})"
        )
    if shares and collateral >= shares * _MAX_PRICE:
        raise _Bad(f"{event} price {collateral}/{shares} does not fit NUMERIC(20, 10)")


def _side(word: int, event: str) -> str:
    if word == 0:
        return "BUY"
    if word == 1:
        return "SELL"
    raise _Bad(f"{event} side is {word}, expected 0 (BUY) or 1 (SELL)")


# --- per-event decoders -----------------------------------------------------------------------

Decoder = Callable[[Mapping[str, Any], LogRef, ExchangeVersion, ChainAddresses], Decoded]
CtfDecoder = Callable[[Mapping[str, Any], LogRef, ChainAddresses], Decoded]


def _order_filled_v1(
    raw: Mapping[str, Any], ref: LogRef, version: ExchangeVersion, addrs: ChainAddresses
) -> Fill:
    t = _topics(raw, 4, "OrderFilled (V1)")
    d = _data(raw, 5, "OrderFilled (V1)")
    maker_asset = int.from_bytes(d[0:32], "big")
    taker_asset = int.from_bytes(d[32:64], "big")
    maker_amount = int.from_bytes(d[64:96], "big")
    taker_amount = int.from_bytes(d[96:128], "big")
    fee = int.from_bytes(d[128:160], "big")
    order_hash, maker, taker = _fill_topics(t)
    if maker_asset == 0 and taker_asset != 0:  # gives collateral: BUY
        side, token, shares, collateral, fee_asset = (
            "BUY",
            taker_asset,
            taker_amount,
            maker_amount,
            "SHARES",
        )
    elif taker_asset == 0 and maker_asset != 0:  # gives shares: SELL
        side, token, shares, collateral, fee_asset = (
            "SELL",
            maker_asset,
            maker_amount,
            taker_amount,
            "COLLATERAL",
        )
    else:
        raise _Bad(
            "OrderFilled (V1) needs exactly one asset id = 0 (collateral), got "
            f"makerAssetId={maker_asset} takerAssetId={taker_asset}"
        )
    _plausible("OrderFilled (V1)", shares, collateral, fee)
    return Fill(
        ref,
        version,
        order_hash,
        maker,
        taker,
        side,  # type: ignore[arg-type]
        token,
        shares,
        collateral,
        fee,
        fee_asset,  # type: ignore[arg-type]
        None,
        None,
        taker == ref.address,
    )


def _order_filled_v2(
    raw: Mapping[str, Any], ref: LogRef, version: ExchangeVersion, addrs: ChainAddresses
) -> Fill:
    name = _FILLED_NAMES[version]
    t = _topics(raw, 4, name)
    d = _data(raw, 7, name)
    side = _side(int.from_bytes(d[0:32], "big"), name)
    maker_amount = int.from_bytes(d[64:96], "big")
    taker_amount = int.from_bytes(d[96:128], "big")
    fee = int.from_bytes(d[128:160], "big")
    shares, collateral = (
        (taker_amount, maker_amount) if side == "BUY" else (maker_amount, taker_amount)
    )
    _plausible(name, shares, collateral, fee)
    order_hash, maker, taker = _fill_topics(t)
    return Fill(
        ref,
        version,
        order_hash,
        maker,
        taker,
        side,  # type: ignore[arg-type]
        int.from_bytes(d[32:64], "big"),
        shares,
        collateral,
        fee,
        "COLLATERAL",
        "0x" + d[160:192].hex(),
        "0x" + d[192:224].hex(),
        taker == ref.address,
    )


def _orders_matched_v1(
    raw: Mapping[str, Any], ref: LogRef, version: ExchangeVersion, addrs: ChainAddresses
) -> Match:
    t = _topics(raw, 3, "OrdersMatched (V1)")
    d = _data(raw, 4, "OrdersMatched (V1)")
    maker_asset, taker_asset, maker_amount, taker_amount = (_word(d, i) for i in range(4))
    if maker_asset == 0 and taker_asset != 0:
        side, token, shares, collateral = "BUY", taker_asset, taker_amount, maker_amount
    elif taker_asset == 0 and maker_asset != 0:
        side, token, shares, collateral = "SELL", maker_asset, maker_amount, taker_amount
    else:
        raise _Bad(
            "OrdersMatched (V1) needs exactly one asset id = 0 (collateral), got "
            f"makerAssetId={maker_asset} takerAssetId={taker_asset}"
        )
    _plausible("OrdersMatched (V1)", shares, collateral, 0)
    return Match(
        ref,
        version,
        _hash32(t[1], "takerOrderHash"),
        _topic_address(t[2], "takerOrderMaker"),
        side,  # type: ignore[arg-type]
        token,
        shares,
        collateral,
    )


def _orders_matched_v2(
    raw: Mapping[str, Any], ref: LogRef, version: ExchangeVersion, addrs: ChainAddresses
) -> Match:
    name = _MATCHED_NAMES[version]
    t = _topics(raw, 3, name)
    d = _data(raw, 4, name)
    side = _side(_word(d, 0), name)
    maker_amount, taker_amount = _word(d, 2), _word(d, 3)
    shares, collateral = (
        (taker_amount, maker_amount) if side == "BUY" else (maker_amount, taker_amount)
    )
    _plausible(name, shares, collateral, 0)
    return Match(
        ref,
        version,
        _hash32(t[1], "takerOrderHash"),
        _topic_address(t[2], "takerOrderMaker"),
        side,  # type: ignore[arg-type]
        _word(d, 1),
        shares,
        collateral,
    )


def _token_registered(
    raw: Mapping[str, Any], ref: LogRef, version: ExchangeVersion, addrs: ChainAddresses
) -> TokenRegistration:
    t = _topics(raw, 4, "TokenRegistered")
    _data(raw, 0, "TokenRegistered")
    token0 = int(_hash32(t[1], "token0"), 16)
    token1 = int(_hash32(t[2], "token1"), 16)
    condition = _hash32(t[3], "conditionId")
    pair = resolve_registered_pair(token0, token1, condition, addresses=addrs)
    if pair is None:
        raise _Bad(
            f"TokenRegistered tokens {token0}, {token1} are not the CTF position ids of "
            f"condition {condition} under USDC.e or the NegRisk wrapped collateral"
        )
    return TokenRegistration(ref, condition, token0, token1, pair)


def _condition_preparation(
    raw: Mapping[str, Any], ref: LogRef, addrs: ChainAddresses
) -> ConditionPreparation:
    t = _topics(raw, 4, "ConditionPreparation")
    slots = _word(_data(raw, 1, "ConditionPreparation"), 0)
    if not 2 <= slots <= MAX_OUTCOME_SLOTS:
        raise _Bad(f"ConditionPreparation outcomeSlotCount {slots} outside 2..{MAX_OUTCOME_SLOTS}")
    condition = _hash32(t[1], "conditionId")
    oracle = _topic_address(t[2], "oracle")
    neg_risk = oracle == addrs.neg_risk_adapter
    tokens = ctf_tokens(
        condition, slots, neg_risk=neg_risk, source="ConditionPreparation", addresses=addrs
    )
    return ConditionPreparation(
        ref, condition, oracle, _hash32(t[3], "questionId"), slots, neg_risk, tokens
    )


def _condition_resolution(
    raw: Mapping[str, Any], ref: LogRef, addrs: ChainAddresses
) -> ConditionResolution:
    name = "ConditionResolution"
    t = _topics(raw, 4, name)
    data = raw.get("data")
    if type(data) is not str or len(data) < 2 + 64 * 3 or (len(data) - 2) % 64:
        raise _Bad(f"{name} data is not a whole number of words (at least 3)")
    words = len(data) // 64
    d = _data(raw, words, name)
    slots, offset, length = _word(d, 0), _word(d, 1), _word(d, 2)
    if offset != 64:
        raise _Bad(f"{name} payoutNumerators offset is {offset}, expected 64")
    if length != words - 3:
        raise _Bad(f"{name} payoutNumerators length {length} does not match {words - 3} words")
    if length != slots or not 2 <= slots <= MAX_OUTCOME_SLOTS:
        raise _Bad(f"{name} has {length} payout numerators for {slots} outcome slots")
    numerators = tuple(_word(d, 3 + i) for i in range(length))
    if sum(numerators) == 0:
        raise _Bad(f"{name} payout numerators sum to zero")
    return ConditionResolution(
        ref,
        _hash32(t[1], "conditionId"),
        _topic_address(t[2], "oracle"),
        _hash32(t[3], "questionId"),
        slots,
        numerators,
    )


_EXCHANGE_DECODERS: dict[tuple[ExchangeVersion, str], Decoder] = {
    ("V1", c.TOPIC_ORDER_FILLED_V1): _order_filled_v1,
    ("V1", c.TOPIC_ORDERS_MATCHED_V1): _orders_matched_v1,
    ("V1", c.TOPIC_TOKEN_REGISTERED): _token_registered,
    ("V2", c.TOPIC_ORDER_FILLED_V2): _order_filled_v2,
    ("V2", c.TOPIC_ORDERS_MATCHED_V2): _orders_matched_v2,
    ("V3", c.TOPIC_ORDER_FILLED_V2): _order_filled_v2,
    ("V3", c.TOPIC_ORDERS_MATCHED_V2): _orders_matched_v2,
}
_CTF_DECODERS: dict[str, CtfDecoder] = {
    c.TOPIC_CONDITION_PREPARATION: _condition_preparation,
    c.TOPIC_CONDITION_RESOLUTION: _condition_resolution,
}


def _event_name(topic0: str) -> str:
    signature = c.EVENT_SIGNATURES.get(topic0)
    return signature.split("(", 1)[0] if signature else "unknown event"


# --- entry points -----------------------------------------------------------------------------


class _BlockCache:
    """Per-batch memo of parsed fields that many logs share (block number/time/hash, tx hash)."""

    __slots__ = ("hashes", "numbers", "times")

    def __init__(self) -> None:
        self.numbers: dict[Any, int] = {}
        self.times: dict[Any, datetime] = {}
        self.hashes: dict[Any, str] = {}


def _cached_hash(cache: _BlockCache, value: Any, name: str) -> str:
    try:
        return cache.hashes[value]
    except KeyError:
        checked = cache.hashes[value] = _hash32(value, name)
        return checked
    except TypeError:  # unhashable garbage
        return _hash32(value, name)


def _log_index(value: Any) -> int:
    # Fast path for the common "0x…" string; anything odd takes the strict parser.
    if type(value) is str and value.isascii() and value.isalnum() and value[:2] == "0x":
        try:
            return int(value, 16)
        except ValueError:
            pass
    return _quantity(value, "logIndex")


def _ref(raw: Mapping[str, Any], chain_id: int, address: str, cache: _BlockCache) -> LogRef:
    bn_raw = raw.get("blockNumber")
    try:
        block_number = cache.numbers[bn_raw]
    except (KeyError, TypeError):
        block_number = _quantity(bn_raw, "blockNumber")
        if type(bn_raw) is str:
            cache.numbers[bn_raw] = block_number
    ts_raw = raw.get("blockTimestamp")
    timestamp: datetime | None = None
    if ts_raw is not None:
        try:
            timestamp = cache.times[ts_raw]
        except (KeyError, TypeError):
            seconds = _quantity(ts_raw, "blockTimestamp")
            try:
                timestamp = datetime.fromtimestamp(seconds, UTC)
            except (OverflowError, OSError, ValueError):
                raise _Bad(f"blockTimestamp {seconds} is not a valid time") from None
            if type(ts_raw) is str:
                cache.times[ts_raw] = timestamp
    block_hash = raw.get("blockHash")
    if block_hash is None:
        raise _Bad("pending log: blockHash is null (only mined logs can be stored)")
    return LogRef(
        chain_id,
        block_number,
        _cached_hash(cache, block_hash, "blockHash"),
        _cached_hash(cache, raw.get("transactionHash"), "transactionHash"),
        _log_index(raw.get("logIndex")),
        address,
        timestamp,
        raw,
    )


def _dead(raw: Mapping[str, Any], reason: str, chain_id: int) -> DeadLetter:
    """Best-effort identity for the dead-letter row: every field that parses, None otherwise."""

    def opt(fn: Callable[[], Any]) -> Any:
        try:
            return fn()
        except (_Bad, KeyError, TypeError, ValueError, IndexError, AttributeError):
            return None

    topics = raw.get("topics")
    address = raw.get("address")
    return DeadLetter(
        raw=raw,
        reason=reason,
        chain_id=chain_id,
        tx_hash=opt(lambda: _hash32(raw.get("transactionHash"), "transactionHash")),
        log_index=opt(lambda: _quantity(raw.get("logIndex"), "logIndex")),
        block_number=opt(lambda: _quantity(raw.get("blockNumber"), "blockNumber")),
        address=address.lower()[:100] if isinstance(address, str) else None,
        topic0=topics[0].lower()[:100]
        if isinstance(topics, list) and topics and isinstance(topics[0], str)
        else None,
    )


def _decode(
    raw: Mapping[str, Any], chain_id: int, addrs: ChainAddresses, cache: _BlockCache
) -> Decoded:
    if not isinstance(raw, Mapping):
        return DeadLetter(raw={"value": raw}, reason="log is not a JSON object", chain_id=chain_id)
    try:
        address = raw.get("address")
        if type(address) is not str:
            raise _Bad("address is missing or not a string")
        address = address.lower()
        topics = raw.get("topics")
        if type(topics) is not list:
            raise _Bad("topics is missing or not a list")
        if not topics:
            raise _Bad("anonymous log (no topics)")
        topic0 = topics[0]
        if type(topic0) is not str:
            raise _Bad("topic0 is not a string")
        topic0 = topic0.lower()
        ref = _ref(raw, chain_id, address, cache)
        if raw.get("removed") is True:
            return Removed(ref)
        version = addrs.exchanges.get(address)
        if version is not None:
            decoder = _EXCHANGE_DECODERS.get((version, topic0))
            if decoder is not None:
                return decoder(raw, ref, version, addrs)
        elif address == addrs.ctf:
            ctf_decoder = _CTF_DECODERS.get(topic0)
            if ctf_decoder is not None:
                return ctf_decoder(raw, ref, addrs)
        else:
            raise _Bad(f"log from {address}, which is neither a watched exchange nor the CTF")
        if topic0 in c.IGNORED_TOPICS:
            return Ignored(ref, topic0)
        emitter = f"{version} exchange" if version else "ConditionalTokens"
        if topic0 in c.EVENT_SIGNATURES:
            raise _Bad(f"{_event_name(topic0)} ({topic0[:10]}…) is not expected from the {emitter}")
        raise _Bad(f"unknown topic0 {topic0} from the {emitter} {address}")
    except _Bad as exc:
        return _dead(raw, str(exc), chain_id)


def decode_log(
    raw: Mapping[str, Any], chain_id: int, addresses: ChainAddresses = MAINNET
) -> Decoded:
    """Decode one raw log object (as eth_getLogs / eth_subscribe return it)."""
    return _decode(raw, chain_id, addresses, _BlockCache())


def decode_batch(
    raws: Iterable[Mapping[str, Any]], chain_id: int, addresses: ChainAddresses = MAINNET
) -> DecodedBatch:
    """Decode many logs, sorted into a :class:`DecodedBatch` (input order kept per kind)."""
    batch = DecodedBatch()
    cache = _BlockCache()
    fills_append = batch.fills.append
    for raw in raws:
        item = _decode(raw, chain_id, addresses, cache)
        if type(item) is Fill:
            fills_append(item)
        else:
            batch.add(item)
    return batch
