"""A live entry is sized, and its fills booked, on the traded market's own fee schedule.

The official SDK reads a market's taker fee schedule from ``GET /clob-markets/{condition}``
(``"fd": {"r": rate, "e": exponent}``; no ``fd``: rate 0) and applies it as
``shares x r x (p(1 - p))^e`` (``adjust_buy_amount_for_fees``). The executor used one
strategy-wide rate with the exponent 1 everywhere: in a market charging r = 0.25, e = 2 (a
schedule one public page gives crypto markets) at p = 0.5 it sized with 0.03 x 0.25 = 0.0075 a
share where the schedule charges 0.25 x 0.0625 = 0.015625 (the edge overstated), and booked a
fill from the account's trades at the trade's ``fee_rate_bps`` (2500) x 0.25 = 0.0625 a share,
four times the schedule's. A market without a schedule is sized at the strategy's rate and its
fills booked with no fee (it charges none); one whose schedule cannot be read keeps the
strategy's rate (sizing, and booking the placement's fill) and the trade's (booking from the
trades). Live mode against
the CLOB stand-in, which serves the schedule as the real CLOB does."""

from __future__ import annotations

from decimal import ROUND_DOWN, Decimal

import asyncpg
import pytest
from polymarket._internal.actions.orders.market import adjust_buy_amount_for_fees
from polymarket._internal.actions.orders.market_data import PlatformFeeInfo

from orderflow.execution.broker import OrderRequest
from orderflow.execution.live import LiveBroker
from orderflow.execution.wallet import buy_cost
from orderflow.signals.sizing import fee_per_share, taker_fee
from tests.execution.conftest import TOKEN_YES, follow, signal_outcomes
from tests.execution.fake_clob import FakeClob
from tests.execution.livekit import live_executor, live_strategy

STEP = Decimal("0.000001")
CRYPTO = (Decimal("0.25"), Decimal(2))  # r, e
STRATEGY_RATE = 0.03


def _charged(fee: Decimal) -> Decimal:
    """A fee as the exchange charges it: floored to five decimals."""
    return fee.quantize(Decimal("0.00001"), rounding=ROUND_DOWN)


def _per_share(price: Decimal, rate: Decimal, exponent: Decimal) -> Decimal:
    """The SDK's fee per share (``adjust_buy_amount_for_fees``): r x (p(1 - p))^e."""
    return rate * (price * (1 - price)) ** exponent


@pytest.mark.parametrize(
    ("price", "rate", "exponent"),
    [("0.5", "0.25", "2"), ("0.71", "0.03", "1"), ("0.2", "0.07", "1"), ("0.93", "0.25", "2")],
)
def test_the_fee_per_share_is_the_sdks(price: str, rate: str, exponent: str) -> None:
    """Our fee per share is the one the SDK spends by: its ``adjust_buy_amount_for_fees``
    shrinks a spend that cannot pay the fee to ``spend / (1 + fee per share / p)``."""
    p, r, e = Decimal(price), Decimal(rate), Decimal(exponent)
    spend = Decimal(100)
    amount = adjust_buy_amount_for_fees(
        amount=spend, price=p, max_spend=spend, fee=PlatformFeeInfo(rate=r, exponent=e)
    )
    sdk_per_share = (spend / amount - 1) * p
    assert abs(fee_per_share(p, r, e) - sdk_per_share) < Decimal("1e-20")


def test_the_fill_checked_on_chain() -> None:
    """BUY 5 shares at 0.71, fee 0.03088 pUSD on chain (tests/chain/test_decode.py): r = 0.03,
    e = 1, whose 0.030885 the exchange floors to five decimals (micro-dollars booked 0.030885,
    half a hundredth of a cent never charged, on every such fill)."""
    assert taker_fee(Decimal(5), Decimal("0.71"), Decimal("0.03")) == Decimal("0.03088")
    assert taker_fee(Decimal(5), Decimal("0.5"), Decimal("0.25"), Decimal(2)) == Decimal("0.07812")
    # under a hundred-thousandth: nothing charged
    assert taker_fee(Decimal("0.01"), Decimal("0.5"), Decimal("0.001")) == Decimal(0)


