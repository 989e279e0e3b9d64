"""The backtest's SQL: stored trades and resolutions, read in time order, nothing else.

All reads are bounded by time so a walk-forward step loads only its own window: memory stays
proportional to one step's trades however long the stored history is.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal

import asyncpg

from orderflow.chain import pruning
from orderflow.signals.decisions import first_rows
from orderflow.signals.queries import trade_view
from orderflow.signals.views import TradeView

# A fill's complement token (its mirror levels: orderflow.signals.quotes.levels_of). A complement
# is one only when it is another token of the same condition (a registry row naming the token
# itself or another market's token would make one book's makers another's levels; the paper
# exchange applies the same rule: orderflow.execution.paper_book). Joined to trades ``t``.
COMPLEMENT_JOIN = """
  LEFT JOIN orderflow_tokens tok ON tok.token_id = t.token_id
  LEFT JOIN orderflow_tokens comp ON comp.token_id = tok.complement_token_id
        AND comp.token_id <> tok.token_id AND comp.condition_id = tok.condition_id"""

_TRADES = f"""
SELECT t.id, t.chain_id, t.tx_hash, t.log_index, t.wallet_address, t.side, t.token_id, t.price,
       t.size, t.usdc_size, t.timestamp, t.market_id, t.outcome_index, t.is_taker_aggregate,
       t.taker_address, comp.token_id AS complement_token_id
  FROM orderflow_trades t{COMPLEMENT_JOIN}
 WHERE t.timestamp > $1 AND t.timestamp <= $2
   AND {pruning.since("$1", "t")} AND {pruning.until("$2", "t")}
 ORDER BY t.timestamp, t.block_number, t.log_index
"""

_RESOLUTIONS = """
SELECT market_id, payouts, resolved_at
  FROM orderflow_market_outcomes
 WHERE resolved_at > $1 AND resolved_at <= $2
 ORDER BY resolved_at, market_id
"""

_BOUNDS = """
SELECT min(timestamp), max(timestamp), count(*),
       (SELECT max(resolved_at) FROM orderflow_market_outcomes)
  FROM orderflow_trades
"""


@dataclass(frozen=True, slots=True)
class ResolutionEvent:
    """A market's resolution, as known from ``resolved_at`` on (never earlier)."""

    market_id: str
    resolved_at: datetime
    payouts: tuple[Decimal, ...]


@dataclass(frozen=True, slots=True)
class StoredFill:
    """A stored fill and whether it is the taker's row (the aggressor's aggregate).

    Only a taker's row is a decision someone made at that moment; a maker row is a resting
    order someone else chose to hit, so it is never a signal (but its price is still a price).
    """

    view: TradeView
    taker: bool
    complement: int | None = None  # the complement token (its fills mirror this token's book)
    # A maker row's taker: the pair its print is of (orderflow.signals.tape); None on a
    # taker's row (its aggregate names no counterparty).
    counterparty: str | None = None
    # The leader's decision this taker row opens, sized as the whole of it (its rows in the
    # transaction: orderflow.signals.decisions.first_rows); None on a later row of a decision
    # (no entry of its own) and on a maker's row. Hand-built fills: the row itself.
    decision: TradeView | None = None
    opens: bool = True

    @property
    def timestamp(self) -> datetime:
        return self.view.timestamp


@dataclass(frozen=True, slots=True)
class Bounds:
    first: datetime
    last: datetime
    trades: int
    last_resolution: datetime | None = None


async def bounds(conn: asyncpg.Connection) -> Bounds | None:
    """Time span of the stored trades (and the last stored resolution), or None when there
    are no trades."""
    row = await conn.fetchrow(_BOUNDS)
    if row is None or row[2] == 0:
        return None
    return Bounds(row[0], row[1], int(row[2]), row[3])


