"""Property tests: decode(encode(x)) == x for every event kind; decode never raises."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from orderflow.chain import contracts as c
from orderflow.chain.decode import decode_log
from orderflow.chain.encode import LogPosition, encode_condition_resolution, encode_order_filled_v2
from orderflow.chain.encode_trades import encode_fill, encode_match
from orderflow.chain.events import ConditionResolution, DeadLetter, Fill, Match, Side

hashes = st.binary(min_size=32, max_size=32).map(lambda b: "0x" + b.hex())
addresses = st.binary(min_size=20, max_size=20).map(lambda b: "0x" + b.hex())
token_ids = st.integers(min_value=1, max_value=2**256 - 1)
shares = st.integers(min_value=0, max_value=10**15)
positions = st.builds(
    LogPosition,
    block_number=st.integers(min_value=0, max_value=2**40),
    block_hash=hashes,
    tx_hash=hashes,
    log_index=st.integers(min_value=0, max_value=2**20),
    timestamp=st.one_of(st.none(), st.integers(min_value=0, max_value=4_000_000_000)),
    tx_index=st.integers(min_value=0, max_value=1000),
)
exchanges = st.sampled_from(sorted(c.MAINNET.exchanges.items()))

fast = settings(max_examples=80, deadline=None)


@fast
@given(
    exchange=exchanges,
    at=positions,
    order_hash=hashes,
    maker=addresses,
    taker=addresses,
    side=st.sampled_from(["BUY", "SELL"]),
    token=token_ids,
    size=shares,
    price_bps=st.integers(min_value=0, max_value=10_000),
    fee=st.integers(min_value=0, max_value=10**12),
    aggregate=st.booleans(),
)
def test_fill_round_trip(
    exchange: tuple[str, Any],
    at: LogPosition,
    order_hash: str,
    maker: str,
    taker: str,
    side: Side,
    token: int,
    size: int,
    price_bps: int,
    fee: int,
    aggregate: bool,
) -> None:
    address, version = exchange
    collateral = size * price_bps // 10_000
    raw = encode_fill(
        version,
        at=at,
        order_hash=order_hash,
        maker=maker,
        taker=address if aggregate else taker,
        side=side,
        token_id=token,
        shares=size,
        collateral=collateral,
        fee=fee,
        exchange=address,
    )
    fill = decode_log(raw, 137)
    assert isinstance(fill, Fill), fill
    assert (fill.exchange_version, fill.side, fill.token_id) == (version, side, token)
    assert (fill.shares, fill.collateral, fill.fee) == (size, collateral, fee)
    assert (fill.maker, fill.order_hash) == (maker, order_hash)
    assert fill.is_taker_aggregate == (aggregate or taker == address)
    assert (fill.ref.block_number, fill.ref.log_index, fill.ref.tx_hash) == (
        at.block_number,
        at.log_index,
        at.tx_hash,
    )
    assert (fill.ref.timestamp is None) == (at.timestamp is None)
    if at.timestamp is not None:
        assert fill.ref.timestamp is not None
        assert int(fill.ref.timestamp.timestamp()) == at.timestamp
    assert fill.fee_asset == ("SHARES" if version == "V1" and side == "BUY" else "COLLATERAL")


@fast
@given(
    exchange=exchanges,
    at=positions,
    taker_hash=hashes,
    taker=addresses,
    side=st.sampled_from(["BUY", "SELL"]),
    token=token_ids,
    size=shares,
    price_bps=st.integers(min_value=0, max_value=10_000),
)
def test_match_round_trip(
    exchange: tuple[str, Any],
    at: LogPosition,
    taker_hash: str,
    taker: str,
    side: Side,
    token: int,
    size: int,
    price_bps: int,
) -> None:
    address, version = exchange
    collateral = size * price_bps // 10_000
    raw = encode_match(
        version,
        at=at,
        taker_order_hash=taker_hash,
        taker_order_maker=taker,
        side=side,
        token_id=token,
        shares=size,
        collateral=collateral,
        exchange=address,
    )
    match = decode_log(raw, 137)
    assert isinstance(match, Match), match
    assert (match.side, match.token_id, match.shares, match.collateral) == (
        side,
        token,
        size,
        collateral,
    )
    assert (match.taker_wallet, match.taker_order_hash) == (taker, taker_hash)


@fast
@given(
    at=positions,
    condition=hashes,
    oracle=addresses,
    question=hashes,
    payouts=st.lists(st.integers(min_value=0, max_value=2**64), min_size=2, max_size=8),
)
def test_resolution_round_trip(
    at: LogPosition, condition: str, oracle: str, question: str, payouts: list[int]
) -> None:
    raw = encode_condition_resolution(
        at=at,
        condition_id=condition,
        oracle=oracle,
        question_id=question,
        payout_numerators=payouts,
    )
    out = decode_log(raw, 137)
    if sum(payouts) == 0:
        assert isinstance(out, DeadLetter) and "sum to zero" in out.reason
        return
    assert isinstance(out, ConditionResolution), out
    assert out.payout_numerators == tuple(payouts)
    assert (out.condition_id, out.oracle, out.question_id) == (condition, oracle, question)
    assert sum(out.payouts) == 1 or len(payouts) > 2  # exact for two outcomes


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=80),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
_GOOD = encode_order_filled_v2(
    at=LogPosition(5, "0x" + "11" * 32, "0x" + "22" * 32, 3, 1_700_000_000),
    order_hash="0x" + "33" * 32,
    maker="0x" + "44" * 20,
    taker="0x" + "55" * 20,
    side="BUY",
    token_id=7,
    maker_amount=1,
    taker_amount=2,
    fee=0,
)


@settings(max_examples=200, deadline=None)
@given(key=st.sampled_from(sorted(_GOOD)), value=json_values)
def test_decode_never_raises_on_a_corrupted_field(key: str, value: Any) -> None:
    out = decode_log({**_GOOD, key: value}, 137)
    assert out is not None
    if isinstance(out, DeadLetter):
        assert out.reason


@settings(max_examples=200, deadline=None)
@given(raw=st.dictionaries(st.sampled_from(sorted(_GOOD)), json_values, max_size=10))
def test_decode_never_raises_on_arbitrary_objects(raw: dict[str, Any]) -> None:
    assert isinstance(decode_log(raw, 137), DeadLetter)
