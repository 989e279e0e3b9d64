"""What the CLOB stand-in's exchange does with an order, no kinder than the real one (polymarket
facts §6); ``fake_clob.FakeClob`` serves it over HTTP, and what happens to an order after its
placement (fills by counterparties, settlement, expiry, …) is :mod:`tests.execution.clob_events`.

* matching against a one-level book per token: a BUY whose limit reaches the ask, or a SELL whose
  limit reaches the bid, fills at the limit up to the size resting there (``ask_sizes`` /
  ``bid_sizes``; unlimited when absent); the remainder rests (``live``). A resting order fills
  later when the test calls ``ClobEvents.fill`` (a counterparty takes it);
* refusals with the real CLOB's messages (:class:`Rejected`, answered HTTP 400): ``not enough
  balance / allowance`` (collateral for BUYs, shares for SELLs, net of what live orders reserve,
  and the allowances: :mod:`tests.execution.clob_wallet`), ``order 0x… is
  invalid. Size (1.08) lower than the minimum: 5`` (the market's ``min_size``, for every order,
  BUY or SELL; py-clob-client issue 301), ``invalid amount for a marketable BUY order ($0.7),
  min size: $1`` (a BUY that crosses the book worth
  under $1; a resting BUY and a SELL have no dollar minimum), ``invalid expiration``, a price off
  the tick, a duplicate;
* GTD orders expire at their ``expiration`` (on the exchange's clock, which tests can move:
  ``clock_offset``);
* a fully matched order is MATCHED (the order endpoint answers nothing for it) and its fills are
  in ``trades`` (the account's trades: ``trader_side`` TAKER for fills at placement, MAKER with our
  entry in ``maker_orders`` for fills of a resting order);
* settlement on chain: each trade starts ``TRADE_STATUS_MATCHED`` (the REST wire form, as the
  real ``/data/trades`` serialises it) and the test moves it on with ``ClobEvents.settle``:
  MINED, CONFIRMED, RETRYING (resubmitted: a new transaction hash), FAILED (for good: the
  transfer never happened, so the balances it moved come back). ``last_update`` follows. What
  the real CLOB does with the order's matched size after a failed trade is not documented: the
  stand-in leaves the order as it was (a fully matched order stays gone from the order endpoint);
* several makers at a level (``ask_lots`` / ``bid_lots``): a taker order matched against k of
  them gets k trades, and the placement response lists the k trade ids;
* no self-trade prevention: an order that meets a live order of the same wallet (in its token,
  or the market's other outcome: pairs minted or merged) trades with it, both sides ours
  (``self_trades``; the listener's data shows wallets matched against themselves on chain);
* ``UNMATCHED`` (``ClobEvents.report``, or ``unmatched_next``: the next order is placed,
  not matched, and answered ``"status": "unmatched"``): what becomes of such an order is not
  documented (Polymarket's placement statuses: "order marketable, but failure delaying,
  placement successful"; other sources read it as terminal), so the stand-in takes both
  readings at their worst: the order may still be filled (``ClobEvents.fill``) and it
  stays ``UNMATCHED`` past its expiry (it is not expired like a live order);
* the validity monitor (``ClobEvents.monitor``): the CLOB keeps checking that resting orders
  can still be paid for (balances, allowances: Polymarket's docs, "Validity Checks") and
  cancels the ones that cannot — ``ClobEvents.withdraw`` takes collateral out of the wallet (a
  withdrawal, another program spending) and cancels our resting BUYs, newest first, until what
  is left covers the rest; ``ClobEvents.move_shares`` takes a token's shares out (transferred
  away, merged, redeemed) and cancels our resting SELLs of it the same way, as does a buy's
  trade that FAILED (its shares never came) and ``ClobEvents.revoke_share_approval`` (every
  resting SELL; ``share_approval`` False: every SELL refused);
* ``DELAYED`` (``delayed_next``: the next order is placed without matching, answered ``"status":
  "delayed"``, its matching held back as the CLOB holds a marketable order in some markets; with
  ``delay_message`` the answer also carries that ``errorMsg``, as Polymarket's table of insert
  messages lists ``ORDER_DELAYED``: "order match delayed due to market conditions"):
  the order endpoint shows it ``DELAYED``, a cancel is refused (``order can't be canceled``,
  as for any order not live) and ``ClobEvents.release`` ends the delay: the order meets
  the book then, as a taker (its trades ``TAKER``, the taker fee paid), the rest resting.
"""

