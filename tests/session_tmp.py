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
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import tempfile
from pathlib import Path

PREFIX = "orderflow-pytest-"
LOCK = "lock"


class SessionTemp:
    """A session's own directory, locked for as long as the session holds this object."""

    def __init__(self, parent: Path) -> None:
        self.root = Path(tempfile.mkdtemp(prefix=PREFIX, dir=parent))
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


def prune_abandoned(parent: Path) -> list[Path]:
    """Remove the directories of sessions that ended without removing theirs (their lock is
    free); returns them."""
    removed = []
    for root in sorted(parent.glob(f"{PREFIX}*")):
        try:
            fd = os.open(root / LOCK, os.O_RDONLY)
        except OSError:
            continue  # being set up, or not ours
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                continue  # its session runs
            shutil.rmtree(root, ignore_errors=True)
            removed.append(root)
        finally:
            os.close(fd)
    return removed
