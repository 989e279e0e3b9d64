"""The execution stage's SQL for orders: intents, status changes, what to reconcile or cancel,
and the live orders that count in a strategy's exposure."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import datetime
from decimal import Decimal

import asyncpg

from orderflow.execution.broker import OrderOutcome, PreparedOrder
from orderflow.execution.exit_queries import LEADER_LEFT, SIGNAL_TRIGGER, TRIGGER_COMPLEMENT
from orderflow.execution.leader import EXECUTOR_LOCK_KEY
from orderflow.execution.position_queries import mark_price, order_may_fill

# --------------------------------------------------------------------------------------------


async def insert_order_intent(
    conn: asyncpg.Connection,
    *,
    signal_id: int,
    mode: str,
    order: PreparedOrder,
    traceparent: str | None,
) -> int | None:
    """Store an order's intent, only while its signal is PENDING (None: the signal was closed
    meanwhile — another leader found it without an order: see :func:`close_orphans`). The
    signal's row is locked first, so the two never both go ahead."""
    req = order.request
    async with conn.transaction():
        status = await conn.fetchval(
            "SELECT status FROM orderflow_signals WHERE id = $1 FOR UPDATE", signal_id
        )
        if status != "PENDING":
            return None
        return int(
            await conn.fetchval(
                """
                INSERT INTO orderflow_orders (strategy, signal_id, mode, client_order_id,
                    candidate_order_ids, token_id, market_id, side, price, shares, signed_order,
                    traceparent, fee_rate, fee_exponent)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
                RETURNING id
                """,
                req.strategy,
                signal_id,
                mode,
                order.client_order_id,
                list(order.candidate_order_ids),
                Decimal(req.token_id),
                req.market_id,
                req.side,
                req.price,
                req.shares,
                order.signed,
                traceparent,
                req.fee_rate,
                req.fee_exponent,
            )
        )


async def update_order(
    conn: asyncpg.Connection, order_id: int, outcome: OrderOutcome, *, sent: bool
) -> None:
    await conn.execute(
        """
        UPDATE orderflow_orders SET
            status = $2,
            exchange_order_id = COALESCE($3, exchange_order_id),
            status_reason = $4,
            filled_shares = GREATEST(filled_shares, $5),
            sent_at = CASE WHEN $6 THEN COALESCE(sent_at, clock_timestamp()) ELSE sent_at END,
            may_take = $7,
            matched_shares = LEAST(shares, GREATEST(matched_shares, $8)),
            updated_at = clock_timestamp()
        WHERE id = $1
        """,
        order_id,
        outcome.status,
        outcome.exchange_order_id,
        outcome.reason,
        outcome.filled_shares,
        sent,
        outcome.may_take,
        outcome.matched_shares,
    )


async def note_cancels_refused(conn: asyncpg.Connection, why: Mapping[int, str]) -> None:
    """The exchange refused the cancels of these live orders (by row id, with why): one more
    refusal each, for ``orderflow strategy status`` (migration 054) and the TradingStrategy's
    status (the first refusal's time, migration 062). Closed orders are left."""
    await conn.execute(
        """
        UPDATE orderflow_orders o
           SET cancel_refusals = o.cancel_refusals + 1, cancel_refused_at = clock_timestamp(),
               cancel_refused_since = coalesce(o.cancel_refused_since, clock_timestamp()),
               cancel_refused_why = r.why
          FROM unnest($1::bigint[], $2::text[]) AS r (id, why)
         WHERE o.id = r.id AND o.status IN ('INTENT', 'OPEN')
        """,
        list(why),
        list(why.values()),
    )


async def abandon_order(conn: asyncpg.Connection, order_id: int, reason: str) -> None:
    await conn.execute(
        "UPDATE orderflow_orders SET status = 'ABANDONED', status_reason = $2,"
        " updated_at = clock_timestamp() WHERE id = $1",
        order_id,
        reason,
    )


