"""A DATABASE_URL whose password has an unencoded URL character (``/``, ``#``, ``?``) is a clear
error that never shows the password.

Generated passwords often carry ``/`` (base64). Left unencoded, asyncpg reads the part before
it as the port and raises a bare ``ValueError`` quoting it: ``db.create_pool``/``db.connect``
caught only ``OSError`` and ``PostgresError``, so the command died with a Python traceback whose
last line was the password itself (until 6 Dec 2026). Now ``orderflow: DATABASE_URL could not be
parsed ...``, nothing of the URL quoted.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

SECRET_HEAD = "Kq7Zr2Lm"  # what asyncpg quotes: the password up to the unencoded character
SECRET_TAIL = "Xw9Pt4Vb"


def _migrate(dsn: str) -> subprocess.CompletedProcess[str]:
    base = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DATABASE_", "LOG_", "OTEL_", "POLYGON_"))
    }
    return subprocess.run(
        [sys.executable, "-m", "orderflow", "migrate"],
        env={**base, "DATABASE_URL": dsn, "LOG_FORMAT": "text"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize("sep", ["/", "#", "?"])
def test_a_password_with_an_unencoded_character_is_neither_echoed_nor_a_traceback(
    sep: str,
) -> None:
    dsn = f"postgresql://orderflow:{SECRET_HEAD}{sep}{SECRET_TAIL}@db.invalid:5432/orderflow"
    done = _migrate(dsn)
    leaked = [s for s in (SECRET_HEAD, SECRET_TAIL) if s in done.stderr + done.stdout]
    assert not leaked, f"password part(s) {leaked} printed by `orderflow migrate`:\n{done.stderr}"
    assert "Traceback" not in done.stderr, f"a traceback, not a clear error:\n{done.stderr}"
    assert done.stderr.startswith("orderflow: "), done.stderr
