"""Held live positions checked against the wallet on a slow schedule, not only when exited.

The books are squared with the wallet's shares before a live exit (:mod:`orderflow.execution.
wallet_shares`); a position whose leader never sells was never exited, and kept books the
wallet no longer held — its exposure in the limits, its value in the equity — until settlement.
So each maintenance pass (the leader's) reads the wallet's balance of a few held tokens
(:data:`PER_PASS`), each once an :data:`INTERVAL_SECS` (the first an interval after the token is
first seen held), the longest due first, and squares the books through the same step as an
exit (:func:`~orderflow.execution.wallet_shares.exit_reads`, read again after the exchange's
refresh when short; :func:`~orderflow.execution.wallet_shares.square`, under the decision lock,
for each strategy holding the token). Tokens with an exit on its way or stored and not done are
left to the exit's own read.

Cost: one query of the held tokens a pass; at most :data:`PER_PASS` ``GET /balance-allowance``
a pass (two more per token found short) — with the default 2 s pass, one a second at most, and
only while tokens are due; in all, one read per held token an hour.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Iterable
from decimal import Decimal

import asyncpg

from orderflow.execution import wallet_share_queries
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
    """Which held tokens are due a read, and the reads' squaring (one per executor)."""

    def __init__(
        self,
        interval_secs: float = INTERVAL_SECS,
        per_pass: int = PER_PASS,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.interval_secs = interval_secs
        self.per_pass = per_pass
        self._monotonic = monotonic
        self.next_at: dict[int, float] = {}  # token: when its balance is due a read (monotonic)

    def take(self, tokens: Collection[int]) -> list[int]:
        """Of the held ``tokens``, at most :attr:`per_pass` due a read now, the longest due
        first, each due again an interval later. A token first seen is due an interval after
        (its shares just came with a fill the books hold; an exit reads it anyway); tokens no
        longer held are forgotten."""
        now = self._monotonic()
        self.next_at = {t: self.next_at.get(t, now + self.interval_secs) for t in tokens}
        due = sorted((at, t) for t, at in self.next_at.items() if at <= now)[: self.per_pass]
        for _, token in due:
            self.next_at[token] = now + self.interval_secs  # a failed read waits its turn too
        return [token for _, token in due]

    async def run(self, trader: Trader, states: Iterable[StrategyState]) -> dict[int, Decimal]:
        """Read the due held tokens' balances and square the strategies' books with them;
        returns the shares moved out, by token."""
        worker = trader.worker
        if worker.desk.brokers.get("live") is None:
            return {}
        names = [s.name for s in states]
        async with trader.pool.acquire() as conn:
            held = await _held(conn, names)
            due = self.take(set().union(*held.values()))
            if not due:
                return {}  # the usual answer: one query a pass
            for name in names:  # an exit on its way or stored reads the wallet itself
                tokens = held.get(name, set()) & set(due)
                busy = set(worker.exits_on_the_way(name))
                busy |= await wallet_share_queries.exiting(conn, name, tokens) if tokens else set()
                held[name] = tokens - busy
        due = sorted(set().union(*held.values()))
        if not due:
            return {}
        reads = await exit_reads(trader.pool.acquire, worker.desk, due)
        moved: dict[int, Decimal] = {}
        async with trader.deciding, trader.pool.acquire() as conn:
            for name in names:
                mine = {t: r for t, r in reads.items() if t in held.get(name, set())}
                for token, shares in (await square(conn, name, mine)).items():
                    moved[token] = moved.get(token, Decimal(0)) + shares
        return moved


async def _held(conn: asyncpg.Connection, names: list[str]) -> dict[str, set[int]]:
    """Each strategy's tokens of its open live positions."""
    held: dict[str, set[int]] = {}
    for row in await conn.fetch(_HELD, names):
        held.setdefault(row["strategy"], set()).add(int(row["token_id"]))
    return held
