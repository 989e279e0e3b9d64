"""The embedded PostgreSQL used when no DATABASE_URL is set.

pgserver ships PostgreSQL binaries in a wheel; we keep the cluster under
``<ORDERFLOW_DATA_DIR>/pgdata`` and talk to it over its Unix socket. The server outlives a
single command (``cleanup_mode=None``) so that ``listen`` in one terminal and ``wallet`` in
another share it; ``orderflow db stop`` shuts it down.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from orderflow.errors import DatabaseError

log = logging.getLogger(__name__)

EMBEDDED_DB_NAME = "orderflow"


def pgdata_dir(data_dir: Path) -> Path:
    return data_dir / "pgdata"


def ensure_server(data_dir: Path, *, dbname: str = EMBEDDED_DB_NAME) -> str:
    """Start (or attach to) the embedded server and return a DSN for ``dbname``.

    Blocking: call it before the event loop does real work, or in a thread.
    """
    pgdata = pgdata_dir(data_dir)
    pgdata.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs warns about XDG_RUNTIME_DIR in containers
        import pgserver

        try:
            server = pgserver.get_server(pgdata, cleanup_mode=None)  # type: ignore[attr-defined]
        except Exception as exc:  # pgserver raises bare exceptions with the pg_ctl output
            raise DatabaseError(
                f"could not start the embedded PostgreSQL in {pgdata}: {exc}"
            ) from exc
    exists = server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{dbname}';")
    if "(1 row)" not in exists:
        server.psql(f'CREATE DATABASE "{dbname}";')
        log.info("created embedded database", extra={"database": dbname, "pgdata": str(pgdata)})
    return str(server.get_uri(dbname))


def stop_server(data_dir: Path) -> bool:
    """Stop the embedded server if it runs. Returns whether one was running."""
    import os
    import subprocess

    pgdata = pgdata_dir(data_dir)
    if not (pgdata / "postmaster.pid").exists():
        return False
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from pgserver import pg_ctl  # type: ignore[attr-defined]

    # pgserver runs PostgreSQL as the system user 'pgserver' when started by root.
    user = "pgserver" if os.geteuid() == 0 else None
    try:
        pg_ctl(["-m", "fast", "-w", "stop"], pgdata=pgdata, user=user)
    except subprocess.CalledProcessError:
        return False
    return True


def url_address(url: str) -> tuple[str, int] | None:
    """Where a ``postgresql://`` URL connects: (host or socket directory, port); None for
    another form (a keyword DSN) or a URL that does not parse."""
    try:
        parts = urlsplit(url)
        if parts.scheme not in ("postgresql", "postgres"):
            return None
        query = parse_qs(parts.query)
        host = query.get("host", [parts.hostname or "localhost"])[0]
        port = int(query.get("port", [str(parts.port or 5432)])[0])
    except ValueError:
        return None
    return host, port


def running_address(data_dir: Path) -> tuple[str, int] | None:
    """The embedded server's socket directory and port (its ``postmaster.pid``), None when it
    is not running."""
    try:
        lines = (pgdata_dir(data_dir) / "postmaster.pid").read_text().splitlines()
        return lines[4], int(lines[3])  # pgdata, start time, port, socket directory, ...
    except (OSError, IndexError, ValueError):
        return None


def is_embedded(data_dir: Path, url: str) -> bool:
    """Whether ``url`` connects to this data directory's embedded server (e.g. a DATABASE_URL
    taken from ``orderflow db url``): the running one's socket and port, or, stopped, a socket
    in its data directory, where pgserver puts it."""
    ours, theirs = running_address(data_dir), url_address(url)
    if theirs is None:
        return False
    if ours is None:
        return Path(theirs[0]).resolve() == pgdata_dir(data_dir).resolve()
    if not ours[0] or ours[1] != theirs[1]:
        return False
    return Path(theirs[0]).resolve() == Path(ours[0]).resolve()
