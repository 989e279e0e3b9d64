"""The execution stage's SQL for orders: intents, status changes, what to reconcile, and the live
orders that count in a strategy's exposure (what the cancel switches cancel: ``switch_queries``)."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import datetime
from decimal import Decimal

import asyncpg

from orderflow.execution.broker import OrderOutcome, PreparedOrder
from orderflow.execution.late_fill_queries import (
    closed_at,
    matched_unlisted_shares,
    order_may_fill,
)
from orderflow.execution.leader import EXECUTOR_LOCK_KEY
from orderflow.execution.position_queries import mark_price

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
    conn: asyncpg.Connection, order_id: int, outcome: OrderOutcome, *, sent: bool, now: datetime
) -> None:
    """Store an outcome; closed, the order's late-fill window starts at ``now``, the executor's
    clock (:func:`~orderflow.execution.late_fill_queries.closed_at`)."""
    await conn.execute(
        f"""
        UPDATE orderflow_orders SET
            status = $2,
            exchange_order_id = COALESCE($3, exchange_order_id),
            status_reason = $4,
            filled_shares = GREATEST(filled_shares, $5),
            sent_at = CASE WHEN $6 THEN COALESCE(sent_at, clock_timestamp()) ELSE sent_at END,
            may_take = $7,
            matched_shares = LEAST(shares, GREATEST(matched_shares, $8)),
            updated_at = clock_timestamp(), {closed_at("$2", "$9")}
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
        now,
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


_ABANDONED_AT = closed_at("'ABANDONED'", "$3")


async def abandon_order(
    conn: asyncpg.Connection, order_id: int, reason: str, now: datetime
) -> None:
    """Close an order ABANDONED at ``now``, the executor's clock."""
    await conn.execute(
        "UPDATE orderflow_orders SET status = 'ABANDONED', status_reason = $2,"
        f" updated_at = clock_timestamp(), {_ABANDONED_AT} WHERE id = $1",
        order_id,
        reason,
        now,
    )


# An order with its signal's outcome and status, and whether its strategy is killed, deleted or
# gone (``strategy_stopped``: the kill switch cancels its orders) or paused (``strategy_paused``:
# the pause switch cancels its entries), and its row's generation (``strategy_generation``: the
# pause switch cancels the entries of one whose settings were found invalid at it).
# An order row as the desk reads it: its strategy's switches, and when its market's resolution
# was stored (NULL: none), which the CLOB cancels every order of the market at
# (``CANCELED_MARKET_RESOLVED``: orderflow.execution.order_reconcile).
ORDER_ROWS = """
SELECT o.*, s.outcome_index, s.status AS signal_status,
       COALESCE(st.killed OR st.deleted_at IS NOT NULL, true) AS strategy_stopped,
       COALESCE(st.paused, false) AS strategy_paused, st.generation AS strategy_generation,
       (SELECT r.resolved_at FROM orderflow_market_outcomes r
         WHERE r.market_id = COALESCE(o.market_id, (SELECT tok.condition_id
                                                       FROM orderflow_tokens tok
                                                      WHERE tok.token_id = o.token_id)))
           AS market_resolved_at
  FROM orderflow_orders o JOIN orderflow_signals s ON s.id = o.signal_id
  LEFT JOIN orderflow_strategies st ON st.name = o.strategy
"""


async def orders_in(
    conn: asyncpg.Connection, statuses: list[str], strategy: str | None = None
) -> list[asyncpg.Record]:
    return list(
        await conn.fetch(
            ORDER_ROWS
            + " WHERE o.status = ANY($1::text[]) AND ($2::text IS NULL OR o.strategy = $2)"
            " ORDER BY o.id",
            statuses,
            strategy,
        )
    )


async def orders_to_reconcile(
    conn: asyncpg.Connection, now: datetime, strategy: str | None = None
) -> list[asyncpg.Record]:
    """Open and intended orders, plus orders cancelled without their full size filled whose late
    fills may still be listed (a fill that happened before the cancel may reach the trades after
    it: :func:`~orderflow.execution.late_fill_queries.order_may_fill`, ``now`` the executor's
    clock)."""
    return list(
        await conn.fetch(
            ORDER_ROWS + f" WHERE {order_may_fill('o', '$1')}"
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
    endpoint's ``size_matched``, migration 089) than the account's trades have listed yet
    (fills and failed trades: :func:`~orderflow.execution.late_fill_queries.
    matched_unlisted_shares`), while their late fills are still asked for
    (:func:`~orderflow.execution.late_fill_queries.order_may_fill`, ``now`` the executor's
    clock): ``remaining`` is what matched beyond the
    booked fills — a BUY's, shares held at the exchange that no position counts yet; a SELL's,
    shares its position still counts that the exchange has sold."""
    return list(
        await conn.fetch(
            f"""
            SELECT o.token_id, COALESCE(o.market_id, tok.condition_id) AS market_id, o.price,
                   o.side, o.mode, {matched_unlisted_shares("o")} AS remaining,
                   {mark_price("o.token_id")} AS last_price
              FROM orderflow_orders o
              LEFT JOIN orderflow_tokens tok ON tok.token_id = o.token_id
             WHERE o.strategy = $1 AND o.status IN ('CANCELED', 'ABANDONED')
               AND {matched_unlisted_shares("o")} > 0 AND {order_may_fill("o", "$2")}
            """,
            strategy,
            now,
        )
    )


async def note_cancel_asked(conn: asyncpg.Connection, order_ids: list[int], reason: str) -> None:
    """Why we are about to ask the exchange to cancel these live orders (migration 117): an
    order it later shows cancelled is closed with it, should our cancel's answer be lost."""
    await conn.execute(
        "UPDATE orderflow_orders SET cancel_reason = $2"
        " WHERE id = ANY($1::bigint[]) AND status IN ('INTENT', 'OPEN')",
        order_ids,
        reason,
    )


async def order_row(conn: asyncpg.Connection, order_id: int) -> asyncpg.Record:
    row: asyncpg.Record = await conn.fetchrow(ORDER_ROWS + " WHERE o.id = $1", order_id)
    return row


async def order_rows(conn: asyncpg.Connection, order_ids: list[int]) -> dict[int, asyncpg.Record]:
    """Several orders' rows in one round trip, by id."""
    rows = await conn.fetch(ORDER_ROWS + " WHERE o.id = ANY($1::bigint[])", order_ids)
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