async def _entry(
    pool: asyncpg.Pool, dsn: str, live: LiveBroker
) -> tuple[asyncpg.Record, list[asyncpg.Record]]:
    """A live strategy (taker rate 0.03, no slippage) follows a whale's buy of YES at 0.50 (the
    ask: the entry matches at placement); its signal and its booked fills after two passes."""
    await live_strategy(pool, taker_fee_rate=STRATEGY_RATE, paper_slippage_bps=0.0)
    ex = live_executor(pool, dsn, live)
    order = await follow(pool, ex, token_id=TOKEN_YES, price="0.50")
    assert order is not None, await signal_outcomes(pool)
    await ex.maintenance()  # fills the placement did not report: from the account's trades
    await ex.maintenance()
    signal = await pool.fetchrow("SELECT * FROM orderflow_signals WHERE side = 'BUY'")
    fills = list(await pool.fetch("SELECT * FROM orderflow_fills ORDER BY id"))
    return signal, fills


async def test_an_entry_is_sized_and_its_placement_fill_booked_on_the_markets_schedule(
    pool: asyncpg.Pool, dsn: str, clob: FakeClob, live: LiveBroker
) -> None:
    clob.markets[TOKEN_YES].fee = CRYPTO
    signal, fills = await _entry(pool, dsn, live)
    sizing = signal["inputs"]["sizing"]
    price = Decimal(sizing["price"])
    assert price == Decimal("0.50")
    per_share = _per_share(price, *CRYPTO)  # 0.015625
    assert Decimal(sizing["all_in_price"]) == price + per_share, sizing
    [fill] = fills
    assert fill["fee"] == _charged(fill["shares"] * per_share), dict(fill)


async def test_a_fill_from_the_accounts_trades_is_booked_on_the_markets_schedule(
    pool: asyncpg.Pool, dsn: str, clob: FakeClob, live: LiveBroker
) -> None:
    """The placement answer names no trade: the fill is booked from ``GET /data/trades``, whose
    trade states ``fee_rate_bps`` 2500; the fee is the schedule's, with its exponent."""
    clob.markets[TOKEN_YES].fee = CRYPTO
    clob.placement_patch = {"tradeIDs": []}
    _, fills = await _entry(pool, dsn, live)
    [fill] = fills
    assert "," not in fill["fill_key"] and fill["price"] == Decimal("0.50")
    per_share = _per_share(fill["price"], *CRYPTO)
    assert fill["fee"] == _charged(fill["shares"] * per_share), dict(fill)


@pytest.mark.parametrize("booked_from", ["the placement", "the account's trades"])
async def test_a_market_without_a_schedule_is_sized_at_the_strategys_rate_and_charges_nothing(
    pool: asyncpg.Pool, dsn: str, clob: FakeClob, live: LiveBroker, booked_from: str
) -> None:
    """No ``fd``: the market charges no fee (a V2 order carries none; the exchange applies the
    market's schedule, the SDK counts rate 0). The decision keeps the strategy's rate (more than
    none: the conservative side for an entry), but the fill is booked with no fee, from the
    placement's answer as from the account's trades. Before, the placement's fill was booked at
    the strategy's rate: 0.0075 a share never charged, in the cost basis, the realized P&L and
    the strategy's cash, while the same fill read from the trades was booked at none."""
    assert clob.markets[TOKEN_YES].fee is None
    if booked_from == "the account's trades":
        clob.placement_patch = {"tradeIDs": []}
    signal, fills = await _entry(pool, dsn, live)
    sizing = signal["inputs"]["sizing"]
    price = Decimal(sizing["price"])
    per_share = _per_share(price, Decimal(str(STRATEGY_RATE)), Decimal(1))
    assert Decimal(sizing["all_in_price"]) == price + per_share, sizing
    [fill] = fills
    assert fill["fee"] == 0, dict(fill)


async def test_a_schedule_that_cannot_be_read_falls_back_to_the_strategys_rate(
    pool: asyncpg.Pool, dsn: str, clob: FakeClob, live: LiveBroker
) -> None:
    """``GET /clob-markets`` answers 503 once (the decision's read): the entry is sized at the
    strategy's rate and still goes out (the SDK reads the market again to build the order)."""
    clob.markets[TOKEN_YES].fee = CRYPTO
    clob.fail("GET", "/clob-markets/", 503, times=1)
    signal, fills = await _entry(pool, dsn, live)
    sizing = signal["inputs"]["sizing"]
    price = Decimal(sizing["price"])
    per_share = _per_share(price, Decimal(str(STRATEGY_RATE)), Decimal(1))
    assert Decimal(sizing["all_in_price"]) == price + per_share, sizing
    assert len(fills) == 1


