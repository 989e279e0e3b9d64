"""Fills of our orders as a broken or hostile exchange reports them — in the account's trades
(``GET /data/trades``) or in a placement's answer — that cannot be fills of the order: more
shares than it has left, none or fewer than none, a price outside (0, 1) or beyond its limit, a
negative or absurd fee. Such a fill is refused (logged and counted) and the order's other fills
are booked: on main each was booked as it came, a position of a million shares from a 30-share
order, a BUY filled at 1.5."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import asyncpg
import pytest

from orderflow.execution.live import LiveBroker
from tests.execution.conftest import TOKEN_NO, TOKEN_YES, follow
from tests.execution.fake_clob import FakeClob
from tests.execution.livekit import Clock, live_executor, live_strategy

PAST_EXPIRY = timedelta(seconds=335)  # the order's 300 s and the 30 s grace

# (field of our maker entry in the trade, value): each impossible for a BUY resting at 0.30
HOSTILE_TRADES = [
    ("matched_amount", "1000000"),
    ("matched_amount", "-5"),
    ("matched_amount", "0"),
    ("price", "1.5"),
    ("price", "0"),
    ("price", "0.9"),  # above the BUY's limit
]
# A maker entry's fee_rate_bps is not read (a maker pays no fee: test_maker_fee.py), so no value
# of it refuses the fill.


async def _resting_buy(pool: asyncpg.Pool, dsn: str, live: LiveBroker) -> tuple[str, Decimal]:
    await live_strategy(pool)
    ex = live_executor(pool, dsn, live)
    order = await follow(pool, ex, token_id=TOKEN_NO, outcome_index=1, price="0.30")  # rests
    assert order is not None and order["status"] == "OPEN"
    return str(order["exchange_order_id"]), Decimal(order["shares"])


@pytest.mark.parametrize(("field", "value"), HOSTILE_TRADES, ids=lambda v: str(v))
async def test_an_impossible_fill_in_the_trades_is_refused_and_the_others_booked(
    pool: asyncpg.Pool,
    dsn: str,
    clob: FakeClob,
    live: LiveBroker,
    field: str,
    value: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    oid, shares = await _resting_buy(pool, dsn, live)
    half = (shares / 2).quantize(Decimal("0.01"))
    bad = clob.fill(oid, half)
    [ours] = clob.trade(bad)["maker_orders"]
    ours[field] = value
    good = clob.fill(oid)  # the rest, as it should be
    ex = live_executor(pool, dsn, live)
    await ex.maintenance()
    await ex.maintenance()
    fills = await pool.fetch("SELECT fill_key, shares, price FROM orderflow_fills")
    assert [(f["fill_key"], f["shares"]) for f in fills] == [(good, shares - half)], fills
    position = await pool.fetchrow("SELECT shares, cost_basis FROM orderflow_positions")
    assert position["shares"] == shares - half
    order = await pool.fetchrow("SELECT status, filled_shares FROM orderflow_orders")
    assert order["filled_shares"] == shares - half and order["status"] == "OPEN", dict(order)
    refused = [r for r in caplog.records if r.getMessage() == "exchange reply refused"]
    assert refused and all(r.__dict__["fill_key"] == bad for r in refused)


# Fields of an accepted placement's answer, for a BUY crossing the 0.50 ask at a limit of 0.51:
# shares (takingAmount) and collateral (makingAmount) it cannot have matched.
HOSTILE_PLACEMENTS = [
    {"takingAmount": "1000000", "makingAmount": "500000"},  # more shares than ordered
    {"makingAmount": "-1"},  # a price below 0
    {"makingAmount": "1000"},  # a price far above the limit
]


@pytest.mark.parametrize("patch", HOSTILE_PLACEMENTS, ids=lambda p: str(p))
async def test_an_impossible_fill_in_a_placement_answer_is_refused(
    pool: asyncpg.Pool, dsn: str, clob: FakeClob, live: LiveBroker, patch: dict[str, str]
) -> None:
    await live_strategy(pool)
    ex = live_executor(pool, dsn, live)
    clob.placement_patch = patch
    order = await follow(pool, ex, token_id=TOKEN_YES, price="0.50")  # crosses the 0.50 ask
    clob.placement_patch = {}
    assert order is not None
    assert await pool.fetchval("SELECT count(*) FROM orderflow_fills") == 0
    await ex.maintenance()  # the fills, from the account's trades
    await ex.maintenance()
    order = await pool.fetchrow("SELECT * FROM orderflow_orders")
    fills = await pool.fetch("SELECT shares, price FROM orderflow_fills")
    assert [(f["shares"], f["price"]) for f in fills] == [(order["shares"], order["price"])]
    assert order["status"] == "FILLED"
    position = await pool.fetchrow("SELECT shares FROM orderflow_positions")
    assert position["shares"] == order["shares"]


async def test_a_placement_answer_naming_an_order_we_never_placed_is_not_believed(
    pool: asyncpg.Pool, dsn: str, clob: FakeClob, live: LiveBroker
) -> None:
    """The answer's ``orderID`` was stored as the order's exchange id: from then on the order
    was followed (fills, cancels, the kill switch) under an id that is not its own."""
    await live_strategy(pool)
    ex = live_executor(pool, dsn, live)
    clob.placement_patch = {"orderID": "0x" + "ee" * 32}
    await follow(pool, ex, token_id=TOKEN_NO, outcome_index=1, price="0.30")  # rests
    clob.placement_patch = {}
    [placed] = clob.orders
    order = await pool.fetchrow("SELECT * FROM orderflow_orders")
    assert order["exchange_order_id"] in (None, placed), order["exchange_order_id"]
    await ex.maintenance()  # reconciled by the ids the order can have
    order = await pool.fetchrow("SELECT * FROM orderflow_orders")
    assert (order["status"], order["exchange_order_id"]) == ("OPEN", placed)


async def test_an_order_whose_only_fill_is_refused_is_not_closed_unfilled(
    pool: asyncpg.Pool,
    dsn: str,
    clob: FakeClob,
    live: LiveBroker,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The order was matched in full (the order endpoint shows it no more) by a trade whose fill
    is refused as impossible (a BUY at 0.30 filled at 0.9). Past its expiry, "not shown and no
    fill" closed it CANCELED unfilled: out of the positions and the limits while the exchange
    may have filled it (a reply odd but true, or a mistake of our check). It stays in doubt, as
    an order named by a trade that does not parse: open, counted, asked about at every pass."""
    clock = Clock()
    await live_strategy(pool)
    ex = live_executor(pool, dsn, live, clock=clock)
    order = await follow(pool, ex, token_id=TOKEN_NO, outcome_index=1, price="0.30")  # rests
    assert order is not None and order["status"] == "OPEN"
    oid, shares = str(order["exchange_order_id"]), Decimal(order["shares"])
    bad = clob.fill(oid)
    [ours] = clob.trade(bad)["maker_orders"]
    true_price, ours["price"] = ours["price"], "0.9"
    clock.offset = PAST_EXPIRY
    clob.clock_offset = PAST_EXPIRY.total_seconds()
    ex = live_executor(pool, dsn, live, clock=clock)
    for _ in range(2):
        pages = clob.trade_pages
        await ex.maintenance()
        assert clob.trade_pages > pages  # asked about again
        order = await pool.fetchrow("SELECT status, filled_shares FROM orderflow_orders")
        assert (order["status"], order["filled_shares"]) == ("OPEN", 0), dict(order)
    refused = [r.__dict__ for r in caplog.records if r.getMessage() == "exchange reply refused"]
    assert [(r["what"], r["fill_key"]) for r in refused] == [("fill", bad)]  # once
    ours["price"] = true_price  # the exchange mends it: booked, the order filled
    await ex.maintenance()
    order = await pool.fetchrow("SELECT status, filled_shares FROM orderflow_orders")
    assert (order["status"], order["filled_shares"]) == ("FILLED", shares)


