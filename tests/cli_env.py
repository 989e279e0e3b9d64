"""The environment of a ``python -m orderflow ...`` subprocess in the tests, and one run of it."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path


def orderflow_env(dsn: str, data_dir: Path, **extra: str) -> dict[str, str]:
    """This process's environment without its chain and database settings (``POLYGON_*``,
    ``DATABASE_*``: a developer's own must not reach the command), with ``DATABASE_URL=dsn``,
    ``ORDERFLOW_DATA_DIR=data_dir`` and plain-text logs; ``extra`` set on top."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("POLYGON_", "DATABASE_"))}
    env.update(DATABASE_URL=dsn, ORDERFLOW_DATA_DIR=str(data_dir), LOG_FORMAT="text")
    env.update(extra)
    return env


def run_orderflow(
    env: dict[str, str], *args: str, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """``python -m orderflow args`` with ``env``, to its end: its exit code and text output,
    whatever the code."""
    return subprocess.run(
        [sys.executable, "-m", "orderflow", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


async def run_orderflow_async(
    env: dict[str, str], *args: str, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """:func:`run_orderflow` in a thread: the event loop (a test's pool, its fakes) runs on."""
    return await asyncio.to_thread(run_orderflow, env, *args, timeout=timeout)
