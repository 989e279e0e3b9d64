"""Connections to PostgreSQL: the one place that turns settings into an asyncpg pool.

Every stage takes a pool (or a connection) from here; SQL itself lives in one module per stage.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import parse_qs, urlsplit

import asyncpg

from orderflow.config import CommonSettings
from orderflow.embedded import ensure_server
from orderflow.errors import ConfigError, DatabaseError

MIN_SERVER_VERSION = 140000


async def resolve_dsn(settings: CommonSettings) -> str:
    """DATABASE_URL if set, else the embedded server's DSN (started on demand) — unless
    ``ORDERFLOW_EMBEDDED_DATABASE`` is off, as the image has it: in a pod the embedded database
    would be the pod's own, lost with it and seen by no other pod (each executor replica trading
    on its own database, with its own leader lock). A switch the image sets rather than a guess
    from the pod's environment (``KUBERNETES_SERVICE_HOST``), which a CI runner in a pod running
    ``make demo`` from a clone has too."""
    if settings.database_url is not None:
        return settings.database_url.get_secret_value()
    if not settings.embedded_database:
        raise ConfigError(
            "DATABASE_URL is not set (or empty) and ORDERFLOW_EMBEDDED_DATABASE is off (the"
            " image's setting): an embedded database would be this container's own; set"
            " DATABASE_URL"
        )
    return await asyncio.to_thread(ensure_server, settings.data_dir)


# asyncpg parses the DSN itself and says what it could not read by quoting it: a password with an
# unencoded "/" or "#" read as the port ("invalid literal for int() with base 10: '<password>'"),
# one with "?" as a query field. Never shown (it escaped as a traceback ending in the password).
_UNPARSED = (
    "DATABASE_URL could not be parsed: percent-encode the special characters of its user and"
    " password (/ as %2F, # as %23, ? as %3F, @ as %40, : as %3A) and check its options"
)


def _unreachable(dsn: str, exc: BaseException) -> DatabaseError:
    """Why a connection failed, naming a Unix socket directory nothing listens in (a stopped
    embedded server: asyncpg says only 'No such file or directory'). Never the password."""
    if isinstance(exc, FileNotFoundError):
        hosts = parse_qs(urlsplit(dsn).query).get("host", [])
        sockets = next((h for h in hosts if h.startswith("/")), None)
        if sockets is not None:
            return DatabaseError(
                f"cannot connect to PostgreSQL: no PostgreSQL server listens on a socket in "
                f"{sockets} (the embedded one, stopped? `orderflow db url` starts it)"
            )
    return DatabaseError(f"cannot connect to PostgreSQL: {type(exc).__name__}: {exc}")


async def _init_connection(conn: asyncpg.Connection) -> None:
    for typename in ("json", "jsonb"):
        await conn.set_type_codec(
            typename, encoder=json.dumps, decoder=json.loads, schema="pg_catalog"
        )


async def create_pool(
    dsn: str, *, min_size: int = 1, max_size: int = 10, **kwargs: Any
) -> asyncpg.Pool:
    """A pool with JSON codecs installed; refuses servers older than PostgreSQL 14."""
    try:
        pool = await asyncpg.create_pool(
            dsn, min_size=min_size, max_size=max_size, init=_init_connection, **kwargs
        )
    except (OSError, asyncpg.PostgresError) as exc:
        raise _unreachable(dsn, exc) from exc
    except ValueError:  # the DSN unreadable (asyncpg's ClientConfigurationError is one)
        raise ConfigError(_UNPARSED) from None
    assert pool is not None
    version = await pool.fetchval("SHOW server_version_num")
    if int(version) < MIN_SERVER_VERSION:
        await pool.close()
        raise DatabaseError(f"PostgreSQL >= 14 is required, the server is {version}")
    return pool


async def connect(dsn: str) -> asyncpg.Connection:
    """A single connection with the same codecs as the pool (for LISTEN and advisory locks)."""
    try:
        conn = await asyncpg.connect(dsn)
    except (OSError, asyncpg.PostgresError) as exc:
        raise _unreachable(dsn, exc) from exc
    except ValueError:  # the DSN unreadable: see _UNPARSED
        raise ConfigError(_UNPARSED) from None
    await _init_connection(conn)
    return conn


async def table_exists(conn: asyncpg.Connection, name: str) -> bool:
    """Whether the relation ``name`` (as ``to_regclass`` reads it) exists."""
    return bool(await conn.fetchval("SELECT to_regclass($1) IS NOT NULL", name))


@asynccontextmanager
async def open_pool(settings: CommonSettings, **kwargs: Any) -> AsyncIterator[asyncpg.Pool]:
    """``async with open_pool(settings) as pool:`` — resolve, connect, close."""
    pool = await create_pool(await resolve_dsn(settings), **kwargs)
    try:
        yield pool
    finally:
        await pool.close()
