"""Each pytest session's own base temporary directory (tests/conftest.py's configure hooks).

pytest's default base directory is a numbered ``pytest-N`` under one ``pytest-of-<user>``
directory shared by every session of the user, and each session, as it makes its own, takes that
shared directory back to mode 0700 ("keep things private", _pytest/tmpdir.py). Run as root, the
embedded PostgreSQL (pgserver) runs the server as its own ``pgserver`` user and opens the path
to its data directory to others (``chmod go+rx`` of each parent): a test whose data directory is
under its ``tmp_path`` lost it the moment another session started on the machine — pg_ctl,
run as ``pgserver``, met "Permission denied" on the data directory, and ``orderflow db stop``
answered "not running" with the server still up (CI on 2026-12-04,
tests/core/test_cli.py::test_db_stop_recognises_its_own_server_in_database_url).

So a session not given ``--basetemp`` gets ``<tmp>/orderflow-pytest-XXXXXXXX/basetemp``, a
directory no other session touches, removed when the session ends. A session killed before its
end (SIGKILL, a CI timeout) leaves its directory behind: it holds an exclusive ``flock`` on
``lock`` inside it for its life, and the next session to start removes every such directory whose
lock is free (the kernel releases it with the process, whatever the process namespace). A given
``--basetemp`` is pytest's own: kept after the session, emptied by the next one given it.

The session's embedded PostgreSQL (tests/conftest.py's ``pg_server_dsn``) lives in such a locked
directory too, ``<tmp>/orderflow-test-pg-XXXXXXXX``, and outlives a killed session: pg_ctl starts
it as a daemon, no child of pytest. So before removing an abandoned directory the next session
stops every server whose data directory is in it (its ``postmaster.pid``, checked against the
process's command line, so a reused pid is never signalled): a fast shutdown, then a kill. A
running session's directory is locked, so its server is never touched; a directory without a
``lock`` (an older checkout's session, one being set up) is left alone.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import signal
import tempfile
import time
from pathlib import Path

PREFIX = "orderflow-pytest-"
PG_PREFIX = "orderflow-test-pg-"
LOCK = "lock"
STOP_WAIT_SECS = 30.0


class SessionTemp:
    """A session's own directory, locked for as long as the session holds this object."""

    def __init__(self, parent: Path, prefix: str = PREFIX) -> None:
        self.root = Path(tempfile.mkdtemp(prefix=prefix, dir=parent))
        # The lock is taken under another name and renamed: a directory shows ``lock`` only once
        # it is held, so no other session removes a directory being set up.
        taking = self.root / f".{LOCK}"
        self._fd = os.open(taking, os.O_WRONLY | os.O_CREAT, 0o600)
        fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        taking.rename(self.root / LOCK)

    @property
    def basetemp(self) -> Path:
        return self.root / "basetemp"

    def close(self) -> None:
        """Remove the directory (the lock goes with it)."""
        shutil.rmtree(self.root, ignore_errors=True)
        with contextlib.suppress(OSError):
            os.close(self._fd)


def prune_abandoned(parent: Path, prefix: str = PREFIX) -> list[Path]:
    """Remove the directories of sessions that ended without removing theirs (their lock is
    free), once the servers left running in them are stopped; returns them."""
    removed = []
    for root in sorted(parent.glob(f"{prefix}*")):
        try:
            fd = os.open(root / LOCK, os.O_RDONLY)
        except OSError:
            continue  # being set up, or not ours
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                continue  # its session runs
            stop_servers(root)
            shutil.rmtree(root, ignore_errors=True)
            removed.append(root)
        finally:
            os.close(fd)
    return removed


def prune_sessions(parent: Path) -> list[Path]:
    """What killed sessions left under ``parent``: their base directories and their servers."""
    return prune_abandoned(parent, PREFIX) + prune_abandoned(parent, PG_PREFIX)


def server_pid(pgdata: Path) -> int | None:
    """The pid of the PostgreSQL server running on ``pgdata`` (its ``postmaster.pid``), None
    when none does: no such file, or its pid ended, or is now another process."""
    try:
        pid = int((pgdata / "postmaster.pid").read_text().split("\n", 1)[0])
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, ValueError, IndexError):
        return None
    if state in ("Z", "X") or os.fsencode(pgdata) not in cmdline:
        return None  # ended (not yet reaped), or the pid is reused
    return pid


def stop_servers(root: Path) -> list[int]:
    """Stop every PostgreSQL server whose data directory is under ``root``: SIGINT (a fast
    shutdown), SIGKILL if it is still up after ``STOP_WAIT_SECS``. Returns their pids."""
    running = {}
    for found in root.rglob("postmaster.pid"):
        pgdata = found.parent.resolve()
        if (pid := server_pid(pgdata)) is not None:
            running[pgdata] = pid
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGINT)
    deadline = time.monotonic() + STOP_WAIT_SECS
    for pgdata, pid in running.items():
        while server_pid(pgdata) == pid:
            if time.monotonic() > deadline:
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGKILL)
                break
            time.sleep(0.05)
    return list(running.values())
