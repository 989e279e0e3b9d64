"""The mark of an open position in ``orderflow wallet``'s report is the score's: one rule
(``line_sql.line`` at the token's last print, ``line_sql.PRICED`` choosing that print), one
fragment for both (``wallet_sql.TOKEN_LAST_PRICES``, ``evidence_sql.CLOSES``), whatever the
token's last fill is. Control: a wash print at 1.00 after real levels, read by a median of three
takers and by the last print of two."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import asyncpg
import pytest

from orderflow.reputation import run_reputation
from orderflow.reputation.per_wallet import wallet_report
from tests.reputation.builders import Ledger, token, wallet

_MARK = "SELECT mark_price FROM orderflow_reputation_closes WHERE token_id = $1"


@pytest.mark.parametrize(("takers", "mark"), [(3, Decimal("0.45")), (2, Decimal("1.00"))])
async def test_a_print_at_one_after_real_levels(
    pool: asyncpg.Pool, takers: int, mark: Decimal
) -> None:
    led = Ledger()
    led.trade(1, "BUY", "100", "0.40", at=timedelta(hours=1), taker_aggregate=True)
    if takers == 3:
        led.trade(2, "BUY", "50", "0.45", at=timedelta(hours=2), taker_aggregate=True)
    # the token's last fill: 10 shares for 10 USDC
    led.trade(3, "BUY", "10", "1.00", at=timedelta(hours=3), taker_aggregate=True)
    await led.flush(pool)
    await run_reputation(pool)
    assert await pool.fetchval(_MARK, Decimal(token(1, 0))) == mark
    stats = await pool.fetchrow(
        "SELECT * FROM orderflow_wallet_stats WHERE wallet_address = $1", wallet(1)
    )
    assert stats is not None
    async with pool.acquire() as conn:
        report = await wallet_report(conn, wallet(1), stats=dict(stats))
    (tp,) = report.positions
    assert tp.last_price == mark
    assert report.unrealized_pnl == stats["unrealized_pnl"] == 100 * mark - 40
