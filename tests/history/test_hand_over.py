"""Nothing to live in one sequence on a real node (anvil): import the dump, listen.

The dump holds the node's first fills (Parquet, the snake_case dump layout, plus a blocks
file for the hashes it lacks). After the import, a backfill over the dumped blocks stores
nothing, and ``Listener`` (what ``orderflow listen`` runs) continues from the block after the
dump's last: a fill the dump omitted below that block stays absent (the dump is trusted for the
blocks it covers), every fill after it is stored.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import asyncpg
import pytest

from orderflow.chain.adaptive_range import AdaptiveRange
from orderflow.chain.backfill import Backfiller
from orderflow.chain.backfill_headers import HeaderCache
from orderflow.chain.contracts import MAINNET
from orderflow.chain.listener import Listener
from orderflow.chain.rpc import EthClient
from orderflow.chain.rpc_http import HttpTransport
from orderflow.history import import_file
from tests.chain_live.anvil_node import Anvil
from tests.chain_live.listener_runs import checkpoint, make_settings, running, stored_trades
from tests.chain_live.logs import order_filled_v2, wait_until
from tests.history import dumps as d
from tests.history.compare import rows

pytestmark = pytest.mark.anvil


async def node_logs(anvil: Anvil, to_block: int) -> list[dict[str, Any]]:
    logs: list[dict[str, Any]] = await anvil.rpc(
        "eth_getLogs", {"fromBlock": "0x0", "toBlock": hex(to_block)}
    )
    for g in logs:
        if "blockTimestamp" not in g:
            block = await anvil.rpc("eth_getBlockByNumber", g["blockNumber"], False)
            g["blockTimestamp"] = block["timestamp"]
    return logs


async def test_import_the_dump_then_listen(
    anvil: Anvil, pool: asyncpg.Pool, tmp_path: Path
) -> None:
    for n in range(1, 6):
        await anvil.emit(order_filled_v2(order_hash=n, maker_amount=1_000_000 * n))
    dumped_to = await anvil.head()
    logs = await node_logs(anvil, dumped_to)
    fills = d.fills_of(logs)
    assert len(fills) == 5
    omitted = fills.pop(1)  # a fill the dump lacks, below its last block
    await import_file(
        pool, d.write_parquet(tmp_path / "blocks.parquet", d.blocks_of(logs)), chain_id=137
    )
    report = await import_file(
        pool,
        d.write_parquet(tmp_path / "orderfilled.parquet", [d.snake_row(f) for f in fills]),
        chain_id=137,
    )
    assert report.stored.trades == 4 and report.last_block == dumped_to
    assert await checkpoint(pool) == dumped_to

    # A chain backfill over the dumped blocks adds nothing and changes nothing (the omitted fill
    # aside, which it rightly adds: it is on chain).
    before = await rows(pool, "orderflow_trades")
    client = EthClient(HttpTransport(anvil.http_url, timeout_secs=10))
    backfill = Backfiller(
        pool, client, chain_id=137, addresses=MAINNET, ranges=AdaptiveRange(100, 1, 100),
        headers=HeaderCache(client), stream="verify",
    )  # fmt: skip
    await backfill.run(0, dumped_to)
    after = await rows(pool, "orderflow_trades")
    added = [r for r in after if (r["tx_hash"], r["log_index"]) not in
             {(b["tx_hash"], b["log_index"]) for b in before}]  # fmt: skip
    assert [(r["tx_hash"], r["log_index"]) for r in added] == [
        (omitted["tx"], omitted["log_index"])
    ]
    assert [r for r in after if r not in added] == before
    await pool.execute("DELETE FROM orderflow_trades WHERE tx_hash = $1", omitted["tx"])

    # Then listen: the listener continues from the block after the dump.
    listener = Listener(pool, make_settings(anvil.ws_url))
    async with running(listener):
        for n in range(6, 8):
            await anvil.emit(order_filled_v2(order_hash=n))
        head = await anvil.head()

        async def caught_up() -> bool:
            return (await checkpoint(pool) or 0) >= head

        await wait_until(caught_up, what="the listener's checkpoint at the head")
    stored = await stored_trades(pool)
    assert len(stored) == 6  # 4 from the dump + 2 live; the omitted one was never re-read
    assert omitted["tx"] not in {tx for tx, *_ in stored}
    assert sorted(b for _, _, b, _ in stored)[-2:] == [dumped_to + 1, dumped_to + 2]
