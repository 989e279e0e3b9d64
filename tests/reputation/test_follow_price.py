"""A decision should be valued from the price a follower would pay: the first print of the token
by another wallet once the follower's order can reach the market, within its order's life
(docs/reputation.md "A third independent population", "Stale-quote pickers reach WHALE": tried
three times, measured, not kept; the third try's code is commit 823cbf9 on main,
reverted by the commit after it).

A stale-quote picker buys seconds after the price stepped up 4 cents, at the old price plus half
a cent (a maker's quote not yet pulled); the next prints are at the new price, which is where the
market closes: a follower, who buys at the new price, gets nothing, so the picker's edge is 0.
A wallet that bought before the market moved (the next prints at its own price, the step an
hour later) keeps its edge. Built as raw chain logs and scored by the real run; the replay reads
the same. Today the picker is credited +0.086 a dollar, its fill's own price against the close
(strict xfails, as is a picker picking twice: its own later print is no follower's market). The
controls pass today (no follow price at all) and bite a rule that reads a fill of no shares
(stored at price 0), a print inside the follower's latency or one after its window.
"""

from __future__ import annotations

import asyncpg
import pytest

from orderflow.reputation import run_reputation
from tests.reputation.population import DAY, World
from tests.reputation.test_cases import background
from tests.reputation.test_close_line import HOUR, _closes, _replayed
from tests.reputation.test_incremental_run import close, persisted

_AFTER = (40.0, 60.0, 80.0)  # three others' prints at 0.44, this long after the step


def _world(
    *, after: tuple[float, ...] = _AFTER, own: float | None = None
) -> tuple[World, str, str]:
    """Twelve markets: an early buyer at 0.40 a day in, the price stepping to 0.44 an hour
    later, the picker 10 s after the step at 0.405, (``own``) a second pick of its own 10 s
    later at that price, then three others at 0.44 ``after`` seconds from the step (default:
    30-70 s after the pick); the close at 0.44."""
    w = World(seed=97)
    background(w, wallets=10, events=20)
    picker, early = w.new_wallet(), w.new_wallet()
    for s in w.pick(12, binary_only=True):
        side = s.winner
        first = s.opens + 60.0
        closes = _closes(w, s, first)
        w.take(s, first, w.new_wallet(), side, 20.0, price=0.40)
        # the early buyer at 0.40, the market still at 0.40 a minute later
        t0 = first + DAY
        w.take(s, t0, early, side, 100.0, price=0.40)
        for k in range(3):
            w.take(s, t0 + 30.0 + 20.0 * k, w.new_wallet(), side, 20.0, price=0.40)
        # an hour later the price steps to 0.44 (three wallets), the picker buys 10 s after at
        # 0.405 and the market trades on at 0.44
        step = t0 + HOUR
        for k in range(3):
            w.take(s, step + k, w.new_wallet(), side, 20.0, price=0.44)
        w.take(s, step + 10.0, picker, side, 100.0, price=0.405)
        if own is not None:
            w.take(s, step + 20.0, picker, side, 100.0, price=own)
        for dt in after:
            w.take(s, step + dt, w.new_wallet(), side, 20.0, price=0.44)
        # the close at 0.44: eight takers in the line's last hours
        for k in range(8):
            w.take(s, closes - 5 * HOUR + 1800.0 * k, w.new_wallet(), side, 30.0, price=0.44)
    return w, picker, early


async def _edge(pool: asyncpg.Pool, who: str) -> float:
    """The wallet's closing-line edge, the run's, checked against its replay."""
    edge, replayed = await _replayed(pool, who)
    assert replayed == pytest.approx(edge, abs=1e-6), who
    return float(edge)


@pytest.mark.xfail(
    strict=True,
    reason="a decision is valued from its own fill price: the stale pick reads +0.086 a dollar",
)
async def test_a_stale_pick_earns_a_follower_nothing_an_early_buy_keeps_its_edge(
    pool: asyncpg.Pool,
) -> None:
    w, picker, early = _world()
    await w.finish(pool)
    await run_reputation(pool)
    assert await _edge(pool, picker) == pytest.approx(0.0, abs=1e-6)
    assert await _edge(pool, early) == pytest.approx((0.44 - 0.40) / 0.40, abs=1e-6)


@pytest.mark.xfail(
    strict=True, reason="no follow price: the two picks read +0.0798 a dollar against the close"
)
async def test_the_wallets_own_prints_are_no_follow_price(pool: asyncpg.Pool) -> None:
    """The picker picks again 10 s after its first pick, at 0.41: the first print of the token
    after the follower's latency is its own, and the first by another wallet (0.44, 30 s after
    the first pick) is the follow price of both picks: 0 a dollar. Fails today (no follow
    price: "assert 0.07979522749153684 == 0.0"), and failed on 823cbf9 with the wallet's own
    print read as a print ("assert 0.03551825445422694 == 0.0")."""
    w, picker, _ = _world(own=0.41)
    await w.finish(pool)
    await run_reputation(pool)
    assert await _edge(pool, picker) == pytest.approx(0.0, abs=1e-6)


