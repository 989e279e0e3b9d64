"""A fill of no shares (``size = 0``) or no collateral (``usdc_size = 0``) is no print: its price
is 0 or meaningless, so it sets no mark and no closing line, in the run and in the per-wallet
replay. Its shares and collateral are still summed (they add zero)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import asyncpg

from orderflow.reputation import run_reputation
from orderflow.reputation.per_wallet import wallet_report
from tests.reputation.builders import Ledger, token, wallet
from tests.reputation.population import noise_taker
from tests.reputation.test_cases import stats
from tests.reputation.test_copiers import _world
from tests.reputation.test_incremental_run import close, persisted

# ``$2``'s buy ahead of each of ``$1``'s taker buys, 20 s before: 100 shares for no collateral.
_FREE_COPIES = """
INSERT INTO orderflow_trades (chain_id, tx_hash, log_index, block_number, block_hash, timestamp,
       exchange, exchange_version, order_hash, wallet_address, taker_address, is_taker_aggregate,
       side, token_id, market_id, outcome_index, price, size, usdc_size, fee, fee_asset)
SELECT chain_id, '0x' || lpad(to_hex(row_number() OVER ()), 64, 'f'), log_index, block_number - 1,
       block_hash, timestamp - interval '20 seconds', exchange, exchange_version, order_hash, $2,
       taker_address, TRUE, 'BUY', token_id, market_id, outcome_index, 0, 100, 0, 0, fee_asset
  FROM orderflow_trades
 WHERE wallet_address = $1 AND is_taker_aggregate AND side = 'BUY'
"""
_CLOSES = """
SELECT token_id, close_price, mark_price FROM orderflow_reputation_closes
 WHERE token_id = ANY($1::numeric[]) ORDER BY token_id
"""


def _zero_fills(led: Ledger, market_no: int, at: timedelta) -> None:
    """The last fills of the market's first token, as the listener stores them (price 0): one of
    no shares, one of shares for no collateral."""
    led.trade(3, "BUY", "0", "0", market_no=market_no, at=at, taker_aggregate=True)
    led.trade(3, "SELL", "10", "0", market_no=market_no, at=at + timedelta(minutes=1))


async def test_zero_share_fills_set_no_mark_and_no_closing_line(pool: asyncpg.Pool) -> None:
    led = Ledger()
    # market 1 stays open: its mark is the last real print, 0.45
    led.trade(1, "BUY", "100", "0.40", market_no=1, at=timedelta(hours=1), taker_aggregate=True)
    led.trade(2, "BUY", "50", "0.45", market_no=1, at=timedelta(hours=2), taker_aggregate=True)
    _zero_fills(led, 1, timedelta(hours=3))
    # market 2 resolves at 10 h (its line closes at 1 h + 0.8 * 9 h = 8.2 h): the line 0.55
    led.trade(1, "BUY", "100", "0.40", market_no=2, at=timedelta(hours=1), taker_aggregate=True)
    led.trade(2, "BUY", "50", "0.55", market_no=2, at=timedelta(hours=2), taker_aggregate=True)
    _zero_fills(led, 2, timedelta(hours=3))
    led.resolve(2, ["1", "0"], timedelta(hours=10))
    await led.flush(pool)
    await run_reputation(pool)
    rows = await pool.fetch(_CLOSES, [token(1, 0), token(2, 0)])
    assert [(r["close_price"], r["mark_price"]) for r in rows] == [
        (None, Decimal("0.45")),
        (0.55, None),
    ]
    # wallet 1's open 100 shares marked at 0.45: 45 - 40
    stats = await pool.fetchrow(
        "SELECT s.* FROM orderflow_wallet_stats w CROSS JOIN LATERAL orderflow_wallet_read(w) s"
        " WHERE w.wallet_address = $1",
        wallet(1),
    )
    assert stats is not None and stats["unrealized_pnl"] == Decimal(5)
    async with pool.acquire() as conn:
        report = await wallet_report(conn, wallet(1), stats=dict(stats))
    by_token = {tp.token_id: tp for tp in report.positions}
    assert by_token[token(1, 0)].last_price == Decimal("0.45")
    assert by_token[token(2, 0)].close == 0.55
    # wallet 3's fills are still its trades
    assert (
        await pool.fetchval(
            "SELECT total_trades FROM orderflow_wallet_stats WHERE wallet_address = $1", wallet(3)
        )
        == 4
    )
    # more of them after the run: an incremental run keeps the mark, as a full one does
    later = Ledger()
    _zero_fills(later, 1, timedelta(hours=4))
    await later.flush(pool)
    assert (await run_reputation(pool)).incremental
    assert await pool.fetch(_CLOSES, [token(1, 0), token(2, 0)]) == rows
    incremental = await persisted(pool)
    assert not (await run_reputation(pool, full=True)).incremental
    close(await persisted(pool), incremental)


async def test_buys_for_no_collateral_lead_nobody(pool: asyncpg.Pool) -> None:
    """A wallet's taker buys of shares for no collateral (price 0, no higher than anyone's) 20 s
    ahead of a skilled leader's in its 40 tokens: the leader does not trail it (its free buys
    are no buys the COPIER test can price) and keeps its flags."""
    w, leader, copier, _, _, _ = _world(seed=81)
    free = wallet(777_777)
    noise_taker(w, free, 30)
    await w.finish(pool)
    await pool.execute(_FREE_COPIES, leader, free)
    await run_reputation(pool)
    assert (await stats(pool, copier))["flags"] == ["COPIER"]  # the world's copier still is
    assert (await stats(pool, leader))["flags"] == []
