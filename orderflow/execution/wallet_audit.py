"""Held live positions checked against the wallet on a slow schedule, not only when exited.

The books are squared with the wallet's shares before a live exit (:mod:`orderflow.execution.
wallet_shares`); a position whose leader never sells was never exited, and kept books the
wallet no longer held — its exposure in the limits, its value in the equity — until settlement.
So each maintenance pass (the leader's) reads the wallet's balance of a few held tokens
(:data:`PER_PASS`), each once an :data:`INTERVAL_SECS` (the first an interval after the token is
first seen held), the longest due first — when each was last read kept in the database
(``orderflow_wallet_reads``, migration 104), so a restart or a new leader goes on with the
schedule —, and squares the books through the same step as an
exit (:func:`~orderflow.execution.wallet_shares.exit_reads`, read again after the exchange's
refresh when short; :func:`~orderflow.execution.wallet_shares.square`, under the decision lock:
every strategy's positions of the token, pro rata). Tokens with an exit of any strategy on its
way or stored and not done are left to the exit's own read, and an exit's read counts as the
token's read (:func:`~orderflow.execution.wallet_share_queries.note_reads`): the next is an
interval after it.

Cost: two queries a pass (the held tokens; the schedule, one statement); at most
:data:`PER_PASS` ``GET /balance-allowance`` a pass (two more per token found short) — with the
default 2 s pass, one a second at most, and only while tokens are due; in all, one read per
held token an hour.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from datetime import datetime, timedelta
from decimal import Decimal

import asyncpg

from orderflow.execution import wallet_share_queries
from orderflow.execution.orders import utcnow
from orderflow.execution.strategies import StrategyState
from orderflow.execution.trading import Trader
from orderflow.execution.wallet_shares import exit_reads, square

INTERVAL_SECS = 3600.0  # a held token's balance read at most this often
PER_PASS = 2  # balance reads a maintenance pass makes at most (before the reads when short)

_HELD = """
SELECT DISTINCT strategy, token_id FROM orderflow_positions
 WHERE status = 'OPEN' AND mode = 'live' AND shares > 0 AND strategy = ANY($1::text[])
"""


class WalletAudit:
    """Which held tokens are due a read, and the reads' squaring (one per executor; the
    schedule is the database's, ``orderflow_wallet_reads``: it survives restarts and leaders)."""

    def __init__(
        self,
        interval_secs: float = INTERVAL_SECS,
        per_pass: int = PER_PASS,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.interval_secs = interval_secs
        self.per_pass = per_pass
        self._clock = clock

    async def take(self, conn: asyncpg.Connection, tokens: Collection[int]) -> list[int]:
        """Of the held ``tokens``, at most :attr:`per_pass` due a read now, the longest due
        first, each due again an interval later. A token first seen is due an interval after
        (its shares just came with a fill the books hold; an exit reads it anyway); tokens no
        longer held are forgotten."""
        return await wallet_share_queries.due_reads(
            conn, tokens, self._clock(), timedelta(seconds=self.interval_secs), self.per_pass
        )

    async def run(self, trader: Trader, states: Iterable[StrategyState]) -> dict[int, Decimal]:
        """Read the due held tokens' balances and square the strategies' books with them;
        returns the shares moved out, by token."""
        worker = trader.worker
        if worker.desk.brokers.get("live") is None:
            return {}
        names = [s.name for s in states]
        async with trader.pool.acquire() as conn:
            held = await _held(conn, names)
            due = await self.take(conn, set().union(*held.values()))
            if not due:
                return {}  # the usual answer: two queries a pass
            busy: set[int] = set()  # an exit on its way or stored reads the wallet itself
            for name in names:
                tokens = held.get(name, set()) & set(due)
                busy |= tokens & set(worker.exits_on_the_way(name))
                busy |= await wallet_share_queries.exiting(conn, name, tokens) if tokens else set()
        due = sorted(set(due) - busy)
        if not due:
            return {}
        reads = await exit_reads(trader.pool.acquire, worker.desk, due)
        async with trader.deciding, trader.pool.acquire() as conn:
            return await square(conn, reads)  # every strategy's positions of each token


async def _held(conn: asyncpg.Connection, names: list[str]) -> dict[str, set[int]]:
    """Each strategy's tokens of its open live positions."""
    held: dict[str, set[int]] = {}
    for row in await conn.fetch(_HELD, names):
        held.setdefault(row["strategy"], set()).add(int(row["token_id"]))
    return held