async def stream_trades(
    conn: asyncpg.Connection, after: datetime, until: datetime, *, prefetch: int = 5000
) -> AsyncIterator[StoredFill]:
    """Trades with ``after < timestamp <= until`` in chain order, through a server-side cursor.

    Memory stays bounded by ``prefetch`` however many fills a step holds (a day of mainnet is
    about two million).
    """
    tx: list[StoredFill] = []  # one transaction's rows (contiguous in chain order)
    async with conn.transaction(readonly=True):
        async for r in conn.cursor(_TRADES, after, until, prefetch=prefetch):
            complement, taker = r["complement_token_id"], bool(r["is_taker_aggregate"])
            fill = StoredFill(
                trade_view(r),
                taker,
                None if complement is None else int(complement),
                None if taker else r["taker_address"],
            )
            if tx and (tx[0].view.chain_id, tx[0].view.tx_hash) != (
                fill.view.chain_id,
                fill.view.tx_hash,
            ):
                for done in _decided(tx):
                    yield done
                tx = []
            tx.append(fill)
    for done in _decided(tx):
        yield done


def _decided(tx: list[StoredFill]) -> list[StoredFill]:
    """One transaction's fills, each taker row with the decision it opens (if any)."""
    opened = first_rows([f.view for f in tx])
    return [
        replace(f, decision=d, opens=d is not None) if f.taker else f
        for f, d in zip(tx, opened, strict=True)
    ]


async def resolutions_between(
    conn: asyncpg.Connection, after: datetime, until: datetime
) -> list[ResolutionEvent]:
    rows = await conn.fetch(_RESOLUTIONS, after, until)
    return [
        ResolutionEvent(r["market_id"], r["resolved_at"], tuple(Decimal(p) for p in r["payouts"]))
        for r in rows
    ]


# A neg-risk condition's question id is its event (the NegRiskAdapter market id) in the first 31
# bytes plus the candidate's index in the last byte: every leg of one event shares the prefix.
# Any other condition is its own event (the reputation run groups the same way).
_EVENTS = """
SELECT condition_id,
       CASE WHEN neg_risk THEN left(question_id, 64) || '00' ELSE condition_id END AS event_id
  FROM orderflow_conditions
 WHERE condition_id = ANY($1::text[])
"""


async def event_ids(conn: asyncpg.Connection, market_ids: Iterable[str]) -> dict[str, str]:
    """Condition id -> event id (the legs of a neg-risk event share one) for known conditions."""
    rows = await conn.fetch(_EVENTS, sorted(set(market_ids)))
    return {r["condition_id"]: r["event_id"] for r in rows}


_RESOLVED = """
SELECT market_id, resolved_at
  FROM orderflow_market_outcomes
 WHERE market_id = ANY($1::text[]) AND resolved_at <= $2
"""


async def resolution_times(
    conn: asyncpg.Connection, market_ids: Iterable[str], end: datetime
) -> dict[str, datetime]:
    """Market id -> when it resolved, for those resolved by ``end`` (the replay's last moment:
    a later resolution is not known to it, and its positions stay open)."""
    rows = await conn.fetch(_RESOLVED, sorted(set(market_ids)), end)
    return {r["market_id"]: r["resolved_at"] for r in rows}


_STRATEGY = "SELECT settings FROM orderflow_strategies WHERE name = $1 AND deleted_at IS NULL"


async def strategy_settings_json(conn: asyncpg.Connection, name: str) -> dict[str, object] | None:
    """A stored strategy's settings (JSON as written by ``orderflow strategy`` or the operator)."""
    value = await conn.fetchval(_STRATEGY, name)
    if value is None:
        return None
    return dict(value) if isinstance(value, dict) else None


async def in_time_order(
    trades: AsyncIterator[StoredFill], resolutions: Sequence[ResolutionEvent]
) -> AsyncIterator[StoredFill | ResolutionEvent]:
    """Time order; a resolution comes before trades stamped at the same second."""
    r = 0
    async for t in trades:
        while r < len(resolutions) and resolutions[r].resolved_at <= t.timestamp:
            yield resolutions[r]
            r += 1
        yield t
    for res in resolutions[r:]:
        yield res
