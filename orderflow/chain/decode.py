"""Raw JSON-RPC log objects → typed events. Pure: no I/O, no web3 contract objects.

A log is decoded by slicing its ``data`` into 32-byte words (``bytes.fromhex`` once, then
``int.from_bytes`` per word) and reading indexed fields straight from ``topics``. The decoder
is chosen by the emitting address (which exchange generation, or ConditionalTokens) and topic0.

Nothing raises: a log that cannot be decoded comes back as :class:`DeadLetter` with a reason
precise enough to act on ("OrderFilled (V1) data is 128 bytes, expected 160"); a log with
``removed: true`` comes back as :class:`Removed`; a recognised event orderflow does not store
(FeeCharged, CTF transfers) as :class:`Ignored`.

The per-event decoders and the tables that choose them by emitter and topic0 live in
:mod:`orderflow.chain.decode_events` (trade semantics there); this module is the entry point:
a log's identity (:class:`LogRef`), the dispatch, dead letters, and batching.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from orderflow.chain import contracts as c
from orderflow.chain.amounts import correct_taker_amounts
from orderflow.chain.contracts import MAINNET, ChainAddresses
from orderflow.chain.decode_events import (
    CTF_DECODERS,
    EXCHANGE_DECODERS,
    FEE_MODULE_DECODERS,
    event_name,
)
from orderflow.chain.events import (
    DeadLetter,
    Decoded,
    DecodedBatch,
    Fill,
    Ignored,
    LogRef,
    Removed,
)
from orderflow.chain.fields import (
    FieldError,
    block_number,
    hash32,
    log_index,
    quantity,
    topic0_of,
)
from orderflow.chain.storable import storable_text

__all__ = [
    "DecodedBatch",
    "dead_letter",
    "decode_batch",
    "decode_log",
    "log_decoder",
]


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
        checked = cache.hashes[value] = hash32(value, name)
        return checked
    except TypeError:  # unhashable garbage
        return hash32(value, name)


def _ref(raw: Mapping[str, Any], chain_id: int, address: str, cache: _BlockCache) -> LogRef:
    bn_raw = raw.get("blockNumber")
    try:
        number = cache.numbers[bn_raw]
    except (KeyError, TypeError):
        number = block_number(bn_raw)
        if type(bn_raw) is str:
            cache.numbers[bn_raw] = number
    ts_raw = raw.get("blockTimestamp")
    timestamp: datetime | None = None
    if ts_raw is not None:
        try:
            timestamp = cache.times[ts_raw]
        except (KeyError, TypeError):
            seconds = quantity(ts_raw, "blockTimestamp")
            try:
                timestamp = datetime.fromtimestamp(seconds, UTC)
            except (OverflowError, OSError, ValueError):
                raise FieldError(f"blockTimestamp {seconds} is not a valid time") from None
            if type(ts_raw) is str:
                cache.times[ts_raw] = timestamp
    block_hash = raw.get("blockHash")
    if block_hash is None:
        raise FieldError("pending log: blockHash is null (only mined logs can be stored)")
    return LogRef(
        chain_id,
        number,
        _cached_hash(cache, block_hash, "blockHash"),
        _cached_hash(cache, raw.get("transactionHash"), "transactionHash"),
        log_index(raw.get("logIndex")),
        address,
        timestamp,
        raw,
    )


def dead_letter(raw: Mapping[str, Any], reason: str, chain_id: int) -> DeadLetter:
    """Best-effort identity for the dead-letter row: every field that parses, None otherwise."""

    def opt(fn: Callable[[], Any]) -> Any:
        try:
            return fn()
        except (FieldError, KeyError, TypeError, ValueError, IndexError, AttributeError):
            return None

    address = raw.get("address")
    topic0 = topic0_of(raw)
    return DeadLetter(
        raw=raw,
        reason=reason,
        chain_id=chain_id,
        tx_hash=opt(lambda: hash32(raw.get("transactionHash"), "transactionHash")),
        log_index=opt(lambda: log_index(raw.get("logIndex"))),
        block_number=opt(lambda: block_number(raw.get("blockNumber"))),
        address=storable_text(address.lower(), 100) if isinstance(address, str) else None,
        topic0=storable_text(topic0, 100) if topic0 is not None else None,
    )


def _decode(raw: object, chain_id: int, addrs: ChainAddresses, cache: _BlockCache) -> Decoded:
    # ``object``: a file's or a node's reply is typed as a mapping, but hostile input need not be
    if not isinstance(raw, Mapping):
        return DeadLetter(raw={"value": raw}, reason="log is not a JSON object", chain_id=chain_id)
    try:
        address = raw.get("address")
        if type(address) is not str:
            raise FieldError("address is missing or not a string")
        address = address.lower()
        topics = raw.get("topics")
        if type(topics) is not list:
            raise FieldError("topics is missing or not a list")
        if not topics:
            raise FieldError("anonymous log (no topics)")
        topic0 = topics[0]
        if type(topic0) is not str:
            raise FieldError("topic0 is not a string")
        topic0 = topic0.lower()
        ref = _ref(raw, chain_id, address, cache)
        if raw.get("removed") is True:
            return Removed(ref)
        version = addrs.exchanges.get(address)
        if version is not None:
            decoder = EXCHANGE_DECODERS.get((version, topic0))
            if decoder is not None:
                return decoder(raw, ref, version, addrs)
        elif address == addrs.ctf:
            ctf_decoder = CTF_DECODERS.get(topic0)
            if ctf_decoder is not None:
                return ctf_decoder(raw, ref, addrs)
        elif address in addrs.fee_modules:
            fee_decoder = FEE_MODULE_DECODERS.get(topic0)
            if fee_decoder is not None:
                return fee_decoder(raw, ref, addrs)
        elif address != addrs.neg_risk_adapter:
            raise FieldError(
                f"log from {address}, which is neither a watched exchange, the CTF, a FeeModule "
                "nor the NegRiskAdapter"
            )
        if topic0 in c.IGNORED_TOPICS:
            return Ignored(ref, topic0)
        emitter = (
            f"{version} exchange"
            if version
            else "ConditionalTokens"
            if address == addrs.ctf
            else "FeeModule"
            if address in addrs.fee_modules
            else "NegRiskAdapter"
        )
        if topic0 in c.EVENT_SIGNATURES:
            raise FieldError(
                f"{event_name(topic0)} ({topic0[:10]}…) is not expected from the {emitter}"
            )
        raise FieldError(f"unknown topic0 {topic0} from the {emitter} {address}")
    except FieldError as exc:
        return dead_letter(raw, storable_text(str(exc), 2000), chain_id)
    except Exception as exc:  # a decoder bug on hostile input: one dead letter, not a dead batch
        reason = f"cannot decode: {type(exc).__name__}: {exc}"
        return dead_letter(raw, storable_text(reason, 2000), chain_id)


def decode_log(
    raw: Mapping[str, Any], chain_id: int, addresses: ChainAddresses = MAINNET
) -> Decoded:
    """Decode one raw log object (as eth_getLogs / eth_subscribe return it)."""
    return _decode(raw, chain_id, addresses, _BlockCache())


def log_decoder(
    chain_id: int, addresses: ChainAddresses = MAINNET
) -> Callable[[Mapping[str, Any]], Decoded]:
    """:func:`decode_log` for the logs of one batch, sharing their parsed block fields (what
    ``decode_batch`` does per log, without the taker-amount correction across logs)."""
    cache = _BlockCache()

    def decode(raw: Mapping[str, Any]) -> Decoded:
        return _decode(raw, chain_id, addresses, cache)

    return decode


def decode_batch(
    raws: Iterable[Mapping[str, Any]], chain_id: int, addresses: ChainAddresses = MAINNET
) -> DecodedBatch:
    """Decode many logs, sorted into a :class:`DecodedBatch` (input order kept per kind).

    A match's taker fill gets the amounts actually executed (``amounts.py``): pass whole
    transactions, as the listener (whole blocks) and the file import do."""
    batch = DecodedBatch()
    cache = _BlockCache()
    fills_append = batch.fills.append
    for raw in raws:
        item = _decode(raw, chain_id, addresses, cache)
        if type(item) is Fill:
            fills_append(item)
        else:
            batch.add(item)
    correct_taker_amounts(batch)
    return batch
