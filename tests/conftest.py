"""Shared fixtures: a real PostgreSQL for every test that asks for one.

* ``DATABASE_URL`` set: that server is used (a maintenance connection creates test databases).
* unset: one embedded PostgreSQL (pgserver) per test session, under a temporary directory.

A template database is migrated once per session; each test gets a fresh copy
(``CREATE DATABASE … TEMPLATE``, a few milliseconds) and it is dropped afterwards.

``make test`` runs the suite in two processes (pytest-xdist); each is a session of its own here:
its own embedded server, or, on a shared ``DATABASE_URL`` server, its own template.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import asynccontextmanager
from pathlib import Path
from typing import ClassVar
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from orderflow import db
from orderflow.migrate import migrate
from tests.session_tmp import PG_PREFIX, SessionTemp, prune_sessions

# a worker of pytest-xdist ("gw0", "gw1", …) has a template of its own on a shared server
TEMPLATE = f"orderflow_test_template_{os.environ.get('PYTEST_XDIST_WORKER', 'main')}"
ROOT = Path(__file__).resolve().parent.parent
_SESSION_TEMP = pytest.StashKey[SessionTemp]()


@pytest.hookimpl(tryfirst=True)  # before pytest's tmp_path plugin reads --basetemp
def pytest_configure(config: pytest.Config) -> None:
    """A session not given ``--basetemp`` gets a base directory of its own, which no other
    session on the machine prunes or chmods; what killed sessions left (their directories, their
    embedded servers) is removed first (tests/session_tmp.py)."""
    parent = Path(tempfile.gettempdir())
    prune_sessions(parent)
    if config.option.basetemp is not None:
        return
    own = SessionTemp(parent)
    config.stash[_SESSION_TEMP] = own
    config.option.basetemp = str(own.basetemp)


def pytest_unconfigure(config: pytest.Config) -> None:
    own = config.stash.get(_SESSION_TEMP, None)
    if own is not None:
        own.close()


def _with_database(dsn: str, name: str) -> str:
    parts = urlsplit(dsn)
    return urlunsplit(parts._replace(path=f"/{name}"))


@pytest.fixture(scope="session")
def pg_server_dsn() -> Iterator[str]:
    """DSN of a maintenance database on the test server.

    The embedded server's data lives in a locked directory of its own, outside the session's
    basetemp; a later session stops the server and removes the directory if this one is killed
    before its end (tests/session_tmp.py).
    """
    url = os.environ.get("DATABASE_URL")
    if url:
        yield url
        return
    import pgserver

    own = SessionTemp(Path(tempfile.gettempdir()), prefix=PG_PREFIX)
    try:
        # pgserver's __init__ imports get_server without re-exporting it (no `as`, no __all__)
        server = pgserver.get_server(own.root / "pgdata", cleanup_mode="stop")  # type: ignore[attr-defined]
        try:
            # No fsync: a commit still writes its WAL to the kernel before it returns, so a
            # killed server or backend loses nothing; only an OS crash could, and a test server's
            # data does not outlive its session. A commit waited 0.3-3 ms for the disk on the
            # shared 2-core machine CI runs on, 0.1 ms without.
            server.psql("ALTER SYSTEM SET fsync = off; SELECT pg_reload_conf();")
            yield str(server.get_uri("postgres"))
        finally:
            server.cleanup()
    finally:
        own.close()


async def _recreate_template(admin_dsn: str) -> None:
    conn = await asyncpg.connect(admin_dsn)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{TEMPLATE}"')
        await conn.execute(f'CREATE DATABASE "{TEMPLATE}"')
    finally:
        await conn.close()
    tconn = await db.connect(_with_database(admin_dsn, TEMPLATE))
    try:
        await migrate(tconn)
    finally:
        await tconn.close()


@pytest.fixture(scope="session")
def pg_template(pg_server_dsn: str) -> str:
    asyncio.run(_recreate_template(pg_server_dsn))
    return TEMPLATE


@asynccontextmanager
async def scratch_database(
    server_dsn: str, *, template: str | None = None, prefix: str = "t"
) -> AsyncIterator[str]:
    """Create a uniquely named database (optionally from a template), yield its DSN, drop it."""
    name = f"{prefix}_{uuid.uuid4().hex[:16]}"
    clause = f' TEMPLATE "{template}"' if template else ""
    admin = await asyncpg.connect(server_dsn)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"{clause}')
    finally:
        await admin.close()
    try:
        yield _with_database(server_dsn, name)
    finally:
        admin = await asyncpg.connect(server_dsn)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


async def _admin(server_dsn: str, statement: str) -> None:
    admin = await asyncpg.connect(server_dsn)
    try:
        await admin.execute(statement)
    finally:
        await admin.close()


class SpareDatabases:
    """Copies of the template made one test ahead, and dropped after it, on a thread of their
    own: a copy of the migrated template (about 700 relations) took 75-320 ms and its drop
    30 ms on this machine, in front of every test that asked for a database. The copy a test
    gets is as fresh as one made for it (nothing connects to it before the test).

    The thread's work leaves cyclic garbage and allocations of its own in the process (its
    asyncio loops and connections): a test that counts the process's garbage or memory waits
    for it first (:func:`settle_spare_databases`; tests/history/test_memory.py)."""

    running: ClassVar[SpareDatabases | None] = None  # the session's, once a test asked for one

    def __init__(self, server_dsn: str, template: str) -> None:
        self._server = server_dsn
        self._template = template
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="spare-db")
        self._next: Future[str] = self._thread.submit(self._create)
        SpareDatabases.running = self

    def _create(self) -> str:
        name = f"t_{uuid.uuid4().hex[:16]}"
        asyncio.run(_admin(self._server, f'CREATE DATABASE "{name}" TEMPLATE "{self._template}"'))
        return name

    def _drop(self, name: str) -> None:
        asyncio.run(_admin(self._server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

    def take(self) -> str:
        """A fresh copy's DSN; the next one is started."""
        name = self._next.result()
        self._next = self._thread.submit(self._create)
        return _with_database(self._server, name)

    def give_back(self, url: str) -> None:
        """Drop a taken copy (after the copy being made, in order)."""
        self._thread.submit(self._drop, urlsplit(url).path.lstrip("/"))

    def settle(self) -> None:
        """Wait for the copies and drops queued so far (nothing else is queued until a test that
        asks for a database starts or ends)."""
        self._thread.submit(lambda: None).result()

    def close(self) -> None:
        SpareDatabases.running = None
        try:
            self._drop(self._next.result())
        finally:
            self._thread.shutdown(wait=True)


