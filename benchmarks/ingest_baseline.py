"""The ingest benchmark's baseline (``benchmarks/ingest.py``): what a straightforward listener
does — web3.py's ``contract.events.OrderFilled().process_log(log)`` with the exchange's ABI, then
one ``INSERT … ON CONFLICT DO NOTHING`` per row in autocommit."""

from __future__ import annotations

import sys
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))  # log_mix

from log_mix import CHAIN_ID  # noqa: E402

from orderflow import db  # noqa: E402
from orderflow.chain import contracts as c  # noqa: E402
from orderflow.chain import partitions  # noqa: E402


def _event_abi(version: str) -> list[dict[str, Any]]:
    def arg(name: str, typ: str, indexed: bool = False) -> dict[str, Any]:
        return {"indexed": indexed, "name": name, "type": typ}

    head = [
        arg("orderHash", "bytes32", True),
        arg("maker", "address", True),
        arg("taker", "address", True),
    ]
    if version == "V1":
        body = [
            arg(n, "uint256")
            for n in (
                "makerAssetId",
                "takerAssetId",
                "makerAmountFilled",
                "takerAmountFilled",
                "fee",
            )
        ]
    else:
        body = [
            arg("side", "uint8"),
            arg("tokenId", "uint256"),
            *(arg(n, "uint256") for n in ("makerAmountFilled", "takerAmountFilled", "fee")),
            arg("builder", "bytes32"),
            arg("metadata", "bytes32"),
        ]
    return [{"anonymous": False, "inputs": head + body, "name": "OrderFilled", "type": "event"}]


BASELINE_INSERT = """
INSERT INTO orderflow_trades (chain_id, tx_hash, log_index, block_number, block_hash, timestamp,
    exchange, exchange_version, order_hash, wallet_address, taker_address, is_taker_aggregate,
    side, token_id, price, size, usdc_size, fee, fee_asset)
VALUES ($1, $2, $3, $4, $5, to_timestamp($6), $7, $8, $9, $10, $11, $12, $13, $14, $15, $16,
        $17, $18, $19)
ON CONFLICT (chain_id, block_number, log_index) DO NOTHING
"""


def _baseline_row(contracts: dict[str, Any], log: dict[str, Any]) -> tuple[Any, ...]:
    """What a straightforward listener does per log: web3 decodes, Python shapes the row."""
    address = log["address"]
    version = c.MAINNET.exchanges[address]
    ev = contracts[address].events.OrderFilled().process_log(log)
    a = ev["args"]
    if version == "V1":
        buy = a["makerAssetId"] == 0
        token = a["takerAssetId"] if buy else a["makerAssetId"]
        fee_asset = "SHARES" if buy else "COLLATERAL"
    else:
        buy = a["side"] == 0
        token = a["tokenId"]
        fee_asset = "COLLATERAL"
    maker_amount, taker_amount = a["makerAmountFilled"], a["takerAmountFilled"]
    shares, collateral = (taker_amount, maker_amount) if buy else (maker_amount, taker_amount)
    unit = Decimal(1_000_000)
    taker = a["taker"].lower()
    return (
        CHAIN_ID,
        ev["transactionHash"],
        int(ev["logIndex"], 16),
        int(ev["blockNumber"], 16),
        ev["blockHash"],
        int(log["blockTimestamp"], 16),
        address,
        version,
        "0x" + a["orderHash"].hex(),
        a["maker"].lower(),
        taker,
        taker == address,
        "BUY" if buy else "SELL",
        token,
        Decimal(collateral) / Decimal(shares) if shares else 0,
        Decimal(shares) / unit,
        Decimal(collateral) / unit,
        Decimal(a["fee"]) / unit,
        fee_asset,
    )


def baseline_contracts() -> dict[str, Any]:
    from web3 import Web3

    w3 = Web3()
    return {
        address: w3.eth.contract(address=Web3.to_checksum_address(address), abi=_event_abi(version))
        for address, version in c.MAINNET.exchanges.items()
    }


async def run_baseline(dsn: str, fills: list[dict[str, Any]]) -> float:
    contracts = baseline_contracts()
    conn = await db.connect(dsn)
    try:
        blocks = [int(log["blockNumber"], 16) for log in fills]
        if blocks:  # the partitions of orderflow_trades (migration 012), outside the timing
            await partitions.ensure(conn, min(blocks), max(blocks))
        started = time.perf_counter()
        for log in fills:
            await conn.execute(BASELINE_INSERT, *_baseline_row(contracts, log))
        return time.perf_counter() - started
    finally:
        await conn.close()
