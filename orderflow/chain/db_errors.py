"""Which database errors are transient (retry after a backoff) and which are not.

PostgreSQL reports a failover, a restart or a crash recovery as errors a client can outlive:

* class 08 — connection exceptions (``08000``, ``08003``, ``08006`` …) and asyncpg's own
  "connection was closed in the middle of operation";
* ``57P01`` admin_shutdown (the server is stopping), ``57P02`` crash_shutdown, ``57P03``
  cannot_connect_now (the server is starting up, or in recovery after a failover), and
  ``57014`` query_canceled (a statement timeout or a cancelled backend);
* class 40 — ``40001`` serialization_failure and ``40P01`` deadlock_detected: the transaction
  was rolled back and may simply be run again;
* class 53 — insufficient resources (``53300`` too_many_connections, out of disk or memory);
* ``25006`` read_only_sql_transaction — connected to a standby that has not been promoted yet;
* asyncpg's InternalClientError "another operation is in progress", seen on a pooled connection
  that received 57P01 while idle.

Everything else (a constraint violated, a missing table, a syntax error) is a bug or a data
problem that retrying cannot fix; data problems are isolated by ``store_guard``.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from typing import TypeVar

import asyncpg
from asyncpg import exceptions as pg

log = logging.getLogger(__name__)

TRANSIENT_DB_ERRORS: tuple[type[BaseException], ...] = (
    asyncpg.PostgresConnectionError,
    pg.OperatorInterventionError,
    pg.TransactionRollbackError,
    pg.InsufficientResourcesError,
    pg.ReadOnlySQLTransactionError,
    asyncpg.InterfaceError,
    # A FATAL (57P01) arriving on an idle pooled connection leaves asyncpg's protocol state
    # confused; the next use raises this. The connection is discarded and a new one used.
    asyncpg.InternalClientError,
    OSError,  # refused / reset connections, including TimeoutError
)

T = TypeVar("T")


def is_transient_db_error(exc: BaseException) -> bool:
    return isinstance(exc, TRANSIENT_DB_ERRORS)


async def retry_transient(
    operation: Callable[[], Awaitable[T]],
    *,
    what: str,
    attempts: int = 12,
    initial_secs: float = 0.5,
    max_secs: float = 30.0,
) -> T:
    """Run ``operation``; on a transient database error wait (exponential, jittered) and rerun.

    ``operation`` must be safe to repeat (every store here is one idempotent transaction).
    After ``attempts`` failures the last error propagates (about 4 minutes with the defaults).
    """
    for attempt in range(attempts):
        try:
            return await operation()
        except TRANSIENT_DB_ERRORS as exc:
            if attempt == attempts - 1:
                raise
            delay = min(max_secs, initial_secs * 2**attempt) * random.uniform(0.5, 1.0)
            log.warning(
                "database unavailable; retrying",
                extra={
                    "operation": what,
                    "error": f"{type(exc).__name__}: {exc}",
                    "sqlstate": getattr(exc, "sqlstate", None),
                    "attempt": attempt + 1,
                    "delay_secs": round(delay, 3),
                },
            )
            await asyncio.sleep(delay)
    raise AssertionError("unreachable")
