"""Polymarket's own trade exports in their documented shapes, which carry no log index: the
data API's ``/trades`` and ``/activity`` replies (one row per wallet's trade: decimal ``size``
and ``price``, the transaction hash; docs.polymarket.com, "Get trades for a user or markets")
and the orderbook subgraph's ``ordersMatchedEvents`` (``id`` = the transaction hash,
``Polymarket/polymarket-subgraph`` ``orderbook-subgraph/schema.graphql``). Each is refused
before any row is read, by its name and for what it lacks; until 6 Dec 2026 the data API's were
"not a layout orderflow imports (columns: …)" and the subgraph's matches were called "OrderFilled
rows (the Polymarket subgraph's orderFilledEvents)" lacking an order hash, maker and taker."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import asyncpg
import pytest

from orderflow.history import import_file
from orderflow.history.errors import LayoutError
from tests.history import dumps as d

TX = "0x05a7f9b0b016d7e431b4e62b374870a91a8d863cc04d94edbb53d26a990b60a1"
WALLET = "0xea5981ca48dc40c950fc1b2496c4a0ef900bb841"
TOKEN = "65818619657568813474341868652308942079804919287380422192892211131408793125422"
CONDITION = "0x2e6af11e4b853b05ba7135239b21d77e808889b6ce1e735de856c94c4e5b5fce"

PROFILE: dict[str, Any] = {
    "title": "Bitcoin Up or Down", "slug": "btc-updown", "icon": "https://…/icon.png",
    "eventSlug": "btc-updown", "outcome": "Up", "outcomeIndex": 0, "name": "trader",
    "pseudonym": "Quiet-Trader", "bio": "", "profileImage": "", "profileImageOptimized": "",
}  # fmt: skip
TRADE: dict[str, Any] = {
    "proxyWallet": WALLET, "side": "BUY", "asset": TOKEN, "conditionId": CONDITION,
    "size": 100, "price": 0.5, "timestamp": 1669060169, **PROFILE, "transactionHash": TX,
}  # fmt: skip
ACTIVITY: dict[str, Any] = {
    "proxyWallet": WALLET, "timestamp": 1669060169, "conditionId": CONDITION, "type": "TRADE",
    "size": 100, "usdcSize": 50, "transactionHash": TX, "price": 0.5, "asset": TOKEN,
    "side": "BUY", **PROFILE,
}  # fmt: skip
MATCHED: dict[str, Any] = {  # the subgraph's BigInts as GraphQL strings
    "id": TX, "timestamp": "1669060169", "makerAssetID": "0", "takerAssetID": TOKEN,
    "makerAmountFilled": "50000000", "takerAmountFilled": "100000000",
}  # fmt: skip


@pytest.mark.parametrize(
    ("name", "row", "said"),
    [
        ("trades.json", TRADE, "Polymarket's data API /trades rows"),
        ("activity.json", ACTIVITY, "Polymarket's data API /activity rows"),
        ("ordersMatchedEvents.jsonl", MATCHED, "the Polymarket orderbook subgraph's ordersMatched"),
    ],
)
async def test_polymarkets_exports_without_a_log_index_are_refused_by_name(
    pool: asyncpg.Pool, tmp_path: Path, name: str, row: dict[str, Any], said: str
) -> None:
    write = d.write_json_array if name.endswith(".json") else d.write_jsonl
    path = write(tmp_path / name, [row, {**row, "timestamp": row["timestamp"]}])
    with pytest.raises(LayoutError) as refused:
        await import_file(pool, path, chain_id=137)
    assert said in str(refused.value), str(refused.value)
    assert "no approximate identities" in str(refused.value)
    assert await pool.fetchval("SELECT count(*) FROM orderflow_trades") == 0
    assert await pool.fetchval("SELECT count(*) FROM orderflow_dead_letters") == 0
