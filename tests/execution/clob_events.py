"""What happens to our orders at the CLOB stand-in after their placement (the exchange model's
events, :class:`ClobEvents` on :class:`~tests.execution.clob_exchange.ClobExchange`; a test
moves the exchange on with them): a counterparty taking a resting order (:meth:`ClobEvents.fill`),
a delayed order's matching (:meth:`ClobEvents.release`), a trade's settlement on chain
(:meth:`ClobEvents.settle`), its market's resolution cancelling what rests on it
(:meth:`ClobEvents.resolve_market`), a status the order endpoint reports from now on
(:meth:`ClobEvents.report`), GTD expiry on the exchange's clock (:meth:`ClobEvents.expire`),
and the validity monitor (:meth:`ClobEvents.monitor`) cancelling resting orders the wallet no
longer backs: BUYs a withdrawal left unpaid (:meth:`ClobEvents.withdraw`), SELLs of shares that
left the wallet (:meth:`ClobEvents.move_shares`: transferred away, merged, redeemed; a failed
buy's, :meth:`ClobEvents.settle`) or whose approval to the exchange was revoked
(:meth:`ClobEvents.revoke_share_approval`)."""

from __future__ import annotations

import secrets
import time
from decimal import Decimal
from typing import Any

from tests.execution.clob_exchange import ClobExchange
from tests.execution.clob_market import MARKET_RESOLVED

# An order that may still trade: resting, its matching held back, or its delay failed.
_OPEN = ("LIVE", "DELAYED", "UNMATCHED")


