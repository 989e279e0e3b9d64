"""Live trading on Polymarket's CLOB V2 through the official SDK (PyPI ``polymarket-client``).

Orders are GTD limit orders at the decided price (observed price plus the allowed slippage, on the
market's tick): they fill at that price or better, and a remainder expires on its own a few
minutes later instead of resting forever. The SDK looks up the market's tick size and neg-risk
flag, builds the V2 order (salt, maker, signer, amounts, side, signature type, timestamp,
metadata, builder), signs it (EIP-712) and authenticates requests with L2 HMAC headers.

Fills are read from the account's trades (``GET /data/trades``), the exchange's complete record:
the order endpoint answers nothing for a fully matched order (py-clob-client issue 217), so it
only tells whether an order is still live. Each fill is keyed by its trade id, so a fill reported
both in a placement response and in the trades is booked once. A booked trade's settlement status
is read by its id (``GET /data/trades?id=``, as the SDK's own settlement waiter does) until it is
CONFIRMED or FAILED.

The market's own minimum order size and tick come from its book (``GET /book?token_id=``), its
taker fee schedule from ``GET /clob-markets/{condition}`` as the SDK reads it, cached per token
(:mod:`orderflow.execution.market_rules`, :mod:`orderflow.execution.live_rules`): a fill at
placement pays the schedule its decision priced with, a fill from the account's trades the
market's (:mod:`orderflow.execution.live_replies`); a refusal under the minimum records
the minimum it states, so the next decision skips what the exchange would refuse again; any
other refusal of the order has the token's rules read again (its tick may have changed). An order
refused because the exchange takes none now (its engine restarting: 425; cancel-only, post-only,
disabled: 503 — :func:`~orderflow.execution.live_errors.trading_restriction`) is a rejection
that placed nothing, with its Retry-After.
An answer the SDK reads as a refusal whose words say the exchange took the order (``unmatched``,
a delay's or an execution's message:
:data:`~orderflow.execution.placement_answer.PLACED_ANYWAY`), one that gives no reason for a
refusal (:func:`~orderflow.execution.reply_checks.placement_untold`), or any answer that may hide a
placement (a 5xx, a timeout, a dropped connection), leaves the order in doubt: reconciled by its
own ids, never sent again.

The wallet's collateral balance and allowances are read before a live strategy decides entries
(``GET /balance-allowance``, the SDK's ``get_balance_allowance``: :meth:`LiveBroker.collateral`),
for its cash and the shared wallet's check (:mod:`orderflow.execution.wallet`): a BUY may spend
the balance capped by the allowance to the exchange that settles its market. Its balance of an
outcome token (``asset_type=CONDITIONAL``: :meth:`LiveBroker.wallet_shares`) is read before a
live exit, which squares the books with it (:mod:`orderflow.execution.wallet_shares`).

Only this module, :mod:`orderflow.execution.live_trades` (the account's trades: ``fills``,
``trade``), :mod:`orderflow.execution.live_errors` (the SDK's errors as the broker's),
:mod:`orderflow.execution.placement_answer` (a placement's answer read),
:mod:`orderflow.execution.live_connect` (authentication: ``open_live_broker``) and
:mod:`orderflow.execution.live_reads` (an order, the account's trades: read raw through the
SDK's client and parsed with its models item by item, so that one reply that does not parse
fails only what it is about) import the SDK; :mod:`orderflow.execution.live_replies` reads its
replies (order statuses, our fills in a trade). The rest of the executor sees the
:class:`Broker` protocol.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Collection, Sequence
from dataclasses import replace
from decimal import Decimal

from polymarket import AsyncSecureClient, PolymarketError, RequestRejectedError
from polymarket.errors import (
    OrderHeartbeatMismatchError,
    RateLimitError,
    UnexpectedResponseError,
)
from polymarket.models import AcceptedOrder
from polymarket.models.clob.order_response import normalize_order_response

from orderflow.errors import ExecutionError
from orderflow.execution.broker import (
    BookTop,
    CancelResult,
    Collateral,
    ExchangeBusyError,
    Mode,
    OrderInDoubtError,
    OrderOutcome,
    OrderRequest,
    PreparedOrder,
    WalletShares,
)
from orderflow.execution.exchange_text import exchange_text
from orderflow.execution.live_errors import busy, trading_restriction
from orderflow.execution.live_reads import (
    order_exchange,
    order_unknown,
    post_order,
    problem_of,
    read_order,
    refresh_balance,
)
from orderflow.execution.live_redeem import held_shares, look_up, send_redemption
from orderflow.execution.live_replies import matching_held, order_status
from orderflow.execution.live_trades import LiveTrades
from orderflow.execution.market_rules import RulesCache
from orderflow.execution.order_ids import candidate_order_ids
from orderflow.execution.placement_answer import (
    PLACED_ANYWAY,
    TRADING_RESTRICTED,
    accepted,
    not_accepted,
)
from orderflow.execution.redeem import Lookup
from orderflow.execution.region import RegionRefusals, geoblocked
from orderflow.execution.reply_checks import refuse_reply
from orderflow.execution.signed_orders import SHARE_UNITS, public_order, signed_shares
from orderflow.execution.signer_pacing import SignerPacing
from orderflow.strategy.settings import MIN_ORDER_TTL_SECS

log = logging.getLogger(__name__)

# The SDK wants GTD expirations at least 180 s ahead; a strategy's order_ttl_secs is never less.
MIN_EXPIRY_SECS = MIN_ORDER_TTL_SECS
_BPS = Decimal(10_000)


class LiveBroker(LiveTrades):
    mode: Mode = "live"

    def __init__(
        self,
        client: AsyncSecureClient,
        *,
        chain_id: int = 137,
        pacing: SignerPacing | None = None,
    ) -> None:
        self.client = client
        # the signer's rate-limit buckets as the answers report them (the SDK's listener's)
        self.pacing = pacing or SignerPacing()
        self.chain_id = chain_id
        self.rules = RulesCache()  # the books' minimum and tick, by token
        self.tops: dict[int, BookTop] = {}  # the books last read, by token
        self.fees = RulesCache()  # the markets' fee schedules, by token
        self.region = RegionRefusals(self.mode)
        # the id the exchange gave our last accepted order heartbeat, sent with the next one
        self.heartbeat_id = ""

    def _refused(self, request: OrderRequest, reason: str) -> OrderOutcome:
        """A refusal; one under the market's minimum records the minimum it states."""
        minimum = self.rules.refused(request.token_id, reason)
        if minimum is None:
            self.rules.stale(request.token_id)  # a tick changed since, say: read it again
        else:
            log.warning(
                "order under the market's minimum size refused; minimum recorded",
                extra={"token_id": str(request.token_id), "min_order_size": str(minimum)},
            )
        return OrderOutcome(status="REJECTED", reason=reason)

    async def prepare(self, request: OrderRequest) -> PreparedOrder:
        expiration = int(time.time()) + max(MIN_EXPIRY_SECS, request.expires_in_secs)
        try:
            signed = await self.client.create_limit_order(
                token_id=str(request.token_id),
                price=request.price,
                size=request.shares,
                side=request.side,
                expiration=expiration,
            )
        except PolymarketError as exc:
            self.rules.stale(request.token_id)  # priced off the market's tick now, say
            problem = f"{type(exc).__name__}: {problem_of(exc)}"
            raise ExecutionError(f"cannot build the order: {problem}") from None
        public = public_order(signed)
        return PreparedOrder(
            request=replace(request, shares=signed_shares(signed)),
            client_order_id=str(signed.salt),
            candidate_order_ids=candidate_order_ids(public, chain_id=self.chain_id),
            signed=public,
            handle=signed,
        )

    async def send(self, order: PreparedOrder) -> OrderOutcome:
        try:
            with self.pacing.drawing("order", 1):
                raw = await post_order(self.client, order.handle)
        except RateLimitError as exc:
            # Throttled before the exchange processed anything: nothing was placed.
            return OrderOutcome(
                status="REJECTED", reason="http 429: rate limited", retry_after=exc.retry_after
            )
        except RequestRejectedError as exc:
            if geoblocked(exc):  # refused for where it came from, not for our key
                return OrderOutcome(
                    status="REJECTED", reason=self.region.refused(order.request.side, exc)
                )
            if exc.status in (401, 403):  # our key refused, not the order: nothing was placed
                raise busy("order post", exc) from None
            restriction = trading_restriction(exc)
            if restriction is not None:
                # The exchange takes no order now (its engine restarting: 425; cancel-only,
                # post-only or disabled: 503): nothing was placed, and the order is not at
                # fault. Not in doubt as another 503 is (an exit would wait out the order's
                # life), not one of the order's own refusals (an exit is tried again as after a
                # 429, never made hourly; the market's rules are not read again).
                return OrderOutcome(
                    status="REJECTED",
                    reason=f"http {exc.status}: {TRADING_RESTRICTED} ({restriction})",
                    retry_after=exc.retry_after,
                )
            if exc.status is not None and 400 <= exc.status < 500 and exc.status != 408:
                answer = f"http {exc.status}: {problem_of(exc)}"
                if PLACED_ANYWAY.search(answer):  # refused, but the exchange holds the order
                    raise OrderInDoubtError(
                        f"order placed, its answer a refusal: {answer}"
                    ) from None
                return self._refused(order.request, answer)
            raise OrderInDoubtError(
                f"order post failed: http {exc.status}", retry_after=exc.retry_after
            ) from None
        except UnexpectedResponseError as exc:
            # An answer its model refuses (a field missing, a wrong type): the exchange may
            # hold the order. In doubt, the fields named (never their values) and counted.
            problem = problem_of(exc)
            refuse_reply("placement", problem)
            raise OrderInDoubtError(f"order post failed: answer refused: {problem}") from None
        except PolymarketError as exc:
            raise OrderInDoubtError(f"order post failed: {type(exc).__name__}") from None
        response = normalize_order_response(raw)
        if not isinstance(response, AcceptedOrder):
            return self._refused(order.request, not_accepted(raw, response))
        return accepted(response, order)

    async def lookup(self, order_ids: tuple[str, ...]) -> OrderOutcome | None:
        for order_id in order_ids:
            try:
                found = await read_order(self.client, order_id)
            except RequestRejectedError as exc:
                if order_unknown(exc):
                    continue  # the exchange's own "not found": not shown
                # (a gateway's 404 says nothing of the order: a failed read, the
                # order left as it is; it was read as "not shown", and one past its expiry by
                # our clock closed without a cancel while live: test_lookup_gateway_page.py)
                raise busy("order lookup", exc) from None
            except UnexpectedResponseError as exc:
                # An answer that does not parse is no "not shown": the order may be live (it
                # was read so, and closed past its expiry without a cancel). A failed read: the
                # order stays as it is, asked again at the next pass.
                problem = problem_of(exc)
                refuse_reply("order", problem, once=(order_id, problem), order_id=order_id)
                raise ExchangeBusyError(f"order lookup failed: {problem}") from None
            except PolymarketError as exc:
                raise busy("order lookup", exc) from None
            if found is None:
                continue  # the CLOB answers nothing for an order that is no longer open
            status = order_status(found.status)
            if status == "OPEN" and found.size_matched >= found.original_size:
                status = "FILLED"
            return OrderOutcome(
                status=status,
                exchange_order_id=order_id,
                filled_shares=found.size_matched,
                may_take=status == "OPEN" and matching_held(found.status),
            )
        return None

    async def cancel(self, order_ids: list[str]) -> CancelResult:
        if not order_ids:
            return CancelResult()
        try:
            with self.pacing.drawing("cancel", len(order_ids)):
                response = await self.client.cancel_orders(order_ids=order_ids)
        except PolymarketError as exc:
            raise busy("cancel", exc) from None
        return CancelResult(
            canceled=tuple(str(o) for o in response.canceled),
            not_canceled={
                str(o): exchange_text(str(why)) for o, why in response.not_canceled.items()
            },
        )

    async def collateral(self, token_ids: Collection[int]) -> Collateral:
        """The wallet's collateral balance and its allowances to the exchange contracts (``GET
        /balance-allowance?asset_type=COLLATERAL``, the SDK's ``get_balance_allowance``; base
        units of 6 decimals), and the exchange that settles each token's market (the one the
        SDK signs its orders for: :func:`~orderflow.execution.live_reads.order_exchange`; a
        token whose market cannot be read is left out: its allowance unknown, a BUY of it
        refused)."""
        try:
            found = await self.client.get_balance_allowance(asset_type="COLLATERAL")
        except PolymarketError as exc:  # an answer its model refuses too (UnexpectedResponse)
            raise busy("balance read", exc) from None
        read_at = time.monotonic()
        exchanges: dict[int, str] = {}
        for token_id in set(token_ids):
            try:
                exchanges[token_id] = await order_exchange(self.client, token_id)
            except Exception as exc:  # best effort, as the market's rules: its BUY refused
                log.warning(
                    "market's exchange not read; a BUY of it is refused",
                    extra={"token_id": str(token_id), "error": type(exc).__name__},
                )
        return Collateral(
            wallet=str(self.client.wallet),
            balance=Decimal(max(0, found.balance)) / SHARE_UNITS,
            allowances={
                str(spender).lower(): Decimal(max(0, amount)) / SHARE_UNITS
                for spender, amount in found.allowances.items()
            },
            exchanges=exchanges,
            read_at=read_at,
        )

    async def wallet_shares(self, token_id: int, *, refresh: bool = False) -> WalletShares:
        """The wallet's balance of the token (``GET /balance-allowance?asset_type=CONDITIONAL
        &token_id=``, the SDK's ``get_balance_allowance``: base units of 6 decimals, a string
        its model reads as an integer), whole: not net of the SELLs resting on it; ``refresh``:
        after asking the exchange to read it again (:func:`~.live_reads.refresh_balance`)."""
        try:
            if refresh:
                await refresh_balance(self.client, token_id)
            found = await self.client.get_balance_allowance(
                asset_type="CONDITIONAL", token_id=str(token_id)
            )
        except PolymarketError as exc:  # an answer its model refuses too (UnexpectedResponse)
            raise busy("share balance read", exc) from None
        if found.balance < 0:  # no balance: an answer that tells nothing, not "none held"
            raise ExchangeBusyError("share balance read failed: a negative balance")
        shares = Decimal(found.balance) / SHARE_UNITS
        return WalletShares(wallet=self.wallet, token_id=token_id, shares=shares)

    async def check_credentials(self) -> None:
        try:
            await self.client.fetch_api_keys()  # GET /auth/api-keys: the lightest L2 read
        except PolymarketError as exc:
            raise busy("api key check", exc) from None

    async def order_heartbeat(self) -> bool:
        """``POST /v1/heartbeats`` with the id the last accepted one returned. The exchange
        expects one chain of ids per API key: a send with another id (this process's first, a
        standby that took over from a leader, a reply lost on its way) is refused with the id
        it expects, and sent again with it at once, which keeps the chain — and the key's
        orders — alive across a change of leader. Whether the send taken carried an empty id:
        the exchange held no registration of the key ("Expiry removes the registration; later
        accepted sends register again", the SDK's ``send_order_heartbeat``), so its switch had
        lapsed and cancelled the key's open orders (or was never armed)."""
        sent = self.heartbeat_id
        try:
            try:
                beat = await self.client.send_order_heartbeat(heartbeat_id=sent)
            except OrderHeartbeatMismatchError as exc:
                sent = exc.heartbeat_id
                beat = await self.client.send_order_heartbeat(heartbeat_id=sent)
        except PolymarketError as exc:
            raise busy("order heartbeat", exc) from None
        self.heartbeat_id = beat.heartbeat_id
        return sent == ""

    @property
    def wallet(self) -> str:
        """The funder: the wallet whose collateral and shares the orders spend and earn."""
        return str(self.client.wallet).lower()

    async def redeemer(self) -> LiveBroker:
        return self

    def redeem_wallet(self) -> str:
        return self.wallet

    async def held_shares(self, token_ids: Sequence[int]) -> int:
        """The wallet's shares of the tokens on chain, base units (:mod:`.live_redeem`)."""
        return await held_shares(self.client, token_ids)

    async def redeem(self, condition_id: str, memo: str) -> str:
        """Send the redemption of the wallet's shares of a resolved condition (the SDK's
        ``redeem_positions``, ``memo`` its metadata); the transaction's hash or the relayer's
        id."""
        return await send_redemption(self.client, condition_id, memo)

    async def look_up(self, sent: str | None, memo: str) -> Lookup:
        """What became of a redemption sent earlier (:func:`.live_redeem.look_up`)."""
        return await look_up(self.client, sent, memo)

    async def close(self) -> None:
        await self.client.close()
