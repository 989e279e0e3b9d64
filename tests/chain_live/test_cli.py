"""``orderflow listen`` as a process: --from-file, settings errors, live with health endpoints."""

from __future__ import annotations

import asyncio
import json
import re
import signal
import subprocess
import sys
from pathlib import Path

import asyncpg
import httpx
import pytest

from tests.chain_live.anvil_node import Anvil, free_port
from tests.chain_live.logs import malformed_fill, order_filled_v2, wait_until
from tests.cli_env import orderflow_env, run_orderflow_async

pytestmark = pytest.mark.anvil


def cli_env(dsn: str, tmp_path: Path, **extra: str) -> dict[str, str]:
    """The command's environment, its health server on a free port."""
    return orderflow_env(dsn, tmp_path, **{"HEALTH_PORT": "0", **extra})


async def run_cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return await run_orderflow_async(env, "listen", *args)


async def test_from_file_stores_node_output_once(
    anvil: Anvil, dsn: str, pool: asyncpg.Pool, tmp_path: Path
) -> None:
    await anvil.emit_block([order_filled_v2(order_hash=1), order_filled_v2(order_hash=2)])
    await anvil.emit(malformed_fill(3))
    logs = await anvil.rpc("eth_getLogs", {"fromBlock": "0x0", "toBlock": "latest"})
    path = tmp_path / "logs.jsonl"
    path.write_text("".join(json.dumps(g) + "\n" for g in logs))

    first = await run_cli(cli_env(dsn, tmp_path), "--from-file", str(path))
    assert first.returncode == 0, first.stderr
    assert "2 trades stored (0 already present)" in first.stdout
    assert "1 dead letters" in first.stdout
    second = await run_cli(cli_env(dsn, tmp_path), "--from-file", str(path))
    assert second.returncode == 0, second.stderr
    assert "0 trades stored (2 already present)" in second.stdout
    assert await pool.fetchval("SELECT count(*) FROM orderflow_trades") == 2


async def test_settings_errors_name_the_variable_not_the_secret(dsn: str, tmp_path: Path) -> None:
    env = cli_env(dsn, tmp_path, POLYGON_RPC_URL="https://polygon.example/v2/s3cr3t")
    result = await run_cli(env)
    assert result.returncode == 2
    assert "POLYGON_RPC_URL must be ws:// or wss://" in result.stderr
    assert "s3cr3t" not in result.stderr

    result = await run_cli(cli_env(dsn, tmp_path))
    assert result.returncode == 2
    assert "POLYGON_RPC_URL is not set" in result.stderr

    result = await run_cli(cli_env(dsn, tmp_path, POLYGON_RPC_URL="wss://host:abc/s3cr3t"))
    assert (result.returncode, result.stderr.count("Traceback")) == (2, 0), result.stderr
    assert "POLYGON_RPC_URL has no valid port" in result.stderr
    assert "s3cr3t" not in result.stderr

    result = await run_cli(cli_env(dsn, tmp_path), "--from-file", str(tmp_path / "missing"))
    assert result.returncode == 2
    assert "no such file" in result.stderr


async def test_wrong_chain_is_fatal(anvil: Anvil, dsn: str, tmp_path: Path) -> None:
    env = cli_env(dsn, tmp_path, POLYGON_RPC_URL=anvil.ws_url, CHAIN_ID="1")
    result = await run_cli(env)
    assert result.returncode == 1
    assert "serves chain id 137, but CHAIN_ID is 1" in result.stderr


async def test_live_listen_serves_health_and_stops_on_sigterm(
    anvil: Anvil, dsn: str, pool: asyncpg.Pool, tmp_path: Path
) -> None:
    port = free_port()
    env = cli_env(
        dsn,
        tmp_path,
        POLYGON_RPC_URL=anvil.ws_url,
        HEALTH_PORT=str(port),
        CONFIRMATIONS="0",
        START_BLOCK="0",
        CONDITION_SYNC_FROM_BLOCK="0",
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "orderflow", "listen"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=5) as http:

            async def ready() -> bool:
                try:
                    return (await http.get("/readyz")).status_code == 200
                except httpx.TransportError:
                    return False

            await wait_until(ready, timeout=60, what="/readyz")
            body = (await http.get("/readyz")).json()
            assert set(body["checks"]) == {"database", "head_lag"}
            await anvil.emit(order_filled_v2(order_hash=1))

            async def stored() -> bool:
                count: int = await pool.fetchval("SELECT count(*) FROM orderflow_trades")
                return count == 1

            await wait_until(stored, what="the live fill")

            async def counted() -> bool:
                text = (await http.get("/metrics")).text
                pattern = r"^orderflow_listener_trades_total(\{[^}]*\})? 1\.0$"
                return re.search(pattern, text, re.M) is not None

            await wait_until(counted, what="the trades metric")
            metrics = (await http.get("/metrics")).text
            assert "orderflow_listener_head_lag_blocks" in metrics

            async def synced() -> bool:
                text = (await http.get("/metrics")).text
                pattern = r'^orderflow_progress_eta_seconds\{job="condition sync"[^}]*\} 0\.0$'
                return re.search(pattern, text, re.M) is not None

            await wait_until(synced, what="the condition sync's ETA to reach 0")
            metrics = (await http.get("/metrics")).text
            assert 'orderflow_progress_done{job="condition sync"' in metrics
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            _out, err = await asyncio.to_thread(proc.communicate, timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
    assert proc.returncode == 0, err
    assert "streaming" in err
    assert "condition sync: reading every ConditionalTokens condition once (first start)" in err
    final = r"condition sync: ([\d,]+) / \1 blocks \(100\.0 %\) .* done=(\d+) total=\2 "
    assert re.search(final + r".*eta_secs=0", err)
    assert "condition sync complete" in err
