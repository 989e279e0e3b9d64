"""The mark of an open position in ``orderflow wallet``'s report is the score's: one rule
(``line_sql.line`` at the token's last print, ``line_sql.PRICED`` choosing that print), one
fragment for both (``wallet_sql.TOKEN_LAST_PRICES``, ``evidence_sql.CLOSES``), whatever the
token's last fill is. A fill printed at 1.00 (or 0) is no level (``line_sql.PRICED``: a price
strictly inside (0, 1), as the executor's and the backtest's quotes have it): after real levels
it marks nothing and closes nothing, the last level does. Until 7 Dec 2026 a print at 1.00 after
a level of one other taker marked the position (and closed the line) at 1.00."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import asyncpg
import pytest

from orderflow.reputation import run_reputation, wallet_sql
from orderflow.reputation.per_wallet import wallet_report
from tests.reputation.builders import T0, Ledger, token, wallet

_MARK = "SELECT mark_price FROM orderflow_reputation_closes WHERE token_id = $1"
_LINE = "SELECT close_price, close_at FROM orderflow_reputation_closes WHERE token_id = $1"


def _levels_then_one(takers: int, last: str = "1.00") -> Ledger:
    """Wallet 1's taker buy at 0.40 (1 hour in), with ``takers`` 3 another's at 0.45 (2 hours),
    then a print at ``last`` (3 hours: the token's last fill)."""
    led = Ledger()
    led.trade(1, "BUY", "100", "0.40", at=timedelta(hours=1), taker_aggregate=True)
    if takers == 3:
        led.trade(2, "BUY", "50", "0.45", at=timedelta(hours=2), taker_aggregate=True)
    shares = "10" if last != "0" else "1000"  # a print at 0: shares for (almost) nothing
    led.trade(3, "BUY", shares, last, at=timedelta(hours=3), taker_aggregate=True)
    return led


@pytest.mark.parametrize(
    ("takers", "last", "mark"),
    [
        (3, "1.00", Decimal("0.45")),
        (2, "1.00", Decimal("0.40")),
        (2, "0.999", Decimal("0.999")),  # a level (tick 0.001): the line of two takers
    ],
)
async def test_a_print_at_one_after_real_levels(
    pool: asyncpg.Pool, takers: int, last: str, mark: Decimal
) -> None:
    await _levels_then_one(takers, last).flush(pool)
    await run_reputation(pool)
    assert await pool.fetchval(_MARK, Decimal(token(1, 0))) == mark
    stats = await pool.fetchrow(
        "SELECT s.* FROM orderflow_wallet_stats w CROSS JOIN LATERAL orderflow_wallet_read(w) s"
        " WHERE w.wallet_address = $1",
        wallet(1),
    )
    assert stats is not None
    async with pool.acquire() as conn:
        report = await wallet_report(conn, wallet(1), stats=dict(stats))
    (tp,) = report.positions
    assert tp.last_price == mark
    assert report.unrealized_pnl == stats["unrealized_pnl"] == 100 * mark - 40


async def test_a_closing_line_after_real_levels(pool: asyncpg.Pool) -> None:
    """A resolved token whose last fill before its close is a print at 1.00: its closing line and
    closing time are the last level's (0.40, 1 hour in), in the score and in the report's read
    (wallet_sql.TOKEN_CLOSES)."""
    led = _levels_then_one(2)
    led.resolve(1, ["1", "0"], at=timedelta(hours=30))  # closes 0.8 of the way: hour 24.2
    await led.flush(pool)
    await run_reputation(pool)
    row = await pool.fetchrow(_LINE, Decimal(token(1, 0)))
    assert row is not None
    assert (row["close_price"], row["close_at"]) == (0.40, T0 + timedelta(hours=1))
    # the report's read of the token's line (per_wallet.wallet_report's, for every holder)
    resolved = T0 + timedelta(hours=30)
    line = await pool.fetchrow(
        wallet_sql.TOKEN_CLOSES, datetime.now(UTC), [Decimal(token(1, 0))], [resolved], 0.8
    )
    assert line is not None
    assert (line["close_price"], line["close_at"]) == (0.40, T0 + timedelta(hours=1))
