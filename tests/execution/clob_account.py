"""The CLOB stand-in's account reads (``fake_clob.FakeClob``'s routes, mixed in before the exchange
model they read): ``GET /data/trades``, the account's trades, paginated by an offset cursor
(``page_size``, ``next_cursor``; by match time with ``after``, inclusive, and ``before``,
exclusive; ``id`` for one trade) with the listing's faults (``unlisted``, ``repeated``,
``trade_patches``, ``endless_trades``); ``GET /balance-allowance``, the wallet's collateral and
allowances (``asset_type=COLLATERAL``) or its balance of one outcome token and the exchanges'
approval of its conditional tokens (``asset_type=CONDITIONAL&token_id=``), base units of 6
decimals as strings (``balance_patch``; ``balance_reads``, the asset types asked, in order;
``cached_shares``, a token's balance still reported until ``GET /balance-allowance/update`` has
the exchange read the chain again; ``sales_leave_at_mined``: the balance is the chain's, which
still holds the shares of a SELL of ours matched until its trade is mined)."""

from __future__ import annotations

import base64
from decimal import Decimal
from typing import Any

from aiohttp import web

from tests.execution.clob_signing import EXCHANGE_V3, NEG_RISK_EXCHANGE, STANDARD_EXCHANGE

_EXCHANGES = (STANDARD_EXCHANGE, NEG_RISK_EXCHANGE, EXCHANGE_V3)


class ClobAccount:
    """Mixed into the stand-in (``FakeClob``), before the exchange model it reads."""

    trades: list[dict[str, Any]]
    trade_patches: dict[str, dict[str, Any]]
    unlisted: set[str]
    repeated: set[str]
    page_size: int
    trade_pages: int
    endless_trades: bool
    collateral: Decimal | None
    allowance: bool
    allowances: dict[str, Decimal]
    balance_patch: dict[str, Any]
    holdings: dict[int, Decimal]
    share_approval: bool
    balance_reads: list[str]
    cached_shares: dict[int, Decimal]
    sales_leave_at_mined: bool

    async def _l2(self, request: web.Request) -> tuple[Any, str]:
        raise NotImplementedError  # FakeClob's

    def _reject(self, status: int, message: str) -> web.Response:
        raise NotImplementedError  # FakeClob's

    async def get_trades(self, request: web.Request) -> web.Response:
        creds, problem = await self._l2(request)
        if creds is None:
            return self._reject(401, problem)
        q = request.query
        after = int(q["after"]) if q.get("after", "").isdigit() else None
        before = int(q["before"]) if q.get("before", "").isdigit() else None
        mine = [
            {k: v for k, v in t.items() if not k.startswith("_")}
            | self.trade_patches.get(t["id"], {})
            for t in self.trades
            if creds.key in t["_owners"]
            and (after is None or int(t["match_time"]) >= after)
            and (before is None or int(t["match_time"]) < before)
            and (not q.get("id") or t["id"] == q["id"])
            and t["id"] not in self.unlisted
        ]
        # listed twice: an offset cursor over a listing that grew while it was read
        mine = [t for t in mine for _ in range(2 if t["id"] in self.repeated else 1)]
        start = int(base64.b64decode(q["next_cursor"]).decode()) if q.get("next_cursor") else 0
        page = mine[start : start + self.page_size]
        end = start + len(page)
        cursor = "LTE=" if end >= len(mine) else base64.b64encode(str(end).encode()).decode()
        self.trade_pages += 1
        if self.endless_trades:  # never the end: each page names a cursor never seen before
            page = mine[:1]
            cursor = base64.b64encode(str(10**6 + self.trade_pages).encode()).decode()
        return web.json_response(
            {"data": page, "next_cursor": cursor, "limit": self.page_size, "count": len(page)}
        )

    async def balance_allowance(self, request: web.Request) -> web.Response:
        creds, problem = await self._l2(request)
        if creds is None:
            return self._reject(401, problem)
        q = request.query
        asset = q.get("asset_type")
        if asset not in ("COLLATERAL", "CONDITIONAL") or "signature_type" not in q:
            return self._reject(400, "invalid asset_type / signature_type")
        self.balance_reads.append(asset)
        if asset == "CONDITIONAL":
            return self._conditional(q.get("token_id", ""))
        balance = Decimal(10**9) if self.collateral is None else self.collateral
        allowances = {
            exchange: str(int(self.allowances[exchange.lower()] * 10**6))
            if exchange.lower() in self.allowances
            else str(2**256 - 1)
            if self.allowance
            else "0"
            for exchange in _EXCHANGES
        }
        return web.json_response(
            {
                "balance": str(int(balance * 10**6)),
                "allowances": allowances,
                **self.balance_patch,
            }
        )

    def _conditional(self, token_id: str) -> web.Response:
        """The wallet's balance of one outcome token (its ERC-1155 balance on the
        ConditionalTokens contract, whole: not net of the SELLs resting on it), and each
        exchange's approval of the wallet's conditional tokens (``setApprovalForAll``: all or
        nothing, 2²⁵⁶ - 1 or 0)."""
        if not token_id.isdigit():
            return self._reject(400, "invalid token_id")
        token = int(token_id)
        chain = self.holdings.get(token, Decimal(0)) + self._sold_unmined(token)
        held = self.cached_shares.get(token, chain)
        approved = str(2**256 - 1) if self.share_approval else "0"
        return web.json_response(
            {
                "balance": str(int(held * 10**6)),
                "allowances": dict.fromkeys(_EXCHANGES, approved),
                **self.balance_patch,
            }
        )

    def _sold_unmined(self, token: int) -> Decimal:
        """With ``sales_leave_at_mined``, the shares of our SELLs of ``token`` matched and not
        mined yet (MATCHED, RETRYING): the exchange's ledger has them gone (``holdings``: no
        second SELL of them is taken), the chain still holds them until the trade is mined."""
        if not self.sales_leave_at_mined:
            return Decimal(0)
        unmined = ("TRADE_STATUS_MATCHED", "TRADE_STATUS_RETRYING")
        return sum(
            (t["_moved"][2] for t in self.trades
             if t["_moved"][:2] == (token, "SELL") and t["status"] in unmined),
            Decimal(0),
        )  # fmt: skip

    async def update_balance_allowance(self, request: web.Request) -> web.Response:
        """``GET /balance-allowance/update``: the exchange reads the wallet's balance and
        allowances again from the chain (a token's ``cached_shares`` forgotten); its body is
        not read (the SDK does not)."""
        creds, problem = await self._l2(request)
        if creds is None:
            return self._reject(401, problem)
        q = request.query
        if q.get("asset_type") not in ("COLLATERAL", "CONDITIONAL") or "signature_type" not in q:
            return self._reject(400, "invalid asset_type / signature_type")
        self.balance_reads.append(f"update {q['asset_type']}")
        if q.get("token_id", "").isdigit():
            self.cached_shares.pop(int(q["token_id"]), None)
        return web.json_response(None)
