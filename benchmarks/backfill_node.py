"""A JSON-RPC node over HTTP that serves a fixed chain of logs, for ``benchmarks/backfill.py``.

Runs in a process of its own (``python benchmarks/backfill_node.py LOGS.jsonl PORT``) so that
what it costs to answer is not counted in the backfill's process. It answers what the listener's
catch-up asks: ``eth_chainId``, ``eth_blockNumber`` (the last block of the file),
``eth_getLogs`` over a block range (every log of those blocks; the filter is not applied: the
file holds only the exchanges' and ConditionalTokens' logs), ``eth_getBlockByNumber`` and
``eth_getBlockByHash`` (headers whose hashes are those the logs name, parents linked). Like the
providers it stands in for, it refuses a range that holds more than ``--max-logs`` logs
(-32005 "query returned more than N results", Infura's and Alchemy's wording), so the backfill's
adaptive range does what it does against them. Each log's JSON is rendered once, at start-up.
"""

from __future__ import annotations

import argparse
import bisect
import hashlib
import json
from pathlib import Path
from typing import Any

from aiohttp import web

CHAIN_ID = 137


def synthetic_hash(number: int) -> str:
    return "0x" + hashlib.sha256(f"block {number}".encode()).hexdigest()


class Chain:
    """Blocks ``first..last`` with their logs (JSON text), hashes and timestamps."""

    def __init__(self, logs: list[dict[str, Any]]) -> None:
        self.numbers: list[int] = []
        self.texts: list[list[bytes]] = []
        self.hashes: dict[int, str] = {}
        self.times: dict[int, int] = {}
        for log in logs:
            number = int(log["blockNumber"], 16)
            if not self.numbers or self.numbers[-1] != number:
                self.numbers.append(number)
                self.texts.append([])
                self.hashes[number] = log["blockHash"]
                if log.get("blockTimestamp") is not None:
                    self.times[number] = int(log["blockTimestamp"], 16)
            self.texts[-1].append(json.dumps(log, separators=(",", ":")).encode())
        self.first, self.last = self.numbers[0], self.numbers[-1]
        self.t0 = self.times.get(self.first, 1_700_000_000)

    def hash_of(self, number: int) -> str:
        return self.hashes.get(number) or synthetic_hash(number)

    def header(self, number: int) -> dict[str, Any] | None:
        if number < 0 or number > self.last:
            return None
        return {
            "number": hex(number),
            "hash": self.hash_of(number),
            "parentHash": self.hash_of(number - 1),
            "timestamp": hex(self.times.get(number, self.t0 + 2 * (number - self.first))),
        }

    def logs_in(self, lo: int, hi: int) -> list[bytes]:
        out: list[bytes] = []
        for i in range(bisect.bisect_left(self.numbers, lo), bisect.bisect_right(self.numbers, hi)):
            out += self.texts[i]
        return out


def build_app(chain: Chain, max_logs: int) -> web.Application:
    by_hash = {h: n for n, h in chain.hashes.items()}

    def reply(rid: Any, result_json: bytes) -> web.Response:
        body = b'{"jsonrpc":"2.0","id":' + json.dumps(rid).encode() + b',"result":' + result_json
        return web.Response(body=body + b"}", content_type="application/json")

    def error(rid: Any, code: int, message: str) -> web.Response:
        body = {"jsonrpc": "2.0", "id": rid, "error": {"code": code, "message": message}}
        return web.Response(body=json.dumps(body).encode(), content_type="application/json")

    async def handle(request: web.Request) -> web.Response:
        msg = json.loads(await request.read())
        rid, method, params = msg.get("id"), msg.get("method"), msg.get("params") or []
        if method == "eth_chainId":
            return reply(rid, json.dumps(hex(CHAIN_ID)).encode())
        if method == "eth_blockNumber":
            return reply(rid, json.dumps(hex(chain.last)).encode())
        if method == "eth_getLogs":
            lo, hi = int(params[0]["fromBlock"], 16), int(params[0]["toBlock"], 16)
            logs = chain.logs_in(lo, hi)
            if len(logs) > max_logs:
                return error(rid, -32005, f"query returned more than {max_logs} results")
            return reply(rid, b"[" + b",".join(logs) + b"]")
        if method in ("eth_getBlockByNumber", "eth_getBlockByHash"):
            key = params[0]
            number = (
                chain.last
                if key == "latest"
                else by_hash.get(key, -1)
                if method == "eth_getBlockByHash"
                else int(key, 16)
            )
            return reply(rid, json.dumps(chain.header(number)).encode())
        return error(rid, -32601, f"the method {method} does not exist/is not available")

    app = web.Application(client_max_size=2**24)
    app.router.add_post("/", handle)
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("logs", type=Path, help="JSON lines, one raw log each, in chain order")
    parser.add_argument("port", type=int)
    parser.add_argument("--max-logs", type=int, default=10_000)
    args = parser.parse_args()
    with args.logs.open() as fh:
        chain = Chain([json.loads(line) for line in fh])
    web.run_app(build_app(chain, args.max_logs), host="127.0.0.1", port=args.port, print=None)


if __name__ == "__main__":
    main()
