"""The trigger of an entry is found in the partitions from its time on, not in every one.

An exit looks up the buy its position followed (``exit_queries.SIGNAL_TRIGGER``: the leader's buy
of the token in the signal's transaction, whatever its log index after a reorg). The probe was by
transaction hash alone: ``orderflow_trades`` is partitioned by block (30 days each, migration 012),
so every partition was probed, from the first month of history on, for the sells a batch
checks (``exit_signals.sells_before_entries``) — a year of history, a dozen probes, twice. The
signal keeps the trigger's time (``trade_time``): the partitions before the earliest of the held
positions' triggers (less ``exit_queries.TRIGGER_REORG_MARGIN``, as a reorg stores the
transaction again in another block) are pruned. Checked on the executed plan (``EXPLAIN ANALYZE``).
"""

from __future__ import annotations

from decimal import Decimal

import asyncpg
import pytest

from orderflow.execution import exit_signals
from tests.scale.partition_data import FIRST, PER_PARTITION, at_fill, layout, live, months, scanned

TRIGGER = 170  # the layout's fill 170: wallet aa buys token 1, in month 4 (its 11th fill)
SELL = 500  # a fill index out of the layout's: the leader's sale, in month 5


async def _entry(conn: asyncpg.Connection) -> int:
    """Strategy alpha's open position, following fill TRIGGER; the leader's sale stored after it
    (its id)."""
    signal = await conn.fetchval(
        "INSERT INTO orderflow_signals (strategy, signal_type, status, chain_id, tx_hash,"
        " log_index, wallet_address, token_id, side, trigger_price, trade_time)"
        " SELECT 'alpha', 'FOLLOW_WHALE', 'EXECUTED', 137, tx_hash, log_index, wallet_address,"
        " token_id, side, price, timestamp FROM orderflow_trades"
        " WHERE tx_hash = '0x' || lpad(to_hex($1::int), 64, '0') RETURNING id",
        TRIGGER,
    )
    await conn.execute(
        "INSERT INTO orderflow_positions (strategy, signal_id, token_id, shares, cost_basis)"
        " VALUES ('alpha', $1, 1, 10, 5)",
        signal,
    )
    await live(conn, SELL, 1, FIRST + 5 * PER_PARTITION + 10, at=200, wallet="aa")
    return int(
        await conn.fetchval(
            "SELECT id FROM orderflow_trades"
            " WHERE tx_hash = '0x' || lpad(to_hex($1::int), 64, '0')",
            SELL,
        )
    )


@pytest.mark.asyncio
async def test_a_sells_trigger_is_probed_from_its_month_on(dsn: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await layout(conn, months=6)
        sell = await _entry(conn)
        args = ("alpha", [sell], [FIRST + 5 * PER_PARTITION + 10], [Decimal(1)])
        assert await conn.fetch(exit_signals._BEFORE_ENTRY, *args) == []  # after the trigger
        touched = await scanned(conn, exit_signals._BEFORE_ENTRY, *args)
        assert touched == months(4, 5), f"the trigger was probed in {sorted(touched)}"
        # a sale before the trigger (month 3) is none of its exits: the rule, bounded all the same
        await live(conn, SELL + 1, 1, FIRST + 3 * PER_PARTITION + 10, at=100, wallet="aa")
        early = await conn.fetchval(
            "SELECT id FROM orderflow_trades WHERE block_number = $1",
            FIRST + 3 * PER_PARTITION + 10,
        )
        assert at_fill(100) < at_fill(TRIGGER)
        before = await conn.fetch(
            exit_signals._BEFORE_ENTRY,
            "alpha",
            [early, sell],
            [FIRST + 3 * PER_PARTITION + 10, FIRST + 5 * PER_PARTITION + 10],
            [Decimal(1), Decimal(1)],
        )
        assert [r["id"] for r in before] == [early]
    finally:
        await conn.close()
