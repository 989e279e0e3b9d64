"""What the order desk lends the collaborators it owns (trade settlement, cancels).

The desk keeps one exchange-call wrapper (a timeout leaves things in doubt, never hangs) and one
lock per order (a placement answer, a reconciliation, a reversal and a cancel never book the same
order at once); its collaborators use these, not their own.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import asyncpg

from orderflow.execution.broker import Broker, Mode

# How many exchange lookups (an order's status, a trade's) a pass of the desk or of one of its
# collaborators has in flight at once.
LOOKUP_CONCURRENCY = 8


@dataclass(frozen=True, slots=True)
class DeskAccess:
    pool: asyncpg.Pool
    brokers: Mapping[Mode, Broker]  # by mode; live is missing without a signing key
    call: Callable[[Awaitable[Any]], Awaitable[Any]]  # an exchange call that cannot hang
    locked: Callable[[int], contextlib.AbstractAsyncContextManager[None]]  # the order's lock