@pytest.mark.parametrize(
    "schedule",
    [(Decimal(3), Decimal(2)), (Decimal("0.25"), Decimal(0)), (Decimal("0.25"), Decimal(9))],
    ids=["rate-3", "exponent-0", "exponent-9"],
)
async def test_a_schedule_that_cannot_be_is_refused(
    pool: asyncpg.Pool,
    dsn: str,
    clob: FakeClob,
    live: LiveBroker,
    schedule: tuple[Decimal, Decimal],
) -> None:
    """A rate above 1, an exponent under 1 (a fee per share above ``p(1 - p)``, what fills are
    checked against) or far above 2: refused, the strategy's rate applies."""
    clob.markets[TOKEN_YES].fee = schedule
    signal, _ = await _entry(pool, dsn, live)
    sizing = signal["inputs"]["sizing"]
    price = Decimal(sizing["price"])
    per_share = _per_share(price, Decimal(str(STRATEGY_RATE)), Decimal(1))
    assert Decimal(sizing["all_in_price"]) == price + per_share, sizing
    assert (sizing["fee_rate"], sizing["fee_exponent"]) == ("0.03", "1")


async def test_the_wallet_check_counts_the_fee_a_buy_pays_on_top(
    pool: asyncpg.Pool, dsn: str, clob: FakeClob, live: LiveBroker
) -> None:
    """A BUY that takes pays the V2 taker fee on top of its price (polymarket.md §3), so the
    wallet must hold both. The decision's read of the wallet fails (its stake, 10 a position,
    is not cut to the wallet); the wallet holds less than the order's price and fee together
    but more than its price alone. The order's own check refuses it (``wallet_collateral``),
    nothing sent; before, it counted the price alone, sent the order, and the exchange refused
    it: ``not enough balance / allowance``."""
    clob.markets[TOKEN_YES].fee = CRYPTO
    await live_strategy(pool, max_position_usd=10, paper_slippage_bps=0.0)
    ex = live_executor(pool, dsn, live)
    price = Decimal("0.50")
    shares = (Decimal(10) / (price + _per_share(price, *CRYPTO))).quantize(STEP)
    clob.collateral = price * shares  # the price, not the fee
    clob.fail("GET", "/balance-allowance", 503, times=1)  # the decision's read
    await follow(pool, ex, token_id=TOKEN_YES, price="0.50")
    await ex.worker.drain()
    reasons = [r["reason"] for r in await pool.fetch("SELECT reason FROM orderflow_signals")]
    assert clob.rejections == [], clob.rejections
    assert clob.requests.count(("POST", "/order")) == 0
    assert len(reasons) == 1 and reasons[0].startswith("wallet_collateral: "), reasons


async def test_a_taking_buy_pays_the_fee_from_the_wallet(
    pool: asyncpg.Pool, dsn: str, clob: FakeClob, live: LiveBroker
) -> None:
    """The stand-in charges what the exchange does: a taking BUY's price and fee leave the
    wallet, and a wallet holding both is not refused."""
    clob.markets[TOKEN_YES].fee = CRYPTO
    clob.collateral = Decimal(1000)
    _, fills = await _entry(pool, dsn, live)
    [fill] = fills
    assert fill["fee"] > 0 and clob.rejections == []
    assert clob.collateral == 1000 - fill["shares"] * fill["price"] - fill["fee"]


@pytest.mark.parametrize(("rate", "exponent"), [("0.03", "1"), ("0.25", "2"), ("0.99", "1")])
def test_a_fill_below_the_limit_costs_no_more_than_the_limit(rate: str, exponent: str) -> None:
    """The wallet check counts a BUY's fee at its limit (``wallet.buy_cost``): a share's price and
    fee together never cost more at a lower fill price, though its fee alone can (above 0.5)."""

    def cost(price: Decimal) -> Decimal:
        order = OrderRequest(
            "s",
            1,
            "BUY",
            price,
            Decimal(100),
            price,
            fee_rate=Decimal(rate),
            fee_exponent=Decimal(exponent),
        )
        return buy_cost(order)

    grid = [Decimal(c) / 100 for c in range(1, 100)]
    for limit in grid:
        assert all(cost(p) <= cost(limit) for p in grid if p <= limit), limit
