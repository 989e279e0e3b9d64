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

import asyncio
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from orderflow.chain import contracts as c
from orderflow.chain.amounts import correct_taker_amounts
from orderflow.chain.contracts import MAINNET, ChainAddresses, ExchangeVersion
from orderflow.chain.events import (
    ConditionPreparation,
    ConditionResolution,
    DeadLetter,
    Decoded,
    DecodedBatch,
    FeeRefund,
    Fill,
    Ignored,
    LogRef,
    Match,
    Removed,
    TokenRegistration,
)
from orderflow.chain.fields import (
    FieldError,
    block_number,
    check_amounts,
    data_words,
    exact_topics,
    fill_topics,
    hash32,
    log_index,
    quantity,
    side_of,
    topic0_of,
    topic_address,
    word,
)
from orderflow.chain.storable import storable_text
from orderflow.chain.tokens import MAX_OUTCOME_SLOTS, ctf_tokens, resolve_registered_pair

__all__ = ["DecodedBatch", "decode_batch", "decode_batch_async", "decode_log"]

_FILLED_NAMES = {v: f"OrderFilled ({v})" for v in ("V1", "V2", "V3")}
_MATCHED_NAMES = {v: f"OrdersMatched ({v})" for v in ("V1", "V2", "V3")}

# --- per-event decoders -----------------------------------------------------------------------

Decoder = Callable[[Mapping[str, Any], LogRef, ExchangeVersion, ChainAddresses], Decoded]
CtfDecoder = Callable[[Mapping[str, Any], LogRef, ChainAddresses], Decoded]


def _order_filled_v1(
    raw: Mapping[str, Any], ref: LogRef, version: ExchangeVersion, addrs: ChainAddresses
) -> Fill:
    t = exact_topics(raw, 4, "OrderFilled (V1)")
    d = data_words(raw, 5, "OrderFilled (V1)")
    maker_asset = int.from_bytes(d[0:32], "big")
    taker_asset = int.from_bytes(d[32:64], "big")
    maker_amount = int.from_bytes(d[64:96], "big")
    taker_amount = int.from_bytes(d[96:128], "big")
    fee = int.from_bytes(d[128:160], "big")
    order_hash, maker, taker = fill_topics(t)
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
        raise FieldError(
            "OrderFilled (V1) needs exactly one asset id = 0 (collateral), got "
            f"makerAssetId={maker_asset} takerAssetId={taker_asset}"
        )
    check_amounts("OrderFilled (V1)", shares, collateral, fee)
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
    t = exact_topics(raw, 4, name)
    d = data_words(raw, 7, name)
    side = side_of(int.from_bytes(d[0:32], "big"), name)
    maker_amount = int.from_bytes(d[64:96], "big")
    taker_amount = int.from_bytes(d[96:128], "big")
    fee = int.from_bytes(d[128:160], "big")
    shares, collateral = (
        (taker_amount, maker_amount) if side == "BUY" else (maker_amount, taker_amount)
    )
    check_amounts(name, shares, collateral, fee)
    order_hash, maker, taker = fill_topics(t)
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
    t = exact_topics(raw, 3, "OrdersMatched (V1)")
    d = data_words(raw, 4, "OrdersMatched (V1)")
    maker_asset, taker_asset, maker_amount, taker_amount = (word(d, i) for i in range(4))
    if maker_asset == 0 and taker_asset != 0:
        side, token, shares, collateral = "BUY", taker_asset, taker_amount, maker_amount
    elif taker_asset == 0 and maker_asset != 0:
        side, token, shares, collateral = "SELL", maker_asset, maker_amount, taker_amount
    else:
        raise FieldError(
            "OrdersMatched (V1) needs exactly one asset id = 0 (collateral), got "
            f"makerAssetId={maker_asset} takerAssetId={taker_asset}"
        )
    check_amounts("OrdersMatched (V1)", shares, collateral, 0)
    return Match(
        ref,
        version,
        hash32(t[1], "takerOrderHash"),
        topic_address(t[2], "takerOrderMaker"),
        side,  # type: ignore[arg-type]
        token,
        shares,
        collateral,
    )


