"""What ``orderflow listen --from-file`` loads: a file import imports no RPC client (httpx,
websockets: ≈ 0.05-0.1 s of its start-up, docs/benchmarks.md "Where a file import's wall time
goes") and still stores the file."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import asyncpg

from tests.cli_env import orderflow_env

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "samples" / "polymarket-logs.jsonl"

# The whole command in this process, then the client modules it loaded (the last line).
CODE = (
    "import sys; from orderflow.cli import main; rc = main(['listen', '--from-file', sys.argv[1],"
    " '--workers', '1']); print(sorted(m for m in sys.modules if m.split('.')[0] in"
    " ('httpx', 'websockets', 'aiohttp') or m.startswith('orderflow.chain.rpc'))); sys.exit(rc)"
)


async def test_a_file_import_loads_no_rpc_client(
    dsn: str, pool: asyncpg.Pool, tmp_path: Path
) -> None:
    env = orderflow_env(dsn, tmp_path)
    done = subprocess.run(
        [sys.executable, "-c", CODE, str(SAMPLE)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stdout.strip().splitlines()
    assert "9 trades stored" in lines[0]
    assert lines[-1] == "[]"
    assert await pool.fetchval("SELECT count(*) FROM orderflow_trades") == 9
