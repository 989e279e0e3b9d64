"""The wallet as the CLOB stand-in's exchange sees it: collateral, allowances, shares, and
what our live orders reserve of them (polymarket facts §6).

The exchange refuses an order it cannot be paid for (``not enough balance / allowance``,
:meth:`ClobWallet.affordable`): a BUY's collateral (its taker fee on top) net of what live BUYs
reserve, and bounded by the wallet's allowance to the exchange that settles its market, net of
the BUYs resting there (``allowances``, by exchange address, absent: unlimited; fills spend it,
as ``transferFrom`` does); a SELL's shares (``holdings``) net of live SELLs, and the wallet's
approval of its conditional tokens (``share_approval``). ``allowance`` False: every order
refused. The validity monitor (``ClobEvents.monitor``) reads the same reservations.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from tests.execution.clob_market import Market
from tests.execution.clob_signing import exchange_for


class ClobWallet:
    """The wallet's funds; the base of ``ClobExchange``, whose orders and markets it reads."""

    markets: dict[int, Market]
    orders: dict[str, dict[str, Any]]

    def __init__(self) -> None:
        self.collateral: Decimal | None = None  # USDC balance; None: unlimited
        self.allowance = True
        # The wallet's collateral allowance to an exchange (lower-case address), in dollars.
        self.allowances: dict[str, Decimal] = {}
        self.holdings: dict[int, Decimal] = {}  # outcome shares held (what SELLs can sell)
        # The wallet's approval of its conditional tokens to the exchanges (what SELLs spend).
        self.share_approval = True

    def exchange_of(self, token: int) -> str:
        """The exchange (lower-case address) that settles the token's market's orders."""
        return exchange_for(token, self.markets[token].neg_risk)[0].lower()

    def reserved(self, side: str, token: int | None, exchange: str | None = None) -> Decimal:
        """What our live (and delayed) orders of ``side`` hold back: a BUY's dollars, a SELL's
        shares — of ``token`` only, and settled by ``exchange`` only, when given."""
        total = Decimal(0)
        for placed in self.orders.values():
            o = placed["order"]
            if placed["status"] not in ("LIVE", "DELAYED") or o["side"] != side:
                continue
            if token is not None and int(o["tokenId"]) != token:
                continue
            if exchange is not None and self.exchange_of(int(o["tokenId"])) != exchange:
                continue
            rest = placed["shares"] - placed["matched"]
            total += rest * placed["price"] if side == "BUY" else rest
        return total

    def affordable(
        self, side: str, token: int, price: Decimal, size: Decimal, fee: Decimal
    ) -> bool:
        """Whether the wallet can pay for a new order (a BUY's ``fee`` on top) beside what our
        live orders reserve: the exchange's ``not enough balance / allowance`` when not."""
        if not self.allowance:
            return False
        if side == "BUY":
            exchange = self.exchange_of(token)
            allowed = self.allowances.get(exchange)
            cost = self.reserved("BUY", None, exchange) + price * size + fee
            if allowed is not None and cost > allowed:
                return False
            if self.collateral is None:
                return True
            return self.reserved("BUY", None) + price * size + fee <= self.collateral
        if not self.share_approval:
            return False
        return self.reserved("SELL", token) + size <= self.holdings.get(token, Decimal(0))

    def spend_allowance(self, token: int, usdc: Decimal) -> None:
        """A fill's ``transferFrom`` spends the allowance to the token's exchange (a failed
        trade gives it back: ``usdc`` negative)."""
        exchange = self.exchange_of(token)
        if exchange in self.allowances:
            self.allowances[exchange] -= usdc