def _orders_matched_v2(
    raw: Mapping[str, Any], ref: LogRef, version: ExchangeVersion, addrs: ChainAddresses
) -> Match:
    name = _MATCHED_NAMES[version]
    t = exact_topics(raw, 3, name)
    d = data_words(raw, 4, name)
    side = side_of(word(d, 0), name)
    maker_amount, taker_amount = word(d, 2), word(d, 3)
    shares, collateral = (
        (taker_amount, maker_amount) if side == "BUY" else (maker_amount, taker_amount)
    )
    check_amounts(name, shares, collateral, 0)
    return Match(
        ref,
        version,
        hash32(t[1], "takerOrderHash"),
        topic_address(t[2], "takerOrderMaker"),
        side,  # type: ignore[arg-type]
        word(d, 1),
        shares,
        collateral,
    )


def _token_registered(
    raw: Mapping[str, Any], ref: LogRef, version: ExchangeVersion, addrs: ChainAddresses
) -> TokenRegistration:
    t = exact_topics(raw, 4, "TokenRegistered")
    data_words(raw, 0, "TokenRegistered")
    token0 = int(hash32(t[1], "token0"), 16)
    token1 = int(hash32(t[2], "token1"), 16)
    condition = hash32(t[3], "conditionId")
    pair = resolve_registered_pair(token0, token1, condition, addresses=addrs)
    if pair is None:
        raise FieldError(
            f"TokenRegistered tokens {token0}, {token1} are not the CTF position ids of "
            f"condition {condition} under USDC.e or the NegRisk wrapped collateral"
        )
    return TokenRegistration(ref, condition, token0, token1, pair)


def _condition_preparation(
    raw: Mapping[str, Any], ref: LogRef, addrs: ChainAddresses
) -> ConditionPreparation:
    t = exact_topics(raw, 4, "ConditionPreparation")
    slots = word(data_words(raw, 1, "ConditionPreparation"), 0)
    if not 2 <= slots <= MAX_OUTCOME_SLOTS:
        raise FieldError(
            f"ConditionPreparation outcomeSlotCount {slots} outside 2..{MAX_OUTCOME_SLOTS}"
        )
    condition = hash32(t[1], "conditionId")
    oracle = topic_address(t[2], "oracle")
    neg_risk = oracle == addrs.neg_risk_adapter
    tokens = ctf_tokens(
        condition, slots, neg_risk=neg_risk, source="ConditionPreparation", addresses=addrs
    )
    return ConditionPreparation(
        ref, condition, oracle, hash32(t[3], "questionId"), slots, neg_risk, tokens
    )


def _condition_resolution(
    raw: Mapping[str, Any], ref: LogRef, addrs: ChainAddresses
) -> ConditionResolution:
    name = "ConditionResolution"
    t = exact_topics(raw, 4, name)
    data = raw.get("data")
    if type(data) is not str or len(data) < 2 + 64 * 3 or (len(data) - 2) % 64:
        raise FieldError(f"{name} data is not a whole number of words (at least 3)")
    words = len(data) // 64
    d = data_words(raw, words, name)
    slots, offset, length = word(d, 0), word(d, 1), word(d, 2)
    if offset != 64:
        raise FieldError(f"{name} payoutNumerators offset is {offset}, expected 64")
    if length != words - 3:
        raise FieldError(
            f"{name} payoutNumerators length {length} does not match {words - 3} words"
        )
    if length != slots or not 2 <= slots <= MAX_OUTCOME_SLOTS:
        raise FieldError(f"{name} has {length} payout numerators for {slots} outcome slots")
    numerators = tuple(word(d, 3 + i) for i in range(length))
    if sum(numerators) == 0:
        raise FieldError(f"{name} payout numerators sum to zero")
    return ConditionResolution(
        ref,
        hash32(t[1], "conditionId"),
        topic_address(t[2], "oracle"),
        hash32(t[3], "questionId"),
        slots,
        numerators,
    )


def _word_address(payload: bytes, i: int, name: str) -> str:
    chunk = payload[32 * i : 32 * i + 32]
    if any(chunk[:12]):
        raise FieldError(f"{name} is not an address (non-zero high bytes)")
    return "0x" + chunk[12:].hex()


