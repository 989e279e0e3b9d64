"""Concurrent pytest sessions on one machine leave each other's temporary directories alone.

Two real pytest sessions (subprocesses, with this suite's tests/conftest.py as their plugin and
their own temporary root, so the machine's /tmp/pytest-of-<user> is not touched): session A
opens the path to its ``tmp_path`` to other users as pgserver does when run as root, then waits
while session B starts and makes its base directory. Under pytest's default base directories B
took the shared ``pytest-of-<user>`` back to 0700 and A's embedded server lost its data
directory ("Permission denied", CI on 2026-12-04).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.session_tmp import (
    LOCK,
    PG_PREFIX,
    PREFIX,
    SessionTemp,
    prune_abandoned,
    prune_sessions,
    server_pid,
    stop_servers,
)

SESSION_A = """
import stat
import time
from pathlib import Path

SIGNALS = Path({signals!r})


def test_a(tmp_path: Path) -> None:
    top = Path({top!r})
    opened = [p for p in [tmp_path, *tmp_path.parents] if p.is_relative_to(top) and p != top]
    for p in opened:  # as pgserver's ensure_prefix_permissions: chmod go+rx up the path
        p.chmod(p.stat().st_mode | stat.S_IRGRP | stat.S_IXGRP | stat.S_IROTH | stat.S_IXOTH)
    (SIGNALS / "a-ready").touch()
    deadline = time.monotonic() + 60
    while not (SIGNALS / "b-done").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert (SIGNALS / "b-done").exists()
    closed = [str(p) for p in opened if not p.stat().st_mode & stat.S_IXOTH]
    assert tmp_path.is_dir() and not closed, closed
"""

SESSION_B = """
import time
from pathlib import Path

import pytest

SIGNALS = Path({signals!r})


def test_b(tmp_path_factory: pytest.TempPathFactory) -> None:
    deadline = time.monotonic() + 60
    while not (SIGNALS / "a-ready").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    tmp_path_factory.getbasetemp()  # this session's base directory, made now
    (SIGNALS / "b-done").touch()
"""


def _session(
    tmp_path: Path,
    name: str,
    source: str,
    environ: dict[str, str] | None = None,
    top: Path | None = None,
) -> subprocess.Popen[str]:
    top, signals = top or tmp_path / "tmp", tmp_path / "signals"
    project = tmp_path / name
    project.mkdir()
    (project / "pytest.ini").write_text("[pytest]\n")
    (project / "conftest.py").write_text('pytest_plugins = ["tests.conftest"]\n')
    (project / f"test_{name}.py").write_text(source.format(top=str(top), signals=str(signals)))
    env = {
        **(os.environ if environ is None else environ),
        "TMPDIR": str(top),
        "PYTEST_DEBUG_TEMPROOT": str(top),
        "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "operator")]),
    }
    return subprocess.Popen(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(project)],
        cwd=project,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def test_a_session_starting_leaves_a_running_sessions_tmp_path_open(tmp_path: Path) -> None:
    (tmp_path / "tmp").mkdir()
    (tmp_path / "signals").mkdir()
    a = _session(tmp_path, "a", SESSION_A)
    deadline = time.monotonic() + 60
    while not (tmp_path / "signals" / "a-ready").exists() and a.poll() is None:
        assert time.monotonic() < deadline, "session A never got going"
        time.sleep(0.05)
    b = _session(tmp_path, "b", SESSION_B)
    out_b, _ = b.communicate(timeout=120)
    out_a, _ = a.communicate(timeout=120)
    assert b.returncode == 0, out_b
    assert a.returncode == 0, out_a
    # Each session removed its own directory when it ended.
    assert not list((tmp_path / "tmp").glob(f"{PREFIX}*"))


def test_a_killed_sessions_directory_is_removed_by_the_next_one(tmp_path: Path) -> None:
    """A session's directory stays while it runs (its lock held) and goes once its lock is free
    (the process ended without removing it)."""
    running = SessionTemp(tmp_path)
    killed = tmp_path / f"{PREFIX}killed"
    killed.mkdir()
    (killed / LOCK).touch()
    (killed / "basetemp").mkdir()
    setting_up = tmp_path / f"{PREFIX}setting-up"  # no lock yet: left alone
    setting_up.mkdir()
    assert prune_abandoned(tmp_path) == [killed]
    assert running.root.is_dir() and setting_up.is_dir() and not killed.exists()
    running.close()
    assert not running.root.exists()


SESSION_SERVER = """
import time
from pathlib import Path

SIGNALS = Path({signals!r})


def test_server(pg_server_dsn: str) -> None:
    (SIGNALS / "server-up").write_text(pg_server_dsn)
    time.sleep(120)  # killed here
"""


def test_a_killed_sessions_server_is_stopped_by_the_next_one(tmp_path: Path) -> None:
    """A session killed with SIGKILL leaves its embedded PostgreSQL running (pg_ctl made it a
    daemon): the next session stops it and removes its data directory, and leaves a running
    session's server alone."""
    # A short temporary root: the server's socket path must fit in a Unix socket address.
    top = Path(tempfile.mkdtemp(prefix="of-srv-"))
    (tmp_path / "signals").mkdir()
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    a = _session(tmp_path, "a", SESSION_SERVER, env, top)
    try:
        deadline = time.monotonic() + 120
        while not (tmp_path / "signals" / "server-up").exists():
            if a.poll() is not None:
                pytest.fail(a.communicate()[0])
            assert time.monotonic() < deadline, "session A's server never started"
            time.sleep(0.05)
        [pgdata] = [p.parent for p in top.glob(f"{PG_PREFIX}*/pgdata/postmaster.pid")]
        pid = server_pid(pgdata)
        assert pid is not None
        assert prune_sessions(top) == []  # A runs: its server and directories stay
        assert server_pid(pgdata) == pid
        a.kill()
        a.communicate()
        assert server_pid(pgdata) == pid  # it outlived its session
        removed = prune_sessions(top)
        assert server_pid(pgdata) is None
        assert pgdata.parent in removed and not pgdata.parent.exists()
    finally:
        if a.poll() is None:
            a.kill()
            a.communicate()
        stop_servers(top)
        shutil.rmtree(top, ignore_errors=True)
