"""The exchange's word on the executor's API key, per trading mode: refused, or not.

A request answered 401/403 (:class:`~orderflow.execution.broker.CredentialsRefusedError`: the
key revoked or expired, access refused) is not a refusal of what it asked: the next request with
the same key gets the same answer. So after the first one the order desk sends no order of the
mode (its signals are SKIPPED ``credentials_refused``, unsent) until the key is accepted again.

*Until something changes* is: one authenticated read (the broker's ``check_credentials``, on the
CLOB ``GET /auth/api-keys``) is tried again after :func:`~orderflow.execution.switch.refused_pause`
(2 s doubling to a minute after each refusal in a row), by the next order of the mode or by the
maintenance pass, whichever comes first. When it passes, the next order is sent; refused again
(the real CLOB has refused POST /order with a key its reads accept), the pause goes on doubling
from where it was, and only an order that goes through ends the refusals in a row. The state
lives in the executor's memory; a refusal an earlier process recorded (``orderflow_exchange_keys``:
the executor restarted, with a new key or not) is checked the same way by the first order or
maintenance pass of the mode: accepted, the record goes (it said "refused" for as long as no
order went through); refused, no order is sent.

It is visible: the first refusal is logged as an error saying what to do (the exchange's answer
and the request, never a secret), every refused request is counted
(``orderflow_credentials_refused_total{mode,request}``), and ``orderflow_exchange_keys``
(migration 054) holds the refusal for ``orderflow strategy status`` while it lasts.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable

import asyncpg

from orderflow.errors import ExecutionError
from orderflow.execution.broker import CredentialsRefusedError, Mode
from orderflow.execution.switch import refused_pause
from orderflow.telemetry import meter

log = logging.getLogger(__name__)
KEY_REFUSED = "credentials_refused"  # a signal not sent: the exchange refuses our API key
refused_requests = meter("orderflow.execution").create_counter(
    "orderflow_credentials_refused_total",
    description="Requests the exchange answered 401/403 (our API key refused), by mode and request",
)
KEY_HELP = (
    "the CLOB refuses our API key (401/403): no {mode} order is sent until it accepts it again."
    " Check POLY_API_KEY / POLY_API_SECRET / POLY_API_PASSPHRASE (or unset all three to derive"
    " the key again from POLY_PRIVATE_KEY) and restart the executor; the key is checked again"
    " at most a minute apart meanwhile. An answer 'blocked by Cloudflare' is this machine's IP,"
    " not the key"
)

_RECORDED = "SELECT EXISTS (SELECT FROM orderflow_exchange_keys WHERE mode = $1)"
_REFUSED = """
INSERT INTO orderflow_exchange_keys AS k (mode, last_error) VALUES ($1, $2)
ON CONFLICT (mode) DO UPDATE
   SET refusals = k.refusals + 1, last_refused_at = now(), last_error = EXCLUDED.last_error
"""


class KeyWatch:
    """Whether the exchange refuses the API key of one mode's broker, and when to ask again.

    A check that passes lets the next order go, but only an order that goes through ends the
    refusals in a row: the real CLOB has been seen refusing POST /order with a key its reads
    accept (py-clob-client issues 187, 209), and a passing check must not reset the pause."""

    def __init__(self, pool: asyncpg.Pool, mode: Mode) -> None:
        self.pool = pool
        self.mode = mode
        self.refusals = 0  # in a row, in this process, until an order goes through
        self.blocked = False  # no order is sent (refused, and no check has passed since)
        self.due = 0.0  # monotonic: when the key is checked again
        # Whether a refusal is recorded (None: not read yet; one an earlier process left is
        # checked as this process's own would be)
        self._stored: bool | None = None

    @property
    def refused(self) -> bool:
        return self.blocked

    def waiting(self) -> bool:
        """Refused, and its pause before the next check has not passed."""
        return self.blocked and time.monotonic() < self.due

    async def still_refused(self, check: Callable[[], Awaitable[None]]) -> bool:
        """Whether the key is refused: once the pause after its last refusal has passed,
        ``check`` (one authenticated read) asks the exchange again — also about a refusal an
        earlier process recorded."""
        if self._stored is None:
            async with self.pool.acquire() as conn:
                self._stored = bool(await conn.fetchval(_RECORDED, self.mode))
            self.blocked = self.blocked or self._stored
        if not self.blocked:
            return False
        if self.waiting():
            return True
        try:
            await check()
        except CredentialsRefusedError as exc:
            await self.refuse("check", str(exc))
            return True
        except ExecutionError as exc:  # no answer: still refused as far as we know
            self.due = time.monotonic() + refused_pause(self.refusals)
            log.warning("API key check failed", extra={"mode": self.mode, "error": str(exc)})
            return True
        self.blocked = False  # the next order tries; refused again, the pause goes on doubling
        log.warning(
            "API key accepted by a check; the next order is sent", extra={"mode": self.mode}
        )
        await self._clear()
        return False

    async def refuse(self, request: str, error: str) -> None:
        """The exchange answered ``request`` 401/403 (``error``: status and message)."""
        self.refusals += 1
        self.blocked = True
        self.due = time.monotonic() + refused_pause(self.refusals)
        refused_requests.add(1, {"mode": self.mode, "request": request})
        extra = {"mode": self.mode, "request": request, "error": error, "refusals": self.refusals}
        if self.refusals == 1:
            log.error(KEY_HELP.format(mode=self.mode), extra=extra)
        else:
            log.warning("API key still refused", extra=extra)
        async with self.pool.acquire() as conn:
            await conn.execute(_REFUSED, self.mode, error)
        self._stored = True

    async def accept(self) -> None:
        """An order went through: the key is accepted (again)."""
        if self.refusals:
            log.warning("API key accepted again; orders are sent", extra={"mode": self.mode})
        self.refusals = 0
        self.blocked = False
        await self._clear()

    async def _clear(self) -> None:
        """No refusal to show in ``orderflow strategy status`` (once per change)."""
        if self._stored is not False:
            async with self.pool.acquire() as conn:
                await conn.execute("DELETE FROM orderflow_exchange_keys WHERE mode = $1", self.mode)
            self._stored = False