def settle_spare_databases() -> None:
    """:meth:`SpareDatabases.settle` of the session's, if a test has asked for a database."""
    if SpareDatabases.running is not None:
        SpareDatabases.running.settle()


@pytest.fixture(scope="session")
def spare_databases(pg_server_dsn: str, pg_template: str) -> Iterator[SpareDatabases]:
    spares = SpareDatabases(pg_server_dsn, pg_template)
    try:
        yield spares
    finally:
        spares.close()


@pytest.fixture
async def dsn(spare_databases: SpareDatabases) -> AsyncIterator[str]:
    """A freshly migrated, empty database for one test."""
    url = spare_databases.take()
    try:
        yield url
    finally:
        spare_databases.give_back(url)


@pytest.fixture
async def other_pool(pg_server_dsn: str, pg_template: str) -> AsyncIterator[asyncpg.Pool]:
    """A pool on a second freshly migrated database, beside ``pool``'s: the reference a test
    compares its database with (a plain import's rows, a full recompute's scores)."""
    async with scratch_database(pg_server_dsn, template=pg_template, prefix="o") as url:
        p = await db.create_pool(url, min_size=1, max_size=3)
        try:
            yield p
        finally:
            await p.close()


@pytest.fixture
async def empty_dsn(pg_server_dsn: str) -> AsyncIterator[str]:
    """An empty, unmigrated database (for migration tests)."""
    async with scratch_database(pg_server_dsn, prefix="e") as url:
        yield url


@pytest.fixture
async def pool(dsn: str) -> AsyncIterator[asyncpg.Pool]:
    p = await db.create_pool(dsn, min_size=1, max_size=5)
    try:
        yield p
    finally:
        await p.close()


def tool_path(name: str) -> Path:
    """A pinned test binary (anvil, helm, kubectl), installed on first use."""
    return _installed(ROOT / "tools" / "bin" / name)


def contract_artifact(name: str) -> Path:
    """The build artifact (ABI + bytecode) of a pinned contract the tests deploy on anvil
    (``ConditionalTokens.json``, ``ERC20PresetMinterPauser.json``), installed on first use."""
    return _installed(ROOT / "tools" / "contracts" / name)


def _installed(path: Path) -> Path:
    if not path.exists():
        import subprocess

        subprocess.run(["bash", str(ROOT / "scripts" / "install-test-tools.sh")], check=True)
    return path