# An order with its signal's outcome and status, and whether its strategy is killed, deleted or
# gone (``strategy_stopped``: the kill switch cancels its orders) or paused (``strategy_paused``:
# the pause switch cancels its entries), and its row's generation (``strategy_generation``: the
# pause switch cancels the entries of one whose settings were found invalid at it).
_ORDER = """
SELECT o.*, s.outcome_index, s.status AS signal_status,
       COALESCE(st.killed OR st.deleted_at IS NOT NULL, true) AS strategy_stopped,
       COALESCE(st.paused, false) AS strategy_paused, st.generation AS strategy_generation
  FROM orderflow_orders o JOIN orderflow_signals s ON s.id = o.signal_id
  LEFT JOIN orderflow_strategies st ON st.name = o.strategy
"""


async def orders_in(
    conn: asyncpg.Connection, statuses: list[str], strategy: str | None = None
) -> list[asyncpg.Record]:
    return list(
        await conn.fetch(
            _ORDER + " WHERE o.status = ANY($1::text[]) AND ($2::text IS NULL OR o.strategy = $2)"
            " ORDER BY o.id",
            statuses,
            strategy,
        )
    )


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
            _ORDER + " WHERE o.status = ANY($1::text[]) AND o.strategy = $2"
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


async def orders_to_reconcile(
    conn: asyncpg.Connection, now: datetime, strategy: str | None = None
) -> list[asyncpg.Record]:
    """Open and intended orders, plus orders cancelled without their full size filled whose late
    fills may still be listed (a fill that happened before the cancel may reach the trades after
    it: :func:`~orderflow.execution.position_queries.order_may_fill`, ``now`` the executor's
    clock)."""
    return list(
        await conn.fetch(
            _ORDER + f" WHERE {order_may_fill('o', '$1')}"
            " AND ($2::text IS NULL OR o.strategy = $2) ORDER BY o.id",
            now,
            strategy,
        )
    )


async def booked_fill_keys(conn: asyncpg.Connection, order_id: int) -> set[str]:
    """The exchange trade ids already booked for an order (a key may join several)."""
    rows = await conn.fetch("SELECT fill_key FROM orderflow_fills WHERE order_id = $1", order_id)
    return {key for r in rows for key in str(r["fill_key"]).split(",")}


async def live_orders(conn: asyncpg.Connection, strategy: str) -> list[asyncpg.Record]:
    """The strategy's orders that may still trade (resting, or sent and in doubt), in no order:
    the remaining size and the token's market and latest price (they count in its exposure), the
    wallet and type of the signal each followed, the taker fee schedule it carries and whether the
    exchange holds its matching (a BUY that may still take reserves its fee:
    :func:`~orderflow.execution.book.fee_reserved`), and what a
    trader reads of them (``orderflow strategy status``: status, size, filled, age, the signed
    order and so its expiry, the cancels the exchange refused)."""
    return list(
        await conn.fetch(
            f"""
            SELECT o.id, o.token_id, COALESCE(o.market_id, tok.condition_id) AS market_id,
                   o.side, o.price, o.shares, o.filled_shares,
                   o.shares - o.filled_shares AS remaining, o.status, o.mode, o.created_at,
                   o.signed_order, o.cancel_refusals, o.cancel_refused_at, o.cancel_refused_why,
                   o.cancel_refused_since, o.fee_rate, o.fee_exponent, o.may_take,
                   {mark_price("o.token_id")} AS last_price,
                   s.wallet_address AS leader, s.signal_type
              FROM orderflow_orders o
              JOIN orderflow_signals s ON s.id = o.signal_id
              LEFT JOIN orderflow_tokens tok ON tok.token_id = o.token_id
             WHERE o.strategy = $1 AND o.status IN ('INTENT', 'OPEN')
            """,
            strategy,
        )
    )


