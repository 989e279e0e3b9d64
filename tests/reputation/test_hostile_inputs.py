"""Fills and resolutions at the edges of what the chain can store, through the run.

Controls (they passed before this file was written; kept so that they keep passing): fills at
price 0 and 1, of dust, of no shares for some collateral, a V1 share fee of the whole fill, sales
of shares never bought, a wallet's only fills in one transaction against its own resting order
(a mint), a three-outcome market resolved [0, 1, 2], a 50/50, the legs of a neg-risk event; the
set-based run stores no NaN or infinity and agrees with the per-wallet replay. Then what the
listener does to resolutions after a run -- a condition resolved before any of its tokens is
registered, a Gamma resolution replaced by the chain's with other payouts, a resolution reorged
away, every fill of a scored wallet rolled back -- each followed by an incremental run that must
store what a full recompute stores (rows, closing lines, counterparty rows, inputs, issues).
"""

from __future__ import annotations

import math
from datetime import timedelta
from decimal import Decimal
from typing import Any

import asyncpg

from orderflow.reputation import run_reputation
from orderflow.reputation.per_wallet import wallet_report
from tests.reputation.builders import EXCHANGE, T0, Ledger, h, market, wallet
from tests.reputation.test_incremental_run import _ISSUES, close, persisted
from tests.reputation.test_reference import _nan
from tests.reputation.test_reference import close as near

DAY = timedelta(days=1)
_STORED = (
    "SELECT * FROM orderflow_reputation_closes ORDER BY token_id",
    "SELECT * FROM orderflow_reputation_wash ORDER BY 1, 2",
    "SELECT * FROM orderflow_reputation_inputs ORDER BY wallet_address",
    # each wallet's standing, its bytes (an incremental run computes only the changed wallets')
    """SELECT w.wallet_address, s.standing, s.stored_score, s.stored_tier, s.stored_flags
         FROM orderflow_reputation_standing s JOIN orderflow_reputation_inputs w USING (idx)
        ORDER BY 1""",
)


def _hours(n: int) -> timedelta:
    return timedelta(hours=n)


def _crowd(led: Ledger) -> None:
    """Five takers of seven binary markets: a population to score the others against."""
    for who in range(1, 6):
        for m in range(1, 8):
            led.trade(who, "BUY", "100", "0.40", market_no=m, outcome=who % 2,
                      at=_hours(m + who), taker_aggregate=True)  # fmt: skip
    for m in range(1, 8):
        led.resolve(m, ["1", "0"] if m % 2 else ["0", "1"], 2 * DAY + _hours(m))


def _mint_with_itself(led: Ledger, who: int, other: int, market_no: int) -> None:
    """One transaction: ``who``'s taker buy of YES matched against its own resting buy of NO
    (a mint), and ``other`` selling it YES in the same match."""
    rows = [
        (who, wallet(who), False, "BUY", 1, "0.6"),
        (who, EXCHANGE, True, "BUY", 0, "0.4"),
        (other, wallet(who), False, "SELL", 0, "0.4"),
    ]
    for log_index, (w, taker, aggregate, side, outcome, price) in enumerate(rows):
        p = Decimal(price)
        led.trades.append((
            137, "0x" + "ef" * 32, log_index, 6000, "0x" + "ee" * 32, T0 + _hours(2), EXCHANGE,
            "V2", h(77_000 + log_index), wallet(w), taker, aggregate, side,
            Decimal(market_no * 10 + outcome), market(market_no), outcome, p, Decimal(100),
            100 * p, Decimal(0), "COLLATERAL",
        ))  # fmt: skip


def _zero_shares(led: Ledger, who: int, market_no: int) -> None:
    """A taker buy that delivered no shares for 5 USDC (stored with price 0)."""
    led.trade(who, "BUY", "1", "0.5", market_no=market_no, at=_hours(1), taker_aggregate=True)
    row = list(led.trades[-1])
    row[16:19] = [Decimal(0), Decimal(0), Decimal(5)]  # price, size, usdc_size
    led.trades[-1] = tuple(row)


