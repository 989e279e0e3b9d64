"""The live broker of an executor with a private key but nothing live: logged in on first use.

Logging in uses the key with the exchange (the API key derived from the private key, or checked),
and a logged-in executor sends the order heartbeat while it leads
(:mod:`orderflow.execution.order_heartbeat`): the exchange's dead man's switch, armed for the
key, then cancels every open order of the key — its owner's hand-placed ones too — once the
beats stop. An executor whose strategies were all paper did both whenever ``POLY_PRIVATE_KEY``
was set (``tests/execution/test_paper_no_log_in.py``).

:class:`LazyLiveBroker` stands in for the live broker when no strategy is live and nothing live
is held at start-up: nothing is asked of the exchange until a live strategy needs it (a
strategy switched to live: its first market rules, order or cancel), which logs in then
(``connect``: :func:`~orderflow.execution.live_connect.connect_live_broker`, so a CLOB that does
not answer gives the broker that keeps trying). Until then the order heartbeat is not sent: no
order of ours can rest at the exchange.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from orderflow.execution.broker import BookTop, Broker, MarketRules
from orderflow.execution.live_delegate import DelegatingBroker


class LazyLiveBroker(DelegatingBroker):
    """A live broker that logs in (``connect``) when it is first asked for something."""

    def __init__(self, connect: Callable[[], Awaitable[Broker]], wallet: str | None = None) -> None:
        self._connect = connect
        self._broker: Broker | None = None
        self._wallet = wallet
        self._lock = asyncio.Lock()

    @property
    def logged_in(self) -> bool:
        return self._broker is not None

    async def _target(self) -> Broker:
        async with self._lock:  # one log-in however many ask at once
            if self._broker is None:
                self._broker = await self._connect()  # a refused key: raised, asked again next
            return self._broker

    async def order_heartbeat(self) -> bool:
        if self._broker is None:  # not logged in: no order of ours rests there
            return False
        return await self._broker.order_heartbeat()

    async def market_rules(self, token_id: int) -> MarketRules | None:
        return await (await self._target()).market_rules(token_id)

    async def read_book(self, token_id: int) -> None:
        await (await self._target()).read_book(token_id)

    def book_top(self, token_id: int) -> BookTop | None:
        return None if self._broker is None else self._broker.book_top(token_id)

    async def close(self) -> None:
        if self._broker is not None:
            await self._broker.close()