def _fee_refunded(raw: Mapping[str, Any], ref: LogRef, addrs: ChainAddresses) -> FeeRefund:
    """FeeModule v2.0.0: FeeRefunded(bytes32 indexed orderHash, address indexed to, uint256 id,
    uint256 refund, uint256 indexed feeCharged)."""
    name = "FeeRefunded"
    t = exact_topics(raw, 4, name)
    d = data_words(raw, 2, name)
    token_id, refund = word(d, 0), word(d, 1)
    fee_charged = int(hash32(t[3], "feeCharged"), 16)
    check_amounts(name, 0, 0, refund | fee_charged)
    return FeeRefund(
        ref,
        topic_address(t[2], "to"),
        token_id,
        refund,
        order_hash=hash32(t[1], "orderHash"),
        fee_charged=fee_charged,
    )


def _fee_refunded_2023(raw: Mapping[str, Any], ref: LogRef, addrs: ChainAddresses) -> FeeRefund:
    """FeeModule (2023): FeeRefunded(address token, address to, uint256 id, uint256 amount),
    nothing indexed."""
    name = "FeeRefunded (2023)"
    exact_topics(raw, 1, name)
    d = data_words(raw, 4, name)
    _word_address(d, 0, "token")
    refund = word(d, 3)
    check_amounts(name, 0, 0, refund)
    return FeeRefund(ref, _word_address(d, 1, "to"), word(d, 2), refund)


_FEE_MODULE_DECODERS: dict[str, CtfDecoder] = {
    c.TOPIC_FEE_REFUNDED: _fee_refunded,
    c.TOPIC_FEE_REFUNDED_2023: _fee_refunded_2023,
}

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


def _dead(raw: Mapping[str, Any], reason: str, chain_id: int) -> DeadLetter:
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


def _decode(
    raw: Mapping[str, Any], chain_id: int, addrs: ChainAddresses, cache: _BlockCache
) -> Decoded:
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
            decoder = _EXCHANGE_DECODERS.get((version, topic0))
            if decoder is not None:
                return decoder(raw, ref, version, addrs)
        elif address == addrs.ctf:
            ctf_decoder = _CTF_DECODERS.get(topic0)
            if ctf_decoder is not None:
                return ctf_decoder(raw, ref, addrs)
        elif address in addrs.fee_modules:
            fee_decoder = _FEE_MODULE_DECODERS.get(topic0)
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
                f"{_event_name(topic0)} ({topic0[:10]}…) is not expected from the {emitter}"
            )
        raise FieldError(f"unknown topic0 {topic0} from the {emitter} {address}")
    except FieldError as exc:
        return _dead(raw, storable_text(str(exc), 2000), chain_id)
    except Exception as exc:  # a decoder bug on hostile input: one dead letter, not a dead batch
        reason = f"cannot decode: {type(exc).__name__}: {exc}"
        return _dead(raw, storable_text(reason, 2000), chain_id)


def decode_log(
    raw: Mapping[str, Any], chain_id: int, addresses: ChainAddresses = MAINNET
) -> Decoded:
    """Decode one raw log object (as eth_getLogs / eth_subscribe return it)."""
    return _decode(raw, chain_id, addresses, _BlockCache())


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


# Decoding is pure CPU. A ConditionPreparation with 256 outcomes derives 256 token ids (two
# 254-bit modular exponentiations each: about 0.1 s of CPU), and a large batch takes a while
# too; on the listener's event loop either would stall heads, pings and /healthz.
_OFF_LOOP_LOGS = 500


def _needs_thread(raws: list[Any], addresses: ChainAddresses) -> bool:
    if len(raws) >= _OFF_LOOP_LOGS:
        return True
    ctf = addresses.ctf
    return any(
        isinstance(r, Mapping) and isinstance(a := r.get("address"), str) and a.lower() == ctf
        for r in raws
    )


async def decode_batch_async(
    raws: Iterable[Mapping[str, Any]], chain_id: int, addresses: ChainAddresses = MAINNET
) -> DecodedBatch:
    """:func:`decode_batch` for code on the event loop: batches that may take long (many logs,
    or ConditionalTokens events, whose token ids are derived here) run in a worker thread."""
    items = list(raws)
    if _needs_thread(items, addresses):
        return await asyncio.to_thread(decode_batch, items, chain_id, addresses)
    return decode_batch(items, chain_id, addresses)