def _edges(led: Ledger) -> None:
    t = True
    led.trade(10, "BUY", "100", "0", market_no=20, at=_hours(3), taker_aggregate=t)
    led.trade(10, "BUY", "100", "1", market_no=21, at=_hours(3), taker_aggregate=t)
    led.trade(10, "SELL", "50", "0.5", market_no=21, at=_hours(4), taker_aggregate=t)
    led.trade(11, "SELL", "100", "0", market_no=20, outcome=1, at=_hours(3), taker_aggregate=t)
    led.trade(11, "SELL", "100", "1", market_no=21, outcome=1, at=_hours(3), taker_aggregate=t)
    led.trade(11, "BUY", "30", "0.2", market_no=21, outcome=1, at=_hours(5), taker_aggregate=t)
    led.resolve(20, ["1", "1"], DAY)
    led.resolve(21, ["0", "1"], DAY)
    led.trade(12, "BUY", "0", "0.5", market_no=22, at=_hours(4), taker_aggregate=t)
    led.trade(12, "BUY", "0.000001", "0.5", market_no=23, at=_hours(4), taker_aggregate=t)
    led.trade(12, "SELL", "0.000003", "0.5", market_no=23, at=_hours(5))
    led.resolve(22, ["1", "0"], DAY)
    led.resolve(23, ["1", "0"], DAY)
    led.trade(13, "SELL", "100", "0.6", market_no=25, at=_hours(4), taker_aggregate=t)
    led.trade(13, "BUY", "20", "0.7", market_no=26, at=_hours(2), taker_aggregate=t)
    led.trade(13, "SELL", "100", "0.6", market_no=26, at=_hours(4), taker_aggregate=t)
    led.resolve(25, ["1", "0"], DAY)
    led.trade(14, "BUY", "100", "0.3", market_no=27, outcome=2, at=_hours(4), taker_aggregate=t)
    led.trade(14, "SELL", "40", "0.5", market_no=27, outcome=2, at=_hours(5), taker_aggregate=t)
    led.trade(14, "BUY", "100", "0.3", market_no=27, outcome=1, at=_hours(6), taker_aggregate=t)
    led.resolve(27, ["0", "1", "2"], DAY)
    led.trade(15, "BUY", "100", "0.3", market_no=28, fee="100", fee_asset="SHARES",
              version="V1", at=_hours(4), taker_aggregate=t)  # fmt: skip
    led.trade(15, "SELL", "10", "0.3", market_no=28, at=_hours(5), taker_aggregate=t)
    led.resolve(28, ["1", "0"], DAY)
    _zero_shares(led, 16, 40)
    led.trade(16, "BUY", "50", "0.5", market_no=40, at=_hours(2), taker_aggregate=t)
    led.resolve(40, ["1", "0"], DAY)
    _mint_with_itself(led, 17, 18, 41)
    led.resolve(41, ["0", "1"], DAY)
    for leg in range(3):  # a neg-risk event: NO on the last leg, YES on the others
        led.trade(19, "BUY", "100", ("0.3", "0.5", "0.2")[leg], market_no=50 + leg,
                  outcome=0 if leg < 2 else 1, at=_hours(2), taker_aggregate=t)  # fmt: skip
        led.resolve(50 + leg, ["1", "0"] if leg == 1 else ["0", "1"], DAY + _hours(leg))


async def _neg_risk_legs(pool: asyncpg.Pool) -> None:
    for leg in range(3):
        await pool.execute(
            "INSERT INTO orderflow_conditions (condition_id, oracle, question_id,"
            " outcome_slot_count, neg_risk, chain_id, block_number, tx_hash, log_index)"
            " VALUES ($1, $2, $3, 2, TRUE, 137, 1, $4, $5)",
            market(50 + leg), EXCHANGE, "0x" + "77" * 31 + f"{leg:02x}", h(99_000 + leg), leg,
        )  # fmt: skip


