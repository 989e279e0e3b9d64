"""Apply ``migrations/NNN_name.sql`` in order, exactly once each.

* Applied migrations are recorded in ``orderflow_schema_migrations`` with a checksum; editing an
  applied file is an error (write a new migration instead).
* A session-level advisory lock serialises concurrent runs: two ``orderflow migrate`` processes
  (two pods starting at once) apply each file once, the second waits and then finds nothing to do.
* Each file runs in its own transaction together with its bookkeeping row.
* With every file applied (and unchanged) nothing is written, so the read-only commands
  (``strategy status``, ``wallet``) run under a role that may only SELECT.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from orderflow.errors import MigrationError

log = logging.getLogger(__name__)

# Arbitrary but fixed: hash of "orderflow.migrate" folded into a signed 64-bit key.
MIGRATION_LOCK_KEY = 0x6F72_6466_6D69_6772
_NAME = re.compile(r"^(\d{3,})_[a-z0-9_]+\.sql$")


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def migrations_dir() -> Path:
    """``ORDERFLOW_MIGRATIONS_DIR``, else ``migrations/`` beside the package (source checkout)."""
    override = os.environ.get("ORDERFLOW_MIGRATIONS_DIR")
    if override:
        return Path(override)
    return Path(__file__).resolve().parent.parent / "migrations"


def discover(directory: Path | None = None) -> list[Migration]:
    directory = directory or migrations_dir()
    if not directory.is_dir():
        raise MigrationError(f"migrations directory not found: {directory}")
    found: dict[int, Migration] = {}
    for path in sorted(directory.glob("*.sql")):
        match = _NAME.match(path.name)
        if not match:
            raise MigrationError(f"migration file name must look like 001_name.sql: {path.name}")
        version = int(match.group(1))
        if version in found:
            raise MigrationError(
                f"two migrations share version {version}: {found[version].name}, {path.name}"
            )
        found[version] = Migration(version, path.name, path.read_text())
    return [found[v] for v in sorted(found)]


async def _all_applied(conn: asyncpg.Connection, wanted: list[Migration]) -> bool:
    """Whether every migration is recorded, unchanged, read without writing anything (a role
    that may only SELECT runs the read-only commands: nothing to apply, nothing to lock)."""
    if await conn.fetchval("SELECT to_regclass('orderflow_schema_migrations')") is None:
        return False
    rows = await conn.fetch("SELECT version, checksum FROM orderflow_schema_migrations")
    done = {r["version"]: r["checksum"] for r in rows}
    return all(done.get(m.version) == m.checksum for m in wanted)


async def migrate(conn: asyncpg.Connection, directory: Path | None = None) -> list[str]:
    """Apply pending migrations; return the names applied by this call. With none pending it
    writes nothing (not even the bookkeeping table's ``CREATE ... IF NOT EXISTS``)."""
    pending = discover(directory)
    if await _all_applied(conn, pending):
        return []
    applied_now: list[str] = []
    await conn.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK_KEY)
    try:
        await conn.execute(
            """
            CREATE TABLE IF NOT EXISTS orderflow_schema_migrations (
                version    INTEGER PRIMARY KEY,
                name       TEXT NOT NULL,
                checksum   TEXT NOT NULL,
                applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
            )
            """
        )
        rows = await conn.fetch("SELECT version, name, checksum FROM orderflow_schema_migrations")
        done = {r["version"]: r for r in rows}
        for m in pending:
            if m.version in done:
                if done[m.version]["checksum"] != m.checksum:
                    raise MigrationError(
                        f"migration {m.name} was changed after it was applied "
                        "(add a new migration instead of editing an applied one)"
                    )
                continue
            try:
                async with conn.transaction():
                    await conn.execute(m.sql)
                    await conn.execute(
                        "INSERT INTO orderflow_schema_migrations (version, name, checksum)"
                        " VALUES ($1, $2, $3)",
                        m.version,
                        m.name,
                        m.checksum,
                    )
            except asyncpg.PostgresError as exc:
                raise MigrationError(f"migration {m.name} failed: {exc}") from exc
            log.info("applied migration", extra={"migration": m.name})
            applied_now.append(m.name)
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", MIGRATION_LOCK_KEY)
    return applied_now
