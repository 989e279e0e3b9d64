"""Scratch databases for the benchmarks: fresh migrated databases on a maintenance DSN (``--dsn``
/ ``DATABASE_URL``: a server where they may create and drop ``orderflow_bench_*``) or else on a
private embedded PostgreSQL (pgserver) in a temporary directory; every database made is dropped,
and the private server removed, when the block ends."""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from orderflow import db
from orderflow.migrate import migrate


def with_database(dsn: str, name: str) -> str:
    """``dsn`` pointing at database ``name``."""
    return urlunsplit(urlsplit(dsn)._replace(path=f"/{name}"))


@dataclass
class Scratch:
    admin_dsn: str
    local: bool  # a private embedded server: its backends' CPU can be read from /proc
    created: list[str] = field(default_factory=list)

    async def create(self, template: str | None = None) -> tuple[str, str]:
        """A new database, empty or a copy of database ``template`` (no session may be connected
        to it), dropped when the block ends: its name and DSN."""
        name = f"orderflow_bench_{uuid.uuid4().hex[:10]}"
        admin = await asyncpg.connect(self.admin_dsn)
        try:
            copy = f' TEMPLATE "{template}"' if template else ""
            await admin.execute(f'CREATE DATABASE "{name}"{copy}')
        finally:
            await admin.close()
        self.created.append(name)
        return name, with_database(self.admin_dsn, name)

    async def fresh(self) -> str:
        """A new database, migrated; its DSN."""
        _, dsn = await self.create()
        conn = await db.connect(dsn)
        try:
            await migrate(conn)
        finally:
            await conn.close()
        return dsn


@asynccontextmanager
async def scratch_server(
    dsn: str | None, data_dir: str | None = None, prefix: str = "orderflow-bench-"
) -> AsyncIterator[Scratch]:
    """A :class:`Scratch` on ``dsn`` (or ``DATABASE_URL``), else on a private embedded server
    under ``data_dir`` (default: a new temporary directory)."""
    server: Any = None
    admin_dsn = dsn or os.environ.get("DATABASE_URL")
    if not admin_dsn:
        import pgserver  # the embedded server orderflow uses

        path = Path(data_dir or tempfile.mkdtemp(prefix=prefix))
        # pgserver's __init__ imports get_server without re-exporting it (no `as`, no __all__)
        server = pgserver.get_server(path, cleanup_mode="delete")  # type: ignore[attr-defined]
        admin_dsn = str(server.get_uri("postgres"))
    scratch = Scratch(admin_dsn, local=server is not None)
    try:
        yield scratch
    finally:
        admin = await asyncpg.connect(admin_dsn)
        try:
            for name in scratch.created:
                await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()
        if server is not None:
            server.cleanup()
