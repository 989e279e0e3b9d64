"""Files in the published layouts, built from raw logs by slicing their topics and data words.

Independent of ``orderflow.chain.decode``: a row is what an export of the event would hold (the
event's own parameters under the export's column names), so comparing what the import stores
with what the listener stores from the same raw logs checks the whole path.

Layouts (docs/history.md has a real row of each):
* ``snake_v1`` / ``snake_v2``: the Parquet dumps of every OrderFilled event (``transaction_hash``
  and ``order_hash`` without 0x, checksummed addresses, amounts as decimal strings, ``contract``
  names, no block hash);
* ``dune``: Dune's decoded-event tables (``evt_tx_hash``, ``evt_index``, ``evt_block_number``,
  ``evt_block_time``, ``contract_address``, camelCase parameters);
* ``camel``: camelCase rows with ``blockHash`` (JSON lines);
* ``matches``: OrdersMatched rows (snake_case);
* ``blocks``: cryo-style blocks (``block_number``, ``block_hash``, ``timestamp``);
* ``subgraph`` and ``poly_data``: the layouts that lack a log index (refused).
"""

from __future__ import annotations

import csv
import gzip
import json
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from orderflow.chain import contracts as c

NAMES = {
    c.V1_CTF_EXCHANGE: "CTF_EXCHANGE",
    c.V1_NEG_RISK_CTF_EXCHANGE: "NEG_RISK_CTF_EXCHANGE",
    c.V2_CTF_EXCHANGE: "CTF_EXCHANGE_V2",
    c.V2_NEG_RISK_CTF_EXCHANGE: "NEG_RISK_CTF_EXCHANGE_V2",
}
V1 = {c.V1_CTF_EXCHANGE, c.V1_NEG_RISK_CTF_EXCHANGE}
V2 = {c.V2_CTF_EXCHANGE, c.V2_NEG_RISK_CTF_EXCHANGE, c.V3_EXCHANGE}


def _words(raw: dict[str, Any]) -> list[int]:
    data = raw["data"][2:]
    return [int(data[i : i + 64], 16) for i in range(0, len(data), 64)]


def _q(value: Any) -> int:
    return int(value, 16) if isinstance(value, str) else int(value)


def _addr(topic: str) -> str:
    return "0x" + topic[-40:]


def _checksum_like(address: str) -> str:
    """Mixed case, as exports print checksummed addresses (the import must not care)."""
    return "0x" + address[2:].upper()