from __future__ import annotations

import itertools
import secrets
import time
from decimal import ROUND_DOWN, Decimal
from typing import Any

from tests.execution.clob_market import (
    CANCELED_STATUSES,
    MIN_MARKETABLE_BUY_USDC,
    Market,
    Placement,
    Rejected,
)
from tests.execution.clob_wallet import ClobWallet

# The real CLOB's answer to a cancel of an order it does not hold (py-clob-client users' logs).
NOT_HELD = "order can't be found - already canceled or matched"


class ClobExchange(ClobWallet):
    """Markets, our orders, the account's trades and balances, on the exchange's clock."""

    def __init__(self) -> None:
        super().__init__()
        self.markets: dict[int, Market] = {}
        self.orders: dict[str, dict[str, Any]] = {}  # by order hash
        self.trades: list[dict[str, Any]] = []
        self.unmatched_next = False
        self.delayed_next = False
        self.delay_message = ""  # the errorMsg a delayed placement is answered with
        # Done orders (matched, cancelled, expired) are forgotten: the order endpoint answers
        # nothing for them, a cancel answers as for an order never held (``fake_clob``).
        self.forgetful = False
        # What a cancel of an order it does not hold is answered: the real CLOB's words, seen in
        # two forms — with the prefix (users' production logs) and without (the not_canceled
        # reason of a Polymarket adapter's recorded answers: "already canceled or matched").
        self.not_held_answer = NOT_HELD
        # The validity monitor lags a failed trade: it cancels what the failure left unbacked
        # only when the test calls ``ClobEvents.monitor`` (the executor may read the failure
        # first); off: at the failure.
        self.monitor_lags = False
        # The shares a BUY takes are in the wallet (sellable) once its trade is MINED, not at
        # the match: a SELL before is refused "not enough balance / allowance", as users of the
        # real CLOB report right after a filled buy. Off by default (most tests sell only after
        # their entry, and settle nothing); polymarket.md does not say which the CLOB does.
        self.credit_at_mined = False
        # The balance endpoint reports the chain's balance of a token, which still holds the
        # shares of a SELL of ours matched until its trade is mined (the exchange's ledger, what
        # it lets a SELL sell, has them gone at the match). Off by default: the stand-in's
        # balance is its ledger; polymarket.md does not say which the endpoint reports.
        self.sales_leave_at_mined = False
        self.clock_offset = 0.0  # move the exchange's clock (GTD expiry)
        self.cancel_log: list[tuple[float, str]] = []  # (monotonic time, order id) cancelled
        self.unbacked: set[str] = set()  # orders the validity monitor cancelled (clob_events)
        # (taker order, our resting order it met, shares): trades of the wallet with itself
        self.self_trades: list[tuple[str, str, Decimal]] = []
        self._ids = itertools.count(1)

    def now(self) -> float:
        return time.time() + self.clock_offset

    def add_market(self, market: Market) -> None:
        for token in market.tokens:
            self.markets[token] = market

    def place(
        self,
        order_id: str,
        order: dict[str, Any],
        order_type: str,
        *,
        owner: str,
        maker_address: str,
    ) -> Placement:
        """Match a signed order against the book and rest the remainder; raises
        :class:`Rejected` for what the exchange refuses."""
        token = int(order["tokenId"])
        market = self.markets[token]
        expiration = int(order["expiration"])
        if order_type == "GTD" and expiration <= self.now():
            raise Rejected("invalid expiration")
        maker, taker = Decimal(order["makerAmount"]), Decimal(order["takerAmount"])
        side = order["side"]
        shares, usdc = (taker, maker) if side == "BUY" else (maker, taker)
        price = usdc / shares
        size = shares / 10**6
        if price % market.tick != 0:
            raise Rejected(f"price {price} not on tick {market.tick}")
        if order_id in self.orders:
            raise Rejected(
                f"order {order_id} is invalid. Duplicated. Same order has already been placed, "
                "can't be placed again",
            )
        if size < market.min_size:
            raise Rejected(
                f"order {order_id} is invalid. Size ({size.normalize():f}) lower than the minimum: "
                f"{market.min_size.normalize():f}",
            )
        if side == "BUY":
            level, depth = market.asks.get(token), market.ask_sizes.get(token)
            crosses = level is not None and level <= price
        else:
            level, depth = market.bids.get(token), market.bid_sizes.get(token)
            crosses = level is not None and level >= price
        amount = price * size
        if side == "BUY" and crosses and amount < MIN_MARKETABLE_BUY_USDC:
            raise Rejected(
                f"invalid amount for a marketable BUY order (${amount.normalize():f}), "
                f"min size: ${MIN_MARKETABLE_BUY_USDC}",
            )
        unmatched = self.unmatched_next  # a refused order leaves it for the next
        delayed = self.delayed_next and not unmatched
        matched = Decimal(0)  # the shares it matches at placement
        if crosses and not unmatched and not delayed:
            matched = size if depth is None else min(size, depth)
        # a BUY pays the taker fee of what it takes on top of its price (polymarket.md §3)
        fee = self.taker_fee(token, matched, price) if side == "BUY" else Decimal(0)
        if not self.affordable(side, token, price, size, fee):
            raise Rejected("not enough balance / allowance")
        self.unmatched_next = False
        self.delayed_next = False
        if matched > 0 and depth is not None:
            (market.ask_sizes if side == "BUY" else market.bid_sizes)[token] = depth - matched
        self.orders[order_id] = {
            "order": order,
            "price": price,
            "shares": size,
            "matched": Decimal(0),
            "status": "UNMATCHED" if unmatched else "DELAYED" if delayed else "LIVE",
            "condition_id": market.condition_id,
            "owner": owner,
            "maker_address": maker_address,
            "order_type": order_type,
            "expiration": expiration,
            "trades": [],
        }
        lots = (market.ask_lots if side == "BUY" else market.bid_lots).get(token)
        trade_ids = [self._trade(order_id, q, taker=True) for q in self._split(matched, lots)]
        if not unmatched and not delayed:
            for resting, q in self._own_crossed(order_id, size - matched):
                # our own resting order met: both sides are ours (a self-trade)
                self.self_trades.append((order_id, resting, q))
                trade_ids.append(self._trade(order_id, q, taker=True))
                self._trade(resting, q, taker=False)
                matched += q
        return Placement(order_id, side, price, matched, unmatched, trade_ids, delayed)

    def _own_crossed(self, order_id: str, size: Decimal) -> list[tuple[str, Decimal]]:
        """The live orders of the same wallet that the new order ``order_id`` meets, and the
        shares each trades, up to ``size``: the CLOB matches a wallet against itself. In the
        token, a BUY at or above a SELL (a SELL at or below a BUY); across the market's two
        outcomes, two BUYs whose prices sum to 1 or more (minted), two SELLs to 1 or less
        (merged)."""
        new = self.orders[order_id]
        token, side, price = int(new["order"]["tokenId"]), new["order"]["side"], new["price"]
        crossed: list[tuple[str, Decimal]] = []
        for other_id, other in self.orders.items():
            if size <= 0:
                break
            o = other["order"]
            if other_id == order_id or other["status"] != "LIVE":
                continue
            if other["maker_address"].lower() != new["maker_address"].lower():
                continue
            if int(o["tokenId"]) == token:
                if o["side"] == side:
                    continue
                meets = price >= other["price"] if side == "BUY" else price <= other["price"]
            elif int(o["tokenId"]) in self.markets[token].tokens and o["side"] == side:
                total = price + other["price"]
                meets = total >= 1 if side == "BUY" else total <= 1
            else:
                continue
            rest = other["shares"] - other["matched"]
            if meets and rest > 0:
                q = min(size, rest)
                crossed.append((other_id, q))
                size -= q
        return crossed

    def cancel(self, order_ids: list[str], owner: str) -> tuple[list[str], dict[str, str]]:
        """Cancel these live orders of ``owner``: the ids cancelled, and why the others were not.
        A ``forgetful`` exchange no longer holds a done order (matched, cancelled, expired):
        it answers as for an order it never had."""
        canceled, not_canceled = [], {}
        for order_id in order_ids:
            found = self.orders.get(order_id)
            if found is not None and self.forgets(found):
                found = None
            if found is None or found["owner"] != owner:
                # the real CLOB's words for an order it does not hold
                not_canceled[order_id] = self.not_held_answer
                continue
            if found["status"] != "LIVE":
                not_canceled[order_id] = "order can't be canceled"
                continue
            found["status"] = "CANCELED"
            self.cancel_log.append((time.monotonic(), order_id))
            canceled.append(order_id)
        return canceled, not_canceled

    def forgets(self, placed: dict[str, Any]) -> bool:
        """Whether the exchange no longer holds this order of ours: a ``forgetful`` exchange
        forgets a done one (matched, cancelled, expired); an ``UNMATCHED`` one it still holds
        (it may fill), though its order endpoint shows it nowhere (``fake_clob``)."""
        return self.forgetful and placed["status"] in ("MATCHED", "EXPIRED", *CANCELED_STATUSES)

    def taker_fee(self, token: int, shares: Decimal, price: Decimal) -> Decimal:
        """What a taker pays on top (a BUY) or gives up (a SELL) for ``shares`` at ``price``:
        ``shares x r x (p(1 - p))^e`` on the market's schedule, floored to five decimals as the
        exchange charges it (0.03088 on chain for 0.030885); none without."""
        schedule = self.markets[token].fee
        if schedule is None or shares <= 0:
            return Decimal(0)
        rate, exponent = schedule
        fee = shares * rate * (price * (1 - price)) ** exponent
        return fee.quantize(Decimal("0.00001"), rounding=ROUND_DOWN)

    @staticmethod
    def _split(matched: Decimal, lots: list[Decimal] | None) -> list[Decimal]:
        """The match's pieces, one per maker order it takes (consumed from ``lots``)."""
        if matched <= 0:
            return []
        if not lots:
            return [matched]
        pieces: list[Decimal] = []
        while matched > 0 and lots:
            take = min(matched, lots[0])
            pieces.append(take)
            matched -= take
            lots[0] -= take
            if lots[0] <= 0:
                lots.pop(0)
        if matched > 0:
            pieces.append(matched)
        return pieces

    def _trade(self, order_id: str, shares: Decimal, *, taker: bool) -> str:
        """Record a fill of our order: as the taker at placement, or as a resting maker."""
        placed = self.orders[order_id]
        o = placed["order"]
        token, side, price = int(o["tokenId"]), o["side"], placed["price"]
        placed["matched"] += shares
        if placed["matched"] >= placed["shares"]:
            placed["status"] = "MATCHED"
        usdc = shares * price
        fee = self.taker_fee(token, shares, price) if taker else Decimal(0)
        credited = side == "SELL" or not self.credit_at_mined
        if side == "BUY":
            if credited:
                self.holdings[token] = self.holdings.get(token, Decimal(0)) + shares
            if self.collateral is not None:
                self.collateral -= usdc + fee
            self.spend_allowance(token, usdc + fee)
        else:
            self.holdings[token] = self.holdings.get(token, Decimal(0)) - shares
            if self.collateral is not None:
                self.collateral += usdc - fee
        trade_id = f"trade-{next(self._ids)}-{secrets.token_hex(4)}"
        other_side = "SELL" if side == "BUY" else "BUY"
        market = self.markets[token]
        # The trade's fee_rate_bps: the market's rate r in bps (the SDK gives the field no
        # meaning; this is one reading of it), 0 without a schedule.
        bps = "0" if market.fee is None else str(market.fee[0] * 10_000)
        ours = {
            "order_id": order_id,
            "asset_id": str(token),
            "maker_address": placed["maker_address"],
            "owner": placed["owner"],
            "side": side,
            "price": str(price),
            "matched_amount": str(shares),
            "outcome": "Yes",
            "fee_rate_bps": "0",
        }
        theirs = {
            **ours,
            "order_id": "0x" + secrets.token_hex(32),
            "maker_address": "0x" + "0b" * 20,
            "owner": "someone-else",
            "side": other_side,
        }
        now = int(self.now())
        self.trades.append(
            {
                "id": trade_id,
                "taker_order_id": order_id if taker else "0x" + secrets.token_hex(32),
                "market": market.condition_id,
                "asset_id": str(token),
                "side": side if taker else other_side,
                "size": str(shares),
                "fee_rate_bps": bps if taker else "0",
                "price": str(price),
                "status": "TRADE_STATUS_MATCHED",
                "match_time": str(now),
                "last_update": str(now),
                "outcome": "Yes",
                "bucket_index": 0,
                "owner": placed["owner"] if taker else "someone-else",
                "maker_address": placed["maker_address"] if taker else "0x" + "0b" * 20,
                "transaction_hash": "0x" + secrets.token_hex(32),
                "maker_orders": [theirs] if taker else [ours],
                "trader_side": "TAKER" if taker else "MAKER",
                "_owners": {placed["owner"]},
                "_moved": (token, side, shares, usdc),
                "_credited": credited,  # the shares moved in the wallet (credit_at_mined)
            }
        )
        placed["trades"].append(trade_id)
        return trade_id
