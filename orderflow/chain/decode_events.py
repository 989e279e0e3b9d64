"""Per-event decoders: one function per (emitter, topic0), and the tables that pick them.

Each decoder turns one raw log (already identified by its :class:`LogRef`) into a typed event,
or raises :class:`FieldError` with a reason precise enough to act on; the entry points in
:mod:`orderflow.chain.decode` choose the table by the emitting address (which exchange
generation, ConditionalTokens or a FeeModule) and turn errors into dead letters. Pure: no I/O.

Trade semantics (docs/listener.md): one Fill per OrderFilled from its maker's side. V1 derives
the side from which asset id is 0 (0 = collateral) and charges the fee in what the owner
receives (shares on a BUY, collateral on a SELL); V2/V3 carry ``side`` (0 BUY, 1 SELL) and
charge fees in collateral. ``is_taker_aggregate`` is true when the taker is the exchange itself.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from orderflow.chain import contracts as c
from orderflow.chain.contracts import ChainAddresses, ExchangeVersion
from orderflow.chain.events import (
    ConditionPreparation,
    ConditionResolution,
    Decoded,
    FeeRefund,
    Fill,
    LogRef,
    Match,
    TokenRegistration,
)
from orderflow.chain.fields import (
    FieldError,
    check_amounts,
    data_words,
    exact_topics,
    fill_topics,
    hash32,
    side_of,
    topic_address,
    word,
)
from orderflow.chain.tokens import MAX_OUTCOME_SLOTS, ctf_tokens, resolve_registered_pair

__all__ = [
    "CTF_DECODERS",
    "EXCHANGE_DECODERS",
    "FEE_MODULE_DECODERS",
    "CtfDecoder",
    "Decoder",
    "event_name",
]

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


FEE_MODULE_DECODERS: dict[str, CtfDecoder] = {
    c.TOPIC_FEE_REFUNDED: _fee_refunded,
    c.TOPIC_FEE_REFUNDED_2023: _fee_refunded_2023,
}

EXCHANGE_DECODERS: dict[tuple[ExchangeVersion, str], Decoder] = {
    ("V1", c.TOPIC_ORDER_FILLED_V1): _order_filled_v1,
    ("V1", c.TOPIC_ORDERS_MATCHED_V1): _orders_matched_v1,
    ("V1", c.TOPIC_TOKEN_REGISTERED): _token_registered,
    ("V2", c.TOPIC_ORDER_FILLED_V2): _order_filled_v2,
    ("V2", c.TOPIC_ORDERS_MATCHED_V2): _orders_matched_v2,
    ("V3", c.TOPIC_ORDER_FILLED_V2): _order_filled_v2,
    ("V3", c.TOPIC_ORDERS_MATCHED_V2): _orders_matched_v2,
}
CTF_DECODERS: dict[str, CtfDecoder] = {
    c.TOPIC_CONDITION_PREPARATION: _condition_preparation,
    c.TOPIC_CONDITION_RESOLUTION: _condition_resolution,
}


def event_name(topic0: str) -> str:
    signature = c.EVENT_SIGNATURES.get(topic0)
    return signature.split("(", 1)[0] if signature else "unknown event"
