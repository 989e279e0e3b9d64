"""An import's batch holding a fill (or a match) twice at two blocks: the first stays, the
second is a dead letter (``store_replace`` DOUBLED_*, a self-join of the staging table). The
self-join runs only when the renderer saw a (transaction hash, log index) twice among the
batch's fills or matches (``CopyRows.fills_repeat`` / ``matches_repeat``): a batch without one,
the usual batch, sends no such statement. Through the file import's decoding (``ingest_file``,
in this process and in a decoding process) and through ``render`` (``ingest_logs``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from orderflow.chain import store_replace
from orderflow.chain.ingest import ingest_file, ingest_logs
from tests.chain.match_batches import match_tx

_DOUBLED = {store_replace.DOUBLED_FILLS, store_replace.DOUBLED_MATCHES}


@contextmanager
def doubled_statements() -> Iterator[list[str]]:
    """The DOUBLED_* statements sent while the block runs (the real connection's ``fetch``,
    counted on its way)."""
    sent: list[str] = []
    original = asyncpg.connection.Connection.fetch

    async def fetch(self: asyncpg.Connection, query: str, *args: Any, **kw: Any) -> Any:
        if query in _DOUBLED:
            sent.append(query)
        return await original(self, query, *args, **kw)

    asyncpg.connection.Connection.fetch = fetch
    try:
        yield sent
    finally:
        asyncpg.connection.Connection.fetch = original


def _logs() -> list[dict[str, Any]]:
    """Six matched transactions, each three fills and a match."""
    return [log for i in range(6) for log in match_tx(5000 + i, 50 + i)]


def _moved(logs: list[dict[str, Any]], index: int) -> dict[str, Any]:
    """Log ``index`` again, naming a block 3 further (a dump's wrong block)."""
    moved = dict(logs[index])
    moved["blockNumber"] = hex(int(moved["blockNumber"], 16) + 3)
    return moved


async def _store(pool: asyncpg.Pool, logs: list[dict[str, Any]], how: str, tmp: Path) -> None:
    if how == "render":
        await ingest_logs(pool, logs, chain_id=137, batch_size=len(logs))
        return
    path = tmp / "logs.jsonl"
    path.write_text("".join(json.dumps(log) + "\n" for log in logs))
    workers = 1 if how == "decoding process" else 0
    await ingest_file(pool, path, chain_id=137, batch_size=len(logs), workers=workers, bulk=True)


async def _stored(pool: asyncpg.Pool) -> tuple[int, int, list[str]]:
    trades = int(await pool.fetchval("SELECT count(*) FROM orderflow_trades"))
    matches = int(await pool.fetchval("SELECT count(*) FROM orderflow_matches"))
    reasons = [r[0] for r in await pool.fetch("SELECT reason FROM orderflow_dead_letters")]
    return trades, matches, reasons


HOW = ["render", "file, this process", "decoding process"]


@pytest.mark.parametrize("how", HOW)
async def test_a_batch_without_a_repeated_log_runs_no_self_join(
    pool: asyncpg.Pool, tmp_path: Path, how: str
) -> None:
    with doubled_statements() as sent:
        await _store(pool, _logs(), how, tmp_path)
    assert await _stored(pool) == (18, 6, [])
    assert sent == []


@pytest.mark.parametrize("how", HOW)
@pytest.mark.parametrize("kind", ["fill", "match"])
async def test_a_log_twice_at_two_blocks_is_stored_once(
    pool: asyncpg.Pool, tmp_path: Path, how: str, kind: str
) -> None:
    logs = _logs()
    index = 4 if kind == "fill" else 7  # transaction 51's first fill / its match
    with doubled_statements() as sent:
        await _store(pool, [*logs, _moved(logs, index)], how, tmp_path)
    trades, matches, reasons = await _stored(pool)
    assert (trades, matches) == (18, 6)
    (reason,) = reasons
    event = "OrderFilled" if kind == "fill" else "OrdersMatched"
    block = int(logs[index]["blockNumber"], 16)
    assert f"{event} at block {block + 3}," in reason, reason
    assert f"holds that transaction and log index at block {block} " in reason, reason
    assert len(sent) == 1
