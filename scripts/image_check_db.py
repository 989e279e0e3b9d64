"""A throw-away PostgreSQL for scripts/check-image.sh, on 127.0.0.1 so the image can reach it.

    python scripts/image_check_db.py start DIR    # prints the DATABASE_URL of database orderflow
    python scripts/image_check_db.py count DSN    # prints the number of applied migrations
    python scripts/image_check_db.py stop DIR

The server is the project's embedded one (pgserver's binaries, as tests/conftest.py uses): pgserver
makes the cluster (as its own system user when run by root) and listens on a Unix socket only;
this restarts it listening on a free TCP port of 127.0.0.1, trust authentication (test only).
"""

from __future__ import annotations

import asyncio
import socket
import sys
import warnings
from pathlib import Path

import asyncpg


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def start(directory: Path) -> str:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pgserver
        from pgserver import pg_ctl  # type: ignore[attr-defined]

    pgdata = directory / "pgdata"
    server = pgserver.get_server(pgdata, cleanup_mode=None)  # type: ignore[attr-defined]
    user = server.system_user
    pg_ctl(["-m", "fast", "-w", "stop"], pgdata=pgdata, user=user)
    port = _free_port()
    options = f"-h 127.0.0.1 -p {port} -k {pgdata}"
    log = pgdata / "tcp.log"
    pg_ctl(["-w", "-o", options, "-l", str(log), "start"], pgdata=pgdata, user=user, timeout=30)
    admin = f"postgresql://postgres@127.0.0.1:{port}/postgres"

    async def create() -> None:
        conn = await asyncpg.connect(admin)
        try:
            await conn.execute("CREATE DATABASE orderflow")
        finally:
            await conn.close()

    asyncio.run(create())
    return f"postgresql://postgres@127.0.0.1:{port}/orderflow"


def count(dsn: str) -> int:
    async def query() -> int:
        conn = await asyncpg.connect(dsn)
        try:
            n: int = await conn.fetchval("SELECT count(*) FROM orderflow_schema_migrations")
            return n
        finally:
            await conn.close()

    return asyncio.run(query())


def stop(directory: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from orderflow.embedded import stop_server
    stop_server(directory)


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] not in ("start", "count", "stop"):
        print(__doc__, file=sys.stderr)
        return 2
    action, arg = argv
    if action == "start":
        print(start(Path(arg)))
    elif action == "count":
        print(count(arg))
    else:
        stop(Path(arg))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