class ClobEvents(ClobExchange):
    """The exchange model with the events a test makes happen."""

    def trade(self, trade_id: str) -> dict[str, Any]:
        return next(t for t in self.trades if t["id"] == trade_id)

    def settle(self, trade_id: str, status: str) -> None:
        """Move a trade on in its on-chain settlement: MINED, CONFIRMED, RETRYING or FAILED. A
        FAILED trade's match stays in its order's ``size_matched`` (the real CLOB shows MATCHED
        and ``size_matched`` for matches that never settle: py-clob-client-v2 issue 34)."""
        assert status in ("MATCHED", "MINED", "CONFIRMED", "RETRYING", "FAILED"), status
        t = self.trade(trade_id)
        previous = t["status"].removeprefix("TRADE_STATUS_")
        assert previous not in ("CONFIRMED", "FAILED"), f"{trade_id} is final: {previous}"
        t["status"] = "TRADE_STATUS_" + status
        t["last_update"] = str(int(self.now()))
        if status == "RETRYING":
            t["transaction_hash"] = "0x" + secrets.token_hex(32)  # resubmitted
        token, side, shares, usdc = t["_moved"]
        if status in ("MINED", "CONFIRMED") and not t.get("_credited", True):
            t["_credited"] = True
            self.holdings[token] = self.holdings.get(token, Decimal(0)) + shares
        if status == "FAILED":
            sign = -1 if side == "BUY" else 1
            if t.get("_credited", True):
                self.holdings[token] = self.holdings.get(token, Decimal(0)) + sign * shares
            if self.collateral is not None:
                self.collateral -= sign * usdc
            if side == "BUY":
                self.spend_allowance(token, -usdc)  # the transfer never happened
            if not self.monitor_lags:
                self.monitor()  # a failed buy's shares, a failed sell's dollars: gone

    def report(self, order_id: str, status: str) -> None:
        """The order endpoint shows the order with this status from now on (``UNMATCHED``: a
        marketable order whose matching delay failed)."""
        self.orders[order_id]["status"] = status

    def fill(self, order_id: str, shares: Decimal | None = None) -> str:
        """A counterparty takes (part of) our resting order: a MAKER fill, in /data/trades."""
        placed = self.orders[order_id]
        assert placed["status"] in ("LIVE", "UNMATCHED"), placed["status"]
        rest = placed["shares"] - placed["matched"]
        return self._trade(order_id, rest if shares is None else min(shares, rest), taker=False)

    def expire(self) -> None:
        """Live GTD orders past their expiration are EXPIRED (before every request)."""
        now = self.now()
        for placed in self.orders.values():
            if (
                placed["status"] == "LIVE"
                and placed["order_type"] == "GTD"
                and placed["expiration"] <= now
            ):
                placed["status"] = "EXPIRED"

    def withdraw(self, usdc: Decimal) -> list[str]:
        """Collateral leaves the wallet; the validity monitor cancels our resting BUYs (newest
        first) that what is left no longer covers. The ids it cancelled."""
        assert self.collateral is not None, "a withdrawal needs a finite balance"
        self.collateral -= usdc
        return self.monitor()

    def move_shares(self, token: int, shares: Decimal) -> list[str]:
        """``shares`` of ``token`` leave the wallet (transferred away, merged with the other
        outcome into collateral, redeemed); the validity monitor cancels our resting SELLs of
        it (newest first) that what is left no longer covers. The ids it cancelled."""
        held = self.holdings.get(token, Decimal(0))
        assert shares <= held, f"the wallet holds {held} of {token}"
        self.holdings[token] = held - shares
        return self.monitor()

    def revoke_share_approval(self) -> list[str]:
        """The wallet revokes the exchange's approval of its conditional tokens
        (``setApprovalForAll(exchange, false)``): no SELL can settle; the validity monitor
        cancels every resting one, and new ones are refused. The ids it cancelled."""
        self.share_approval = False
        return self.monitor()

    def monitor(self) -> list[str]:
        """The validity monitor (Polymarket: orders "continually monitored to make sure they
        remain valid ... underlying balances, allowances"): newest first, cancel our resting
        BUYs while the collateral does not cover what the BUYs resting reserve, and our resting
        SELLs of a token while its shares held (or their approval) do not cover what its SELLs
        reserve. The ids it cancelled."""
        cancelled: list[str] = []
        for order_id in reversed(list(self.orders)):
            placed = self.orders[order_id]
            if placed["status"] != "LIVE" or not self._unbacked(placed):
                continue
            placed["status"] = "CANCELED"
            self.cancel_log.append((time.monotonic(), order_id))
            self.unbacked.add(order_id)
            cancelled.append(order_id)
        return cancelled

    def _unbacked(self, placed: dict[str, Any]) -> bool:
        """Whether the wallet no longer backs what the orders of this one's side (and token,
        for a SELL) reserve."""
        o = placed["order"]
        if o["side"] == "BUY":
            return self.collateral is not None and self.reserved("BUY", None) > self.collateral
        token = int(o["tokenId"])
        if not self.share_approval:
            return True
        return self.reserved("SELL", token) > self.holdings.get(token, Decimal(0))

    def resolve_market(self, condition_id: str) -> list[str]:
        """The market resolves: the CLOB cancels every order open on it (``_OPEN``) — shown
        ``CANCELED_MARKET_RESOLVED`` (Polymarket's order statuses; venue-initiated cancels of a
        resolved market), forgotten by a ``forgetful`` exchange as any done order — and its
        book is gone (``GET /book`` answers 404). The ids it cancelled."""
        cancelled: list[str] = []
        for market in {m.condition_id: m for m in self.markets.values()}.values():
            if market.condition_id != condition_id:
                continue
            market.resolved = True
            for order_id, placed in self.orders.items():
                if placed["condition_id"] == condition_id and placed["status"] in _OPEN:
                    placed["status"] = MARKET_RESOLVED
                    self.cancel_log.append((time.monotonic(), order_id))
                    cancelled.append(order_id)
        return cancelled

    def live_orders(self) -> list[str]:
        self.expire()
        return [oid for oid, p in self.orders.items() if p["status"] == "LIVE"]

    def release(self, order_id: str) -> list[str]:
        """End a ``DELAYED`` order's delay: it meets the book now as a taker (up to the level's
        depth), the rest resting ``LIVE``; its trade ids."""
        placed = self.orders[order_id]
        assert placed["status"] == "DELAYED", placed["status"]
        placed["status"] = "LIVE"
        o, price, size = placed["order"], placed["price"], placed["shares"]
        token, side, market = int(o["tokenId"]), o["side"], self.markets[int(o["tokenId"])]
        if side == "BUY":
            level, depth = market.asks.get(token), market.ask_sizes.get(token)
            crosses = level is not None and level <= price
        else:
            level, depth = market.bids.get(token), market.bid_sizes.get(token)
            crosses = level is not None and level >= price
        if not crosses:
            return []
        matched = size if depth is None else min(size, depth)
        if matched > 0 and depth is not None:
            (market.ask_sizes if side == "BUY" else market.bid_sizes)[token] = depth - matched
        lots = (market.ask_lots if side == "BUY" else market.bid_lots).get(token)
        return [self._trade(order_id, q, taker=True) for q in self._split(matched, lots)]