@pytest.mark.parametrize("bps", ["-100", "100000000"])
async def test_a_taker_fill_at_an_impossible_fee_rate_is_refused(
    pool: asyncpg.Pool,
    dsn: str,
    clob: FakeClob,
    live: LiveBroker,
    bps: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Our entry took the ask; the placement answer names no trade, and the trade in the
    account's trades, of a market whose schedule could not be read, states a negative or absurd
    ``fee_rate_bps``: the fee it gives is refused (a taker's fee is read from it when the
    schedule is not known), not booked."""
    await live_strategy(pool)
    ex = live_executor(pool, dsn, live)
    clob.fail("GET", "/clob-markets/", 503, times=1)  # our read; the SDK's order build reads it
    clob.placement_patch = {"tradeIDs": []}
    order = await follow(pool, ex, token_id=TOKEN_YES, price="0.50")  # crosses the 0.50 ask
    clob.placement_patch = {}
    assert order is not None and clob.markets[TOKEN_YES].fee is None
    [trade] = clob.trades
    true_bps, trade["fee_rate_bps"] = trade["fee_rate_bps"], bps
    await ex.maintenance()
    assert await pool.fetchval("SELECT count(*) FROM orderflow_fills") == 0
    refused = [r.__dict__ for r in caplog.records if r.getMessage() == "exchange reply refused"]
    assert [(r["what"], r["fill_key"]) for r in refused] == [("fill", trade["id"])]
    trade["fee_rate_bps"] = true_bps  # mended: booked
    await ex.maintenance()
    fill = await pool.fetchrow("SELECT shares, fee FROM orderflow_fills")
    assert fill is not None and fill["shares"] == order["shares"] and fill["fee"] == 0
