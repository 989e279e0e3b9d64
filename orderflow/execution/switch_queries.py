"""The execution stage's SQL for the cancel switches (:mod:`orderflow.execution.cancel_switches`):
the orders a kill, a pause, a leader's exit or a failed buy leaves to cancel, and the strategies
that have such orders."""

from __future__ import annotations

from collections.abc import Mapping

import asyncpg

from orderflow.execution.exit_queries import LEADER_LEFT, SIGNAL_TRIGGER, TRIGGER_COMPLEMENT
from orderflow.execution.order_queries import ORDER_ROWS

# While a strategy's row says it is killed (a deletion is one; no row: the executor's word
# stands) / paused, or still at the generation ($3) whose settings did not validate, and not
# killed (its entries only: a halt stops new exposure, its exits stay).
_KILLED = """NOT EXISTS (SELECT 1 FROM orderflow_strategies s WHERE s.name = $2
                                AND NOT s.killed AND s.deleted_at IS NULL)"""
_PAUSED = """o.side = 'BUY' AND EXISTS (SELECT 1 FROM orderflow_strategies s WHERE s.name = $2
                                          AND (s.paused OR s.generation = $3::bigint)
                                          AND NOT s.killed AND s.deleted_at IS NULL)"""


async def _switched_orders_in(
    conn: asyncpg.Connection,
    statuses: list[str],
    strategy: str,
    switched: str,
    *args: object,
) -> list[asyncpg.Record]:
    """The strategy's orders in ``statuses`` while its row says ``switched``, none once the
    switch is lifted: a switch still at work (an order the exchange refuses to cancel keeps it
    going) must not cancel what the strategy places after an unkill, a resume or its settings
    fixed. One statement: an order placed after the lift is never read while the row still
    says on. ``args``: the switch's own parameters, from ``$3``."""
    return list(
        await conn.fetch(
            ORDER_ROWS + " WHERE o.status = ANY($1::text[]) AND o.strategy = $2"
            f" AND {switched} ORDER BY o.id",
            statuses,
            strategy,
            *args,
        )
    )


async def killed_orders_in(
    conn: asyncpg.Connection, statuses: list[str], strategy: str
) -> list[asyncpg.Record]:
    """The strategy's orders in ``statuses`` while it is killed (:func:`_switched_orders_in`)."""
    return await _switched_orders_in(conn, statuses, strategy, _KILLED)


async def paused_entries_in(
    conn: asyncpg.Connection, statuses: list[str], strategy: str, invalid_at: int | None = None
) -> list[asyncpg.Record]:
    """The strategy's BUY orders in ``statuses`` while it is paused, or its row still at
    generation ``invalid_at`` (the executor found its settings invalid there: halted as by a
    pause), and not killed (a kill cancels them itself: :func:`_switched_orders_in`)."""
    return await _switched_orders_in(conn, statuses, strategy, _PAUSED, invalid_at)


# A BUY entry (resting or in doubt, paper or live) whose leader has left the token since the buy
# it followed: a SELL of the token, or a BUY of its complement, by the signal's wallet after the
# triggering trade on the chain (orderflow.signals.market_queries.left_since).
_LEFT_BEHIND = (
    ORDER_ROWS
    + f"""
 WHERE o.status IN ('INTENT', 'OPEN') AND o.side = 'BUY'
   AND s.signal_type = 'FOLLOW_WHALE' AND ($1::text IS NULL OR o.strategy = $1)
   AND EXISTS (
       SELECT 1 FROM orderflow_trades trig{TRIGGER_COMPLEMENT}
         JOIN orderflow_trades t ON {LEADER_LEFT}
        WHERE {SIGNAL_TRIGGER})
 ORDER BY o.id
"""
)


async def left_behind(conn: asyncpg.Connection, strategy: str | None) -> list[asyncpg.Record]:
    """BUY orders, resting or in doubt (paper orders rest too), that followed a leader who has sold
    the token since: they are cancelled (``leader_exited``)."""
    return list(await conn.fetch(_LEFT_BEHIND, strategy))


# A SELL (an exit), resting or in doubt, for more shares than the strategy holds in its token and
# mode: the buy it sells failed on chain after the exit was taken (its shares never came:
# trade_status reverses the fill, the position holds less or nothing), so it would sell shares
# the wallet does not have (tests/execution/test_exit_trade_failed.py).
_UNHELD_EXITS = (
    ORDER_ROWS
    + """
 WHERE o.status IN ('INTENT', 'OPEN') AND o.side = 'SELL' AND ($1::text IS NULL OR o.strategy = $1)
   AND o.shares - o.filled_shares > COALESCE(
       (SELECT sum(p.shares) FROM orderflow_positions p
         WHERE p.strategy = o.strategy AND p.token_id = o.token_id AND p.status = 'OPEN'
           AND COALESCE(p.mode, o.mode) = o.mode), 0)
 ORDER BY o.id
"""
)


async def unheld_exits(conn: asyncpg.Connection, strategy: str | None) -> list[asyncpg.Record]:
    """SELL orders, resting or in doubt, for more than their position holds now (its buy
    failed on chain): they are cancelled (``trade_failed``); an exit of what is left is due."""
    return list(await conn.fetch(_UNHELD_EXITS, strategy))


async def strategies_with_orders_to_cancel(conn: asyncpg.Connection) -> list[str]:
    """Strategies that are killed, deleted or gone but still have live orders."""
    rows = await conn.fetch(
        """
        SELECT DISTINCT o.strategy FROM orderflow_orders o
          LEFT JOIN orderflow_strategies s ON s.name = o.strategy
         WHERE o.status IN ('INTENT', 'OPEN')
           AND (s.name IS NULL OR s.killed OR s.deleted_at IS NOT NULL)
        """
    )
    return [str(r["strategy"]) for r in rows]


async def strategies_with_entries_to_pause(
    conn: asyncpg.Connection, invalid: Mapping[str, int]
) -> list[str]:
    """Strategies that are paused, or halted by invalid settings (``invalid``: the generation
    of each row found so, :func:`paused_entries_in`), not killed, but still have live BUY
    orders."""
    rows = await conn.fetch(
        """
        SELECT DISTINCT o.strategy FROM orderflow_orders o
          JOIN orderflow_strategies s ON s.name = o.strategy
          LEFT JOIN unnest($1::text[], $2::bigint[]) AS h(name, generation)
                 ON h.name = s.name AND h.generation = s.generation
         WHERE o.status IN ('INTENT', 'OPEN') AND o.side = 'BUY'
           AND (s.paused OR h.name IS NOT NULL) AND NOT s.killed AND s.deleted_at IS NULL
        """,
        list(invalid),
        list(invalid.values()),
    )
    return [str(r["strategy"]) for r in rows]