def _finite(rows: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """(wallet, column) of every NaN or infinity among the rows as read."""
    return [
        (r["wallet_address"], k)
        for r in rows
        for k, v in r.items()
        if isinstance(v, float | Decimal) and not (math.isfinite(v) if isinstance(v, float)
                                                   else v.is_finite())
    ]  # fmt: skip


async def test_edge_fills_are_stored_finite_and_replayed_alike(pool: asyncpg.Pool) -> None:
    led = Ledger()
    _crowd(led)
    _edges(led)
    await led.flush(pool)
    await _neg_risk_legs(pool)
    await run_reputation(pool)
    rows = await persisted(pool)
    assert _finite(rows) == []
    assert len(rows) == 15
    async with pool.acquire() as conn:
        for s in rows:
            rep = await wallet_report(conn, s["wallet_address"], stats=s)
            inp, sc, post = rep.inputs, rep.scores, s["factors"]["posterior"]
            tol = Decimal("0.000001") * (len(rep.positions) + 1)
            who = s["wallet_address"]
            assert abs(s["realized_pnl"] - rep.realized_pnl) <= tol, who
            assert abs(s["unrealized_pnl"] - rep.unrealized_pnl) <= tol, who
            assert s["events_resolved"] == inp.events[0], who
            assert near(post["outcome_edge"], _nan(sc.outcome_edge[0]), 1e-6), who
            assert near(post["outcome_se"], _nan(sc.outcome_se[0]), 1e-6), who
            assert near(s["edge"], float(sc.edge[0]), 1e-6), who
            assert s["trader_tier"] == sc.tier_names()[0], who
    by = {r["wallet_address"]: r for r in rows}
    # outcome 2 pays 2/3: 20 - 30 + 60 x 2/3 = 30; outcome 1 pays 1/3: 100 / 3 - 30
    assert by[wallet(14)]["realized_pnl"] == Decimal("33.333333")
    assert by[wallet(10)]["realized_pnl"] == Decimal("-25.000000")  # +50 (50/50), -75


def _nan_free(r: asyncpg.Record) -> tuple[Any, ...]:
    """A stored row to compare (NaN equal to NaN; the position in the arrays left out)."""
    return tuple(
        (k, "NaN" if isinstance(v, float) and v != v else v)
        for k, v in r.items()
        if k not in ("idx", "factor_inputs")
    )


async def _incremental_equals_full(pool: asyncpg.Pool) -> None:
    assert (await run_reputation(pool)).incremental
    rows, issues = await persisted(pool), await pool.fetch(_ISSUES)
    stored = [[_nan_free(r) for r in await pool.fetch(q)] for q in _STORED]
    assert not (await run_reputation(pool, full=True)).incremental
    close(await persisted(pool), rows)
    assert await pool.fetch(_ISSUES) == issues
    assert [[_nan_free(r) for r in await pool.fetch(q)] for q in _STORED] == stored


async def test_resolutions_changed_after_a_run_incremental_equals_full(
    pool: asyncpg.Pool,
) -> None:
    led = Ledger()
    _crowd(led)
    led.trade(10, "BUY", "100", "0", market_no=20, at=_hours(3), taker_aggregate=True)
    led.trade(11, "SELL", "100", "0.6", market_no=20, outcome=1, at=_hours(3), taker_aggregate=True)
    led.resolve(20, ["1", "1"], DAY)  # as Gamma had it
    led.trade(14, "BUY", "100", "0.3", market_no=27, outcome=2, at=_hours(4), taker_aggregate=True)
    # tokens no trade row places: one registered now, one only after its market resolved
    led.trade(14, "BUY", "100", "0.3", market_no=None, token_id=9_999, at=_hours(4),
              taker_aggregate=True)  # fmt: skip
    led.trade(15, "BUY", "100", "0.3", market_no=None, token_id=9_998, at=_hours(4),
              taker_aggregate=True)  # fmt: skip
    led.register_token(9_998, 30, 1)
    await led.flush(pool)
    await run_reputation(pool)

    led.resolve(27, ["0", "1", "2"], DAY)
    led.resolve(31, ["1", "0"], DAY)  # a condition none of whose tokens is registered yet
    led.resolve(30, ["0", "1"], DAY)
    await led.flush(pool)
    await _incremental_equals_full(pool)
    led.register_token(9_999, 31, 0)
    await led.flush(pool)
    # the chain's resolution replaces Gamma's with other payouts
    await pool.execute(
        "UPDATE orderflow_market_outcomes SET payout_numerators = '{0,1}', payouts = '{0,1}'"
        " WHERE market_id = $1",
        market(20),
    )
    await _incremental_equals_full(pool)
    assert (await pool.fetchval(
        "SELECT realized_pnl FROM orderflow_wallet_stats WHERE wallet_address = $1", wallet(10)
    )) == Decimal("0.000000")  # fmt: skip
    # a reorg: a resolution gone (the market open again), every fill of a scored wallet gone
    await pool.execute("DELETE FROM orderflow_market_outcomes WHERE market_id = $1", market(1))
    await pool.execute("DELETE FROM orderflow_trades WHERE wallet_address = $1", wallet(3))
    await _incremental_equals_full(pool)
    row = await pool.fetchrow(
        "SELECT resolved_positions, open_positions FROM orderflow_wallet_stats"
        " WHERE wallet_address = $1",
        wallet(2),
    )
    assert tuple(row) == (6, 1)