def fills_of(logs: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every OrderFilled log as a neutral record of the event's parameters."""
    out = []
    for raw in logs:
        topic0 = raw["topics"][0]
        if topic0 not in (c.TOPIC_ORDER_FILLED_V1, c.TOPIC_ORDER_FILLED_V2) or raw.get("removed"):
            continue
        w = _words(raw)
        rec: dict[str, Any] = {
            "address": raw["address"],
            "tx": raw["transactionHash"],
            "log_index": _q(raw["logIndex"]),
            "block": _q(raw["blockNumber"]),
            "block_hash": raw["blockHash"],
            "ts": _q(raw["blockTimestamp"]),
            "order_hash": raw["topics"][1],
            "maker": _addr(raw["topics"][2]),
            "taker": _addr(raw["topics"][3]),
        }
        if topic0 == c.TOPIC_ORDER_FILLED_V1:
            rec.update(v="V1", maker_asset=w[0], taker_asset=w[1], maker_amt=w[2])
            rec.update(taker_amt=w[3], fee=w[4])
        else:
            rec.update(v="V2", side=w[0], token=w[1], maker_amt=w[2], taker_amt=w[3], fee=w[4])
            rec.update(builder=f"0x{w[5]:064x}", metadata=f"0x{w[6]:064x}")
        out.append(rec)
    return out


def matches_of(logs: Iterable[dict[str, Any]], *, block_hash: bool = False) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for raw in logs:
        topic0 = raw["topics"][0]
        if topic0 not in (c.TOPIC_ORDERS_MATCHED_V1, c.TOPIC_ORDERS_MATCHED_V2):
            continue
        w = _words(raw)
        out.append(
            {
                "transaction_hash": raw["transactionHash"],
                "log_index": _q(raw["logIndex"]),
                "block_number": _q(raw["blockNumber"]),
                "block_timestamp": _q(raw["blockTimestamp"]),
                "contract_address": raw["address"],
                "taker_order_hash": raw["topics"][1],
                "taker_order_maker": _addr(raw["topics"][2]),
                **(
                    {"maker_asset_id": str(w[0]), "taker_asset_id": str(w[1])}
                    if topic0 == c.TOPIC_ORDERS_MATCHED_V1
                    else {"side": w[0], "token_id": str(w[1])}
                ),
                "maker_amount_filled": str(w[2]),
                "taker_amount_filled": str(w[3]),
            }
        )
        if block_hash:
            out[-1]["block_hash"] = raw["blockHash"]
    return out


def snake_row(f: dict[str, Any]) -> dict[str, Any]:
    """A row of the Parquet OrderFilled dumps (V1 or V2 columns)."""
    row: dict[str, Any] = {
        "timestamp": f["ts"],
        "datetime": datetime.fromtimestamp(f["ts"], UTC),
        "block_number": f["block"],
        "transaction_hash": f["tx"][2:],
        "log_index": f["log_index"],
        "contract": NAMES.get(f["address"], f["address"]),
        "order_hash": f["order_hash"][2:],
        "maker": _checksum_like(f["maker"]),
        "taker": _checksum_like(f["taker"]),
    }
    if f["v"] == "V1":
        row.update(maker_asset_id=str(f["maker_asset"]), taker_asset_id=str(f["taker_asset"]))
    else:
        row.update(side=f["side"], token_id=str(f["token"]))
    row.update(
        maker_amount_filled=str(f["maker_amt"]),
        taker_amount_filled=str(f["taker_amt"]),
        fee=str(f["fee"]),
    )
    if f["v"] == "V2":
        row.update(builder=f["builder"], metadata=f["metadata"])
    return row


def dune_row(f: dict[str, Any]) -> dict[str, Any]:
    """A row of Dune's decoded OrderFilled tables (V1 columns)."""
    return {
        "contract_address": f["address"],
        "evt_tx_hash": f["tx"],
        "evt_index": f["log_index"],
        "evt_block_time": datetime.fromtimestamp(f["ts"], UTC)
        .strftime("%Y-%m-%d %H:%M:%S UTC")
        .replace(" UTC", "+00:00"),
        "evt_block_number": f["block"],
        "orderHash": f["order_hash"],
        "maker": f["maker"],
        "taker": f["taker"],
        "makerAssetId": str(f["maker_asset"]),
        "takerAssetId": str(f["taker_asset"]),
        "makerAmountFilled": str(f["maker_amt"]),
        "takerAmountFilled": str(f["taker_amt"]),
        "fee": str(f["fee"]),
    }


def camel_row(f: dict[str, Any]) -> dict[str, Any]:
    """camelCase with the block hash (V2 columns)."""
    return {
        "transactionHash": f["tx"],
        "logIndex": f["log_index"],
        "blockNumber": f["block"],
        "blockHash": f["block_hash"],
        "timestamp": str(f["ts"]),
        "contractAddress": f["address"],
        "orderHash": f["order_hash"],
        "maker": f["maker"],
        "taker": f["taker"],
        "side": "BUY" if f["side"] == 0 else "SELL",
        "tokenId": str(f["token"]),
        "makerAmountFilled": str(f["maker_amt"]),
        "takerAmountFilled": str(f["taker_amt"]),
        "fee": str(f["fee"]),
        "builder": f["builder"],
        "metadata": f["metadata"],
    }


def subgraph_row(f: dict[str, Any]) -> dict[str, Any]:
    """The Polymarket orderbook subgraph's OrderFilledEvent (Goldsky export), V1 fields."""
    return {
        "id": f"{f['tx']}_{f['order_hash']}",
        "transactionHash": f["tx"],
        "timestamp": str(f["ts"]),
        "orderHash": f["order_hash"],
        "maker": f["maker"],
        "taker": f["taker"],
        "makerAssetId": str(f["maker_asset"]),
        "takerAssetId": str(f["taker_asset"]),
        "makerAmountFilled": str(f["maker_amt"]),
        "takerAmountFilled": str(f["taker_amt"]),
        "fee": str(f["fee"]),
    }


def poly_data_row(f: dict[str, Any]) -> dict[str, Any]:
    """poly_data's goldsky/orderFilled.csv columns."""
    return {
        "timestamp": f["ts"],
        "maker": f["maker"],
        "makerAssetId": f["maker_asset"],
        "makerAmountFilled": f["maker_amt"],
        "taker": f["taker"],
        "takerAssetId": f["taker_asset"],
        "takerAmountFilled": f["taker_amt"],
        "transactionHash": f["tx"],
    }


def blocks_of(logs: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    seen: dict[int, dict[str, Any]] = {}
    for raw in logs:
        n = _q(raw["blockNumber"])
        ts = _q(raw["blockTimestamp"])
        seen[n] = {"block_number": n, "block_hash": raw["blockHash"], "timestamp": ts}
    return [seen[n] for n in sorted(seen)]


# --- writers ----------------------------------------------------------------------------------


def write_parquet(path: Path, rows: Sequence[dict[str, Any]]) -> Path:
    columns = list(dict.fromkeys(k for r in rows for k in r))  # union: from_pylist reads row 1
    table = pa.Table.from_pylist([{k: r.get(k) for k in columns} for r in rows])
    pq.write_table(table, path, row_group_size=50)
    return path


def write_csv(
    path: Path, rows: Sequence[dict[str, Any]], *, columns: Sequence[str] | None = None
) -> Path:
    cols = list(columns or rows[0].keys())
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "wt", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(cols)
        for r in rows:
            w.writerow([r.get(k, "") for k in cols])
    return path


def write_jsonl(path: Path, rows: Sequence[dict[str, Any]]) -> Path:
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "wt", encoding="utf-8") as fh:
        for r in rows:
            fh.write(json.dumps(r, default=str) + "\n")
    return path


def write_json_array(path: Path, rows: Sequence[dict[str, Any]]) -> Path:
    """The rows as one JSON array on one line, as an API replies (e.g. Gamma's /markets)."""
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "wt", encoding="utf-8") as fh:
        fh.write(json.dumps(list(rows), default=str, separators=(",", ":")))
    return path
