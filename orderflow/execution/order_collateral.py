"""A live BUY's collateral, before its intent is stored: the decision's read, or read now.

The order desk stores a live BUY's intent only when the shared wallet takes it
(:func:`~orderflow.execution.wallet.wallet_refusal`), against the collateral the exchange
reports. One read per entry: the decision's read is reused while it is fresh
(:data:`~orderflow.execution.wallet.REUSE_SECS`, and no live BUY sent since — one filled at
placement would have moved the balance); else it is read now. Fail-closed: a read that fails
skips the signal (:class:`NotSent`), never sends the order blind.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from orderflow.execution import wallet
from orderflow.execution.broker import (
    Broker,
    Collateral,
    CredentialsRefusedError,
    ExchangeAnswerError,
    Mode,
    OrderRequest,
)
from orderflow.execution.key_watch import KEY_REFUSED, KeyWatch

# Told the seconds of an exchange's Retry-After when an order's answer asked for a pause: a
# 429 refusing it, a 503 leaving it in doubt (the order worker holds the mode's next orders).
Hold = Callable[[float], None]


class NotSent(Exception):
    """The order is not sent; its signal's status is recorded already."""


class CollateralCheck:
    """The order desk's collateral reads, and when it last sent a live BUY."""

    def __init__(
        self,
        *,
        call: Callable[[Awaitable[Any]], Awaitable[Any]],
        broker: Callable[[Mode], Broker],
        keys: Mapping[Mode, KeyWatch],
        skip: Callable[[int, str], Awaitable[None]],
    ) -> None:
        self._call = call  # an exchange call that cannot hang (a timeout: in doubt)
        self._broker = broker
        self._keys = keys
        self._skip = skip  # the signal SKIPPED for a reason, nothing stored or sent
        # When the desk last sent a live BUY (monotonic): a wallet read before it is stale.
        self._buy_sent_at = float("-inf")

    def buy_sent(self) -> None:
        """A live BUY's intent is stored and about to be sent: earlier reads are stale."""
        self._buy_sent_at = time.monotonic()

    async def before_buy(
        self,
        mode: Mode,
        signal_id: int,
        request: OrderRequest,
        hold: Hold | None,
        known: Collateral | None,
    ) -> Collateral | None:
        """A live BUY's: the wallet's collateral as the exchange reports it (None: no need to
        ask) — ``known``, the decision's read, when it names the token's exchange, was read at
        most :data:`~orderflow.execution.wallet.REUSE_SECS` ago and no live BUY was sent since
        (one filled at placement would have moved the balance); else read now. Fail-closed:
        when it cannot be read the signal is SKIPPED and :class:`NotSent` raised (with the
        exchange's Retry-After held, as a refused order's)."""
        if mode != "live" or request.side != "BUY":
            return None
        if known is not None and wallet.fresh(known, request.token_id, self._buy_sent_at):
            return known
        try:
            collateral: Collateral | None = await self._call(
                self._broker(mode).collateral((request.token_id,))
            )
        except CredentialsRefusedError as exc:  # our key, as a refused order's
            await self._skip(signal_id, KEY_REFUSED)
            await self._keys[mode].refuse("balance read", str(exc))
            raise NotSent from None
        except ExchangeAnswerError as exc:
            await self._skip(signal_id, f"{wallet.UNREAD}: {exc}")
            if hold is not None and exc.retry_after is not None:
                hold(exc.retry_after)
            raise NotSent from None
        return collateral
