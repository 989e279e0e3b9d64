"""Amounts as executed, from events exactly as the contracts emit them: over-specified taker
amounts.

The operator passes a taker fill amount larger than the makers need; the exchange
refunds the leftover but its taker OrderFilled and OrdersMatched report the full amount. The
repro: a BUY of 40 shares at 0.60 with a taker fill amount of 24.8 USDC.e is stored as 24.0
paid, not 24.8. Fees as paid (FeeModule refunds): test_amounts_refunds.py.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg

from orderflow.chain import contracts as c
from orderflow.chain.decode import decode_batch
from orderflow.chain.encode import (
    SideLike,
    encode_order_filled_v1,
    encode_order_filled_v2,
    encode_orders_matched_v1,
    encode_orders_matched_v2,
)
from orderflow.chain.ingest import ingest_file, ingest_logs
from tests.chain.factory import addr, at, h32
from tests.chain.sample_logs import BTC_NO, BTC_YES

TAKER, MAKER, MAKER2 = addr(0x7A), addr(0x3A), addr(0x3B)
V1 = c.V1_CTF_EXCHANGE
FILL_TOPICS = (c.TOPIC_ORDER_FILLED_V1, c.TOPIC_ORDER_FILLED_V2)


def v1_maker_sell(
    block: int, tx: int, index: int, order: int, maker: str, shares: int, usdc: int, fee: int = 0
) -> dict[str, Any]:
    """A V1 maker's fill selling ``shares`` of BTC_YES to TAKER for ``usdc`` (order ``order``)."""
    return encode_order_filled_v1(
        at=at(block, index, tx),
        order_hash=h32(order),
        maker=maker,
        taker=TAKER,
        maker_asset_id=BTC_YES,
        taker_asset_id=0,
        maker_amount=shares,
        taker_amount=usdc,
        fee=fee,
    )


def v1_taker_buy(
    block: int, tx: int, index: int, order: int, usdc: int, shares: int, fee: int = 0
) -> list[dict[str, Any]]:
    """TAKER's V1 aggregate fill buying ``shares`` of BTC_YES for the ``usdc`` it reports (order
    ``order``), and the OrdersMatched after it: the last two logs of a matchOrders."""
    taker_fill = encode_order_filled_v1(
        at=at(block, index, tx),
        order_hash=h32(order),
        maker=TAKER,
        taker=V1,
        maker_asset_id=0,
        taker_asset_id=BTC_YES,
        maker_amount=usdc,
        taker_amount=shares,
        fee=fee,
    )
    match = encode_orders_matched_v1(
        at=at(block, index + 1, tx),
        taker_order_hash=h32(order),
        taker_order_maker=TAKER,
        maker_asset_id=0,
        taker_asset_id=BTC_YES,
        maker_amount=usdc,
        taker_amount=shares,
    )
    return [taker_fill, match]


def over_specified_v1_buy(block: int = 10, tx: int = 1) -> list[dict[str, Any]]:
    """V1 matchOrders: taker BUY (limit 0.62, takerFillAmount 24.8) vs a maker SELL of 40 at
    0.60. Log order as the exchange emits: maker fill, taker aggregate fill, OrdersMatched. The
    taker's fee: 0.4 shares, charged in what the BUY receives."""
    return [
        v1_maker_sell(block, tx, 0, 0xA, MAKER, 40_000_000, 24_000_000),
        *v1_taker_buy(block, tx, 1, 0xB, 24_800_000, 40_000_000, fee=400_000),
    ]


async def test_over_specified_taker_amount_stores_what_was_paid(pool: asyncpg.Pool) -> None:
    await ingest_logs(pool, over_specified_v1_buy(), chain_id=137)
    rows = {
        r["wallet_address"]: r
        for r in await pool.fetch(
            "SELECT wallet_address, size, usdc_size, price FROM orderflow_trades"
        )
    }
    assert (rows[TAKER]["size"], rows[TAKER]["usdc_size"], rows[TAKER]["price"]) == (
        Decimal(40),
        Decimal(24),
        Decimal("0.6"),
    )
    assert (rows[MAKER]["size"], rows[MAKER]["usdc_size"]) == (Decimal(40), Decimal(24))
    match = await pool.fetchrow("SELECT size, usdc_size, price FROM orderflow_matches")
    assert (match["size"], match["usdc_size"], match["price"]) == (
        Decimal(40),
        Decimal(24),
        Decimal("0.6"),
    )


