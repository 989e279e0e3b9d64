"""Reads of the CLOB whose replies the SDK's own methods would refuse whole: through the SDK's
authenticated HTTP client (its L2 headers, timeouts and error mapping), parsed with the SDK's
own models, but one item at a time.

* An order (``GET /data/order/{id}``): the real CLOB answers nothing (JSON ``null``, or an empty
  body) for an order that is no longer open (py-clob-client issue 217); the SDK's ``get_order``
  raises :class:`~polymarket.errors.UnexpectedResponseError` for that and for an order it cannot
  parse alike, and the two mean opposite things — "closed" and "we do not know". Here nothing is
  None and an answer that does not parse stays an error.
* The account's trades (``GET /data/trades``): the SDK's ``list_account_trades`` refuses a whole
  page for one trade its ``ClobTrade`` model cannot parse, and reconciliation failed on every
  pass while that trade stayed in its look-back (hours): none of the mode's fills was booked.
  Here the page's envelope and cursor are checked as the SDK checks them (its pagination refuses
  a repeated cursor), each trade is parsed by the SDK's model, and a trade that does not parse is
  handed back raw (:class:`TradesPage`) for the caller to refuse. A read too long for one go
  (after an outage of days) is made again in spans of time (:func:`trades_by_span`).

* An order's placement (``POST /order``, :func:`post_order`): the SDK's ``post_order`` reads an
  answer that says the exchange took the order but not how (``success`` with our ``orderID``, no
  ``errorMsg``, a ``status`` it does not know) as a refusal, "Unknown order failure", and hands
  back nothing of what the answer said. Here the raw answer, parsed by the SDK's model, for
  the broker to read (:func:`~orderflow.execution.reply_checks.placement_untold`).

* The wallet's balance of a token read again from the chain (:func:`refresh_balance`): the SDK
  asks it only inside its own order placement's recovery.

* A market's taker fee schedule (:func:`read_fee_schedule`): the SDK has no public read of it;
  its order builder reads it (``GET /markets-by-token/{token}``, ``GET /clob-markets/{id}``)
  into its own per-market cache, which this asks.

The SDK offers no public raw request; the client's transport and request builder are its
internals, pinned with the SDK in ``requirements.lock`` and exercised by every live test.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from polymarket import AsyncSecureClient, RequestRejectedError
from polymarket._internal.actions._cursor import next_cursor_or_none
from polymarket._internal.actions.account import (
    build_get_order_request,
    build_list_account_trades_request,
    build_update_balance_allowance_request,
)
from polymarket._internal.actions.orders.context import resolve_order_exchange_address
from polymarket._internal.actions.orders.market_data import PlatformFeeInfo
from polymarket._internal.actions.orders.post import build_post_order_request
from polymarket._internal.wallet import signature_type_for
from polymarket.errors import PolymarketError, UnexpectedResponseError
from polymarket.models.clob import ClobTrade, OpenOrder
from polymarket.models.clob.order_response import RawOrderResponse
from polymarket.models.clob.orders import SignedOrder
from polymarket.models.types import TokenId
from polymarket.pagination import AsyncPaginator, Page
from pydantic import ValidationError

from orderflow.execution.broker import ExchangeBusyError
from orderflow.execution.exchange_text import exchange_text

# A read of the account's trades longer than ``live_trades.MAX_TRADE_PAGES`` that spans more than
# this is made again in spans of this length (:func:`trades_by_span`), each as bounded: after an
# outage of days the read runs from before it (the fill watermark), and an account with more
# trades than one read holds failed it at every pass (nothing of the mode booked).
TRADE_SPAN_SECS = 86_400


class TooManyPagesError(ExchangeBusyError):
    """More pages of the account's trades than one read may take
    (``live_trades.MAX_TRADE_PAGES``)."""


def _transport(client: AsyncSecureClient) -> Any:
    return client._ctx.secure_clob  # the SDK's authenticated CLOB transport


async def read_fee_schedule(client: AsyncSecureClient, token_id: int) -> PlatformFeeInfo:
    """The token's market's taker fee schedule as the SDK reads it to build an order (its
    ``MarketInfo.fee_info``: ``fd.r``, ``fd.e``; no ``fd``: rate 0, exponent 0), from the SDK's
    own per-market cache (ten minutes), read through when not there."""
    ctx = client._ctx
    market = await ctx.order_metadata.resolve_market(ctx, token_id=TokenId(str(token_id)))
    fee: PlatformFeeInfo = market.fee_info
    return fee


async def order_exchange(client: AsyncSecureClient, token_id: int) -> str:
    """The contract that settles an order of the token (lower-case address), as the SDK signs
    the order for it (its EIP-712 domain's ``verifyingContract``): the neg-risk CTF exchange
    for a neg-risk market, the CTF exchange for a standard one, ExchangeV3 for a Protocol V2
    position id. From the SDK's own per-market cache, read through when not there (the order's
    build reads the same entry)."""
    ctx = client._ctx
    asset = TokenId(str(token_id))
    market = await ctx.order_metadata.resolve_market(ctx, token_id=asset)
    exchange = resolve_order_exchange_address(
        ctx.environment_config, asset_id=asset, neg_risk=market.neg_risk
    )
    return str(exchange).lower()


async def refresh_balance(client: AsyncSecureClient, token_id: int) -> None:
    """Ask the CLOB to read the wallet's balance and approval of the token again from the chain
    (``GET /balance-allowance/update?asset_type=CONDITIONAL&token_id=``): the exchange caches
    them, and the SDK's own recovery from a refused order asks this before reading them again
    (``polymarket._internal.actions.orders.place._refresh_balance_allowance``). The answer's
    body is not read, as the SDK does not."""
    path, params = build_update_balance_allowance_request(
        asset_type="CONDITIONAL",
        asset_id=str(token_id),
        signature_type=signature_type_for(client._ctx.wallet_type),
    )
    await _transport(client).get_bytes(path, params=params)


def problem_of(exc: PolymarketError, limit: int = 300) -> str:
    """What the SDK found wrong, on one line of at most ``limit`` characters: for a reply its
    model refused, the fields and why, never the values the reply carried (pydantic's message
    repeats the whole input: a trade's ``owner`` is our API key, and it names wallets); else the
    SDK's message (a refused request's: the exchange's own words). Either of our credentials
    and header echoes (:func:`~orderflow.execution.exchange_text.exchange_text`)."""
    cause = exc.__cause__
    if isinstance(cause, ValidationError):
        errors = cause.errors(include_url=False, include_input=False, include_context=False)
        text = "; ".join(
            f"{'.'.join(str(part) for part in e['loc']) or 'reply'}: {e['msg']}" for e in errors
        )
        return exchange_text(f"{len(errors)} field(s) refused: {text}", limit)
    return exchange_text(str(exc), limit)


# The CLOB's own words, its JSON ``{"error": …}``, for an order its order endpoint does not show
# (404; the stand-in's ``done_as_404``), the whole text. The SDK reports a plain-text body word
# for word as it does the JSON ``error`` (polymarket-client 0.14.0,
# ``_extract_response_error_message``), and words an HTML page or an unreadable body itself
# ("Request to <url> failed with status …"): only these words, in full, say "no such order".
_ORDER_UNKNOWN = re.compile(r"order not found", re.IGNORECASE)


def order_unknown(exc: RequestRejectedError) -> bool:
    """Whether a refused order lookup is the exchange saying it shows no such order: a 404 in
    its own words. A gateway's 404 — an HTML page, a plain-text ``404 page not found``, a JSON
    ``error`` in other words — says nothing of the order (until 7 Dec 2026 any body the SDK had
    not worded itself was taken for the exchange's: tests/execution/test_lookup_gateway_page.py)."""
    return exc.status == 404 and _ORDER_UNKNOWN.fullmatch(str(exc).strip()) is not None


async def read_order(client: AsyncSecureClient, order_id: str) -> OpenOrder | None:
    """The order as the order endpoint shows it, None when it answers nothing; raises
    :class:`UnexpectedResponseError` for an answer that is neither."""
    path, params = build_get_order_request(order_id=order_id)
    body: bytes = await _transport(client).get_bytes(path, params=params)
    if body.strip() in (b"", b"null"):
        return None
    try:
        data = json.loads(body)
    except ValueError:
        raise UnexpectedResponseError("order response is not JSON") from None
    order: OpenOrder = OpenOrder.parse_response(data)
    return order


async def post_order(client: AsyncSecureClient, signed: SignedOrder) -> RawOrderResponse:
    """``POST /order`` as the SDK's ``post_order`` sends it, its answer as the exchange gave it
    (the SDK's raw model: :class:`UnexpectedResponseError` for one that does not parse)."""
    path, payload = build_post_order_request(signed, owner_api_key=client._ctx.credentials.key)
    data = await _transport(client).post_json(path, json=payload)
    raw: RawOrderResponse = RawOrderResponse.parse_response(data)
    return raw


@dataclass(frozen=True, slots=True)
class TradesPage:
    """One page of the account's trades: those that parse, and the raw ones that do not (each
    with what is wrong with it)."""

    trades: tuple[ClobTrade, ...]
    unreadable: tuple[tuple[Any, str], ...]


def _trades_page(payload: object) -> Page[TradesPage]:
    if not isinstance(payload, Mapping) or not isinstance(payload.get("data"), list):
        raise UnexpectedResponseError("account trades response did not match expected shape")
    trades: list[ClobTrade] = []
    unreadable: list[tuple[Any, str]] = []
    for raw in payload["data"]:
        try:
            trades.append(ClobTrade.parse_response(raw))
        except UnexpectedResponseError as exc:
            unreadable.append((raw, problem_of(exc)))
    cursor = next_cursor_or_none(payload.get("next_cursor"))
    return Page(
        items=(TradesPage(tuple(trades), tuple(unreadable)),),
        has_more=cursor is not None,
        next_cursor=cursor,
    )


def account_trades(client: AsyncSecureClient, **query: str) -> AsyncPaginator[TradesPage]:
    """The account's trades (``GET /data/trades`` with ``query``), page by page (each page's
    one item is a :class:`TradesPage`); the SDK's paginator follows the cursors."""

    async def fetch(cursor: str | None) -> Page[TradesPage]:
        path, params = build_list_account_trades_request(cursor=cursor, **query)
        return _trades_page(await _transport(client).get_json(path, params=params))

    return AsyncPaginator(fetch=fetch)


async def trades_by_span(
    read: Callable[[dict[str, str]], Awaitable[tuple[list[Any], set[str]]]],
    after: int,
    now: int,
    span: int,
) -> tuple[list[Any], set[str]]:
    """The account's trades from ``after`` to ``now`` (unix seconds) read by ``read`` (a query's
    trades, and the orders a trade that does not parse names) span by span: ``after``/``before``
    ``span`` seconds apart, each overlapping the next by a second either way (whether the
    exchange's bounds include their second is not documented), the last one open-ended. Each
    trade once, by its id; a span that fails fails the whole read."""
    trades: dict[str, Any] = {}
    unreadable: set[str] = set()
    start = after
    while True:
        query = {"after": str(max(0, start - 1))}
        last = start + span >= now
        if not last:
            query["before"] = str(start + span + 1)
        found, bad = await read(query)
        trades.update(by_id(found))
        unreadable |= bad
        if last:
            return list(trades.values()), unreadable
        start += span


def by_id(trades: Iterable[Any]) -> dict[str, Any]:
    """Each trade once, by its id (a later reading of it replaces an earlier one). The listing's
    cursor is an offset: a trade matched while the pages are read pushes the others down a
    place, and the next page repeats the last one read; a reply may repeat one too. A trade
    listed twice was read as two parts of it (its settlement's reversal took back twice its
    shares)."""
    return {str(t.id): t for t in trades}


def raw_trade_id(raw: object) -> str | None:
    """A raw trade's id, when it has one that is a string."""
    found = raw.get("id") if isinstance(raw, Mapping) else None
    return found if isinstance(found, str) else None


def names(raw: object, wanted: Mapping[str, str]) -> set[str]:
    """The ids of ``wanted`` (by lower case) that ``raw`` (a reply's JSON) names anywhere."""
    found: set[str] = set()
    stack = [raw]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if item.lower() in wanted:
                found.add(wanted[item.lower()])
        elif isinstance(item, Mapping):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return found