async def matched_unlisted(
    conn: asyncpg.Connection, strategy: str, now: datetime
) -> list[asyncpg.Record]:
    """The strategy's orders closed at the exchange with more of them matched (its order
    endpoint's ``size_matched``, migration 089) than the account's trades have listed yet, while
    their late fills are still asked for (:func:`~orderflow.execution.position_queries.
    order_may_fill`, ``now`` the executor's clock): ``remaining`` is what matched beyond the
    booked fills — a BUY's, shares held at the exchange that no position counts yet; a SELL's,
    shares its position still counts that the exchange has sold."""
    return list(
        await conn.fetch(
            f"""
            SELECT o.token_id, COALESCE(o.market_id, tok.condition_id) AS market_id, o.price,
                   o.side, o.mode, o.matched_shares - o.filled_shares AS remaining,
                   {mark_price("o.token_id")} AS last_price
              FROM orderflow_orders o
              LEFT JOIN orderflow_tokens tok ON tok.token_id = o.token_id
             WHERE o.strategy = $1 AND o.status IN ('CANCELED', 'ABANDONED')
               AND o.matched_shares > o.filled_shares AND {order_may_fill("o", "$2")}
            """,
            strategy,
            now,
        )
    )


# A BUY entry (resting or in doubt, paper or live) whose leader has left the token since the buy
# it followed: a SELL of the token, or a BUY of its complement, by the signal's wallet after the
# triggering trade on the chain (orderflow.signals.market_queries.left_since).
_LEFT_BEHIND = (
    _ORDER
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
    _ORDER
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


async def order_row(conn: asyncpg.Connection, order_id: int) -> asyncpg.Record:
    row: asyncpg.Record = await conn.fetchrow(_ORDER + " WHERE o.id = $1", order_id)
    return row


async def order_rows(conn: asyncpg.Connection, order_ids: list[int]) -> dict[int, asyncpg.Record]:
    """Several orders' rows in one round trip, by id."""
    rows = await conn.fetch(_ORDER + " WHERE o.id = ANY($1::bigint[])", order_ids)
    return {int(r["id"]): r for r in rows}


# Accepted signals without an order intent, but those this executor's worker holds ($1), as
# long as the trading lock's session ($2) holds the trading lock ($3, a bigint advisory lock:
# pg_locks shows its high and low 32 bits as classid and objid, objsubid 1): a leader that lost
# it, and has not noticed yet, does not close the new leader's signals.
_ORPHANS = """
SELECT s.id FROM orderflow_signals s
 WHERE s.status = 'PENDING' AND NOT (s.id = ANY($1::bigint[]))
   AND NOT EXISTS (SELECT 1 FROM orderflow_orders o WHERE o.signal_id = s.id)
   AND EXISTS (SELECT 1 FROM pg_locks l
                WHERE l.locktype = 'advisory' AND l.pid = $2 AND l.granted
                  AND l.objsubid = 1 AND l.classid = ($3::bigint >> 32)::oid
                  AND l.objid = ($3::bigint & 4294967295)::oid)
 ORDER BY s.id
   FOR UPDATE OF s
"""


async def close_orphans(
    conn: asyncpg.Connection,
    held: Collection[int],
    leader_pid: int,
    reason: str,
    lock_key: int = EXECUTOR_LOCK_KEY,
) -> list[int]:
    """SKIP accepted signals whose order intent was never stored (the process, or a leader that
    lost the trading lock, stopped in between), but those in ``held`` (on their way here).

    Their rows are locked first, then checked again for an intent by a statement that sees
    every intent committed before the locks were taken: an old leader storing one meanwhile
    (:func:`insert_order_intent` locks the signal too) either got there first — the signal keeps
    its order — or finds the signal closed and sends nothing."""
    async with conn.transaction():
        locked = [
            int(r["id"]) for r in await conn.fetch(_ORPHANS, list(held), leader_pid, lock_key)
        ]
        if not locked:
            return []
        rows = await conn.fetch(
            """
            UPDATE orderflow_signals s SET status = 'SKIPPED', reason = $2,
                   decided_at = COALESCE(decided_at, clock_timestamp())
             WHERE s.id = ANY($1::bigint[]) AND s.status = 'PENDING'
               AND NOT EXISTS (SELECT 1 FROM orderflow_orders o WHERE o.signal_id = s.id)
            RETURNING s.id
            """,
            locked,
            reason,
        )
    return sorted(int(r["id"]) for r in rows)