def test_a_mint_and_a_sell_are_rebuilt_from_their_makers() -> None:
    """V2 mint: taker BUY YES passes 13 USDC for 20 shares; the maker BUYs 20 NO for 8 (0.40),
    so the taker paid 20 - 8 = 12 (0.60). V2 SELL: the taker offers 30 shares, the makers took
    25, the OrderFilled says 30."""
    v2 = c.V2_CTF_EXCHANGE

    def fill(i: int, maker: str, taker: str, side: SideLike, token: int, mk: int, tk: int) -> Any:
        return encode_order_filled_v2(
            at=at(20, i, 2),
            order_hash=h32(0x100 + (0 if taker == v2 else i)),
            maker=maker,
            taker=taker,
            side=side,
            token_id=token,
            maker_amount=mk,
            taker_amount=tk,
            fee=0,
        )

    logs = [
        fill(0, MAKER, TAKER, 0, BTC_NO, 8_000_000, 20_000_000),
        fill(1, TAKER, v2, 0, BTC_YES, 13_000_000, 20_000_000),
        encode_orders_matched_v2(
            at=at(20, 2, 2),
            taker_order_hash=h32(0x100),
            taker_order_maker=TAKER,
            side=0,
            token_id=BTC_YES,
            maker_amount=13_000_000,
            taker_amount=20_000_000,
        ),
        fill(3, MAKER, TAKER, 0, BTC_YES, 6_000_000, 10_000_000),
        fill(4, MAKER2, TAKER, 0, BTC_YES, 9_000_000, 15_000_000),
        fill(5, TAKER, v2, 1, BTC_YES, 30_000_000, 15_000_000),
        encode_orders_matched_v2(
            at=at(20, 6, 2),
            taker_order_hash=h32(0x100),
            taker_order_maker=TAKER,
            side=1,
            token_id=BTC_YES,
            maker_amount=30_000_000,
            taker_amount=15_000_000,
        ),
    ]
    batch = decode_batch(logs, 137)
    mint_taker, sell_taker = batch.fills[1], batch.fills[4]
    assert (mint_taker.collateral, mint_taker.shares) == (12_000_000, 20_000_000)
    assert (sell_taker.shares, sell_taker.collateral) == (25_000_000, 15_000_000)
    assert [(m.shares, m.collateral) for m in batch.matches] == [
        (20_000_000, 12_000_000),
        (25_000_000, 15_000_000),
    ]
    # Fills that agree with their makers are left alone.
    assert batch.fills[0].collateral == 8_000_000 and batch.fills[2].collateral == 6_000_000


def _other_exchange_in_between(block: int = 12, tx: int = 4) -> list[dict[str, Any]]:
    """``over_specified_v1_buy`` with a V2 fill of TAKER's between its maker fill (0) and its
    taker fill (moved to 2)."""
    logs = over_specified_v1_buy(block=block, tx=tx)
    other = encode_order_filled_v2(
        at=at(block, 1, tx),
        order_hash=h32(0xE),
        maker=MAKER2,
        taker=TAKER,
        side=1,
        token_id=BTC_YES,
        maker_amount=1_000_000,
        taker_amount=900_000,
        fee=0,
    )
    logs[1]["logIndex"], logs[2]["logIndex"] = hex(2), hex(3)
    return [logs[0], other, logs[1], logs[2]]


def test_fills_of_another_exchange_in_the_same_transaction_are_not_its_makers() -> None:
    batch = decode_batch(_other_exchange_in_between(block=10, tx=1), 137)
    taker = next(f for f in batch.fills if f.maker == TAKER)
    assert taker.collateral == 24_000_000  # from the V1 maker only, not + the V2 fill
    assert batch.fills[1].collateral == 900_000


def two_maker_v1_buy(block: int = 30, tx: int = 3, first: int = 0) -> list[dict[str, Any]]:
    """V1 matchOrders: taker BUY of 30 shares reporting 12.6 USDC.e (0.42) against makers
    selling 10 and 20 shares at 0.40: it paid 12.0. Maker fills, taker fill, OrdersMatched."""
    return [
        v1_maker_sell(block, tx, first, 0x200, MAKER, 10_000_000, 4_000_000),
        v1_maker_sell(block, tx, first + 1, 0x201, MAKER2, 20_000_000, 8_000_000),
        *v1_taker_buy(block, tx, first + 2, 0x2FF, 12_600_000, 30_000_000),
    ]