async def test_prints_inside_the_latency_or_after_the_window_are_no_follow_price(
    pool: asyncpg.Pool,
) -> None:
    """Others print 0.44 2 s after the pick (before the follower's order can reach the market:
    follow_latency_secs 8 s) and 320 s after it (past follow_window_secs, 300 s from then; the
    chain's blocks are 2 s apart, so 309 s can be stamped 308 s, inside it): no
    print follows within the window, so the pick keeps its own price, +0.086 a dollar against
    the close. A control (no follow price today: it passes); on 823cbf9 it failed with the
    window widened and with a latency of 1 s ("assert 0.0 == 0.0864...")."""
    w, picker, _ = _world(after=(12.0, 330.0))
    await w.finish(pool)
    await run_reputation(pool)
    assert await _edge(pool, picker) == pytest.approx((0.44 - 0.405) / 0.405, abs=1e-6)


# A fill of no shares and no collateral (stored at price 0) by another wallet 2 s after each of
# $1's taker fills and 8 s after it (the follower's latency): no print, so no follow price.
_NO_SHARES = """
INSERT INTO orderflow_trades (chain_id, tx_hash, log_index, block_number, block_hash, timestamp,
       exchange, exchange_version, order_hash, wallet_address, taker_address, is_taker_aggregate,
       side, token_id, market_id, outcome_index, price, size, usdc_size, fee, fee_asset)
SELECT chain_id, '0x' || md5(tx_hash || k::text) || md5(k::text || tx_hash),
       log_index + 10000 + k, block_number, block_hash,
       timestamp + make_interval(secs => 2 + 6 * k), exchange, exchange_version, order_hash, $2,
       taker_address, TRUE, 'BUY', token_id, market_id, outcome_index, 0, 0, 0, 0, fee_asset
  FROM orderflow_trades CROSS JOIN (VALUES (0), (1)) AS v(k)
 WHERE wallet_address = $1 AND is_taker_aggregate
"""


async def test_a_fill_of_no_shares_is_no_follow_price(pool: asyncpg.Pool) -> None:
    """Without the later prints the pick reads its own price against the close (+0.086 a dollar);
    fills of no shares by another wallet inside the follower's window change nothing. (Read as a
    price of 0 -- follow_price without line_sql.PRINT, commit e640f3f -- the picks cost a
    follower nothing: the run's closing-line edge None, the replay's nan.)"""
    w, picker, _ = _world(after=())
    await w.finish(pool)
    await pool.execute(_NO_SHARES, picker, w.new_wallet())
    await run_reputation(pool)
    assert await _edge(pool, picker) == pytest.approx((0.44 - 0.405) / 0.405, abs=1e-6)


# Copies of the step's prints in $1's tokens (the rows of every transaction with a print there
# 7-10 s before one of $1's taker fills), 40 s later: the prints after the pick, stored late.
_LATE_PRINTS = """
INSERT INTO orderflow_trades (chain_id, tx_hash, log_index, block_number, block_hash, timestamp,
       exchange, exchange_version, order_hash, wallet_address, taker_address, is_taker_aggregate,
       side, token_id, market_id, outcome_index, price, size, usdc_size, fee, fee_asset)
SELECT x.chain_id, '0x' || md5(x.tx_hash) || md5(x.tx_hash || 'late'), x.log_index + 20000,
       x.block_number, x.block_hash, x.timestamp + interval '40 seconds', x.exchange,
       x.exchange_version, x.order_hash, x.wallet_address, x.taker_address, x.is_taker_aggregate,
       x.side, x.token_id, x.market_id, x.outcome_index, x.price, x.size, x.usdc_size, x.fee,
       x.fee_asset
  FROM orderflow_trades x
 WHERE x.tx_hash IN (SELECT s.tx_hash FROM orderflow_trades p JOIN orderflow_trades s
                        ON s.token_id = p.token_id
                       AND s.timestamp BETWEEN p.timestamp - interval '10 seconds'
                                           AND p.timestamp - interval '7 seconds'
                     WHERE p.wallet_address = $1 AND p.is_taker_aggregate)
"""


@pytest.mark.xfail(
    strict=True,
    reason="no follow price: after the late prints the pick still reads +0.086 a dollar",
)
async def test_prints_stored_after_a_run_move_the_follow_price_incrementally(
    pool: asyncpg.Pool,
) -> None:
    """The prints after the picks arrive after a first run (a node behind, a back-fill): the
    incremental run rescores the picker (its markets resolved long ago) and equals a full one."""
    w, picker, _ = _world(after=())
    await w.finish(pool)
    assert not (await run_reputation(pool)).incremental
    assert await _edge(pool, picker) == pytest.approx((0.44 - 0.405) / 0.405, abs=1e-6)
    assert (await pool.execute(_LATE_PRINTS, picker)).split()[-1] != "0"
    assert (await run_reputation(pool)).incremental
    assert await _edge(pool, picker) == pytest.approx(0.0, abs=1e-6)
    incremental = await persisted(pool)
    assert not (await run_reputation(pool, full=True)).incremental
    close(await persisted(pool), incremental)