def test_a_match_missing_some_of_its_makers_keeps_the_reported_amounts() -> None:
    """Only part of the transaction at hand (a batch cut after its first maker fill): the makers
    present deliver 20 of the 30 shares the taker received, so they are not the whole match and
    the taker's amounts stay as reported — never the 8.0 (0.27) of the makers present."""
    logs = two_maker_v1_buy()
    whole = decode_batch(logs, 137)
    assert (whole.fills[2].collateral, whole.matches[0].collateral) == (12_000_000, 12_000_000)
    part = decode_batch(logs[1:], 137)
    taker = next(f for f in part.fills if f.maker == TAKER)
    assert (taker.collateral, taker.shares) == (12_600_000, 30_000_000)
    assert part.matches[0].collateral == 12_600_000


def test_fills_without_their_matches_get_the_amounts_the_matches_would_give() -> None:
    """A dump of OrderFilled rows only: each taker aggregate takes the fills of its exchange
    and transaction since the previous one (the segment its match would take), so it gets the
    amounts the listener stores with the match at hand — and keeps the reported ones when a
    maker is missing."""
    from orderflow.chain.amounts import correct_unmatched_takers
    from orderflow.sim import SimConfig, simulate
    from orderflow.sim.emit import emit

    sims = [
        emit(simulate(SimConfig(seed=5, markets=4, wallets=8, days=1.0, exchange=e))).logs
        for e in ("v1", "v2")
    ]
    cases = [
        over_specified_v1_buy() + two_maker_v1_buy() + two_maker_v1_buy(block=31, tx=5)[1:],
        _other_exchange_in_between(),
        *sims,
    ]
    corrected = 0
    for logs in cases:
        whole = decode_batch(logs, 137)
        alone = decode_batch([raw for raw in logs if raw["topics"][0] in FILL_TOPICS], 137)
        assert not alone.matches
        corrected += correct_unmatched_takers(alone.fills)
        assert [(f.shares, f.collateral) for f in alone.fills] == [
            (f.shares, f.collateral) for f in whole.fills
        ]
    assert corrected == 3  # over_specified_v1_buy, two_maker_v1_buy, the one in between


def _repeats(logs: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """``two_maker_v1_buy``'s logs with a line given twice: a maker, the taker, the match, and
    the whole transaction (a replayed range, a file with a repeated line)."""
    return [
        [logs[0], *logs],
        [*logs[:3], logs[2], logs[3]],
        [*logs, logs[3]],
        [*logs, *logs],
    ]


def test_a_repeated_log_is_one_fill_to_the_correction() -> None:
    """A log given twice is one fill: the taker's executed amounts are rebuilt as without the
    repeat — on every copy, whichever the store keeps — with the match at hand or without it
    (a dump of OrderFilled rows). Counted twice, the repeated maker delivered 40 shares where
    the taker received 30, and every copy kept the reported 12.6."""
    from orderflow.chain.amounts import correct_unmatched_takers

    for logs in _repeats(two_maker_v1_buy()):
        batch = decode_batch(logs, 137)
        takers = [f for f in batch.fills if f.maker == TAKER]
        assert {(f.collateral, f.shares) for f in takers} == {(12_000_000, 30_000_000)}
        assert {m.collateral for m in batch.matches} == {12_000_000}
        alone = decode_batch([raw for raw in logs if raw["topics"][0] in FILL_TOPICS], 137)
        correct_unmatched_takers(alone.fills)
        takers = [f for f in alone.fills if f.maker == TAKER]
        assert {(f.collateral, f.shares) for f in takers} == {(12_000_000, 30_000_000)}


async def test_a_repeated_log_stores_what_was_paid(pool: asyncpg.Pool, tmp_path: Path) -> None:
    """Through a file import (the fast decoding path falls back to the general correction for
    a batch with a repeated line): the taker's row holds the 12.0 it paid."""
    for n in range(4):  # each kind of repeat in a transaction of its own
        logs = _repeats(two_maker_v1_buy(block=40 + n, tx=10 + n))[n]
        path = tmp_path / f"repeat{n}.jsonl"
        path.write_text("".join(json.dumps(raw) + "\n" for raw in logs))
        await ingest_file(pool, path, chain_id=137, workers=1)
    paid = await pool.fetch(
        "SELECT usdc_size FROM orderflow_trades WHERE order_hash = $1", h32(0x2FF)
    )
    assert [r["usdc_size"] for r in paid] == [Decimal(12)] * 4
