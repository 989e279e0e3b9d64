"""The signals stage's SQL: read new trades and the wallet views of the decision pipeline; store
signals. The market views (the leader's exit, the window's high, the quotes) are in
:mod:`orderflow.signals.market_queries`.

Wallet numbers are read through ``to_jsonb(row)`` so the executor keeps working whichever of the
reputation stage's optional columns (``edge``, ``edge_se``, ``events_resolved``, ``flags``,
``p_edge_above_cost``, ...) exist yet.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any

import asyncpg

from orderflow.chain import pruning
from orderflow.reputation import wallet_sql
from orderflow.reputation.posterior_block import posterior_of
from orderflow.signals.decide import Decision
from orderflow.signals.decisions import as_decisions, decision_key, is_decision_row
from orderflow.signals.views import TradeView, WalletView


def complement_of(tok: str, comp: str) -> str:
    """SQL: registry row ``comp`` is the complement of registry row ``tok``'s token: the token
    ``tok`` names, when it is another token of the same condition (a row naming the token itself
    or another market's token is no complement; the paper exchange and the backtest's quotes
    apply the same rule)."""
    return (
        f"{comp}.token_id = {tok}.complement_token_id AND {comp}.token_id <> {tok}.token_id"
        f" AND {comp}.condition_id = {tok}.condition_id"
    )


def complement_join(token: str, alias: str) -> str:
    """SQL: a LEFT JOIN giving ``{alias}.token_id``, the complement of the token ``token`` (NULL
    when the registry knows none: :func:`complement_of`). A subquery kept whole (``OFFSET 0``):
    read once per row of ``token``'s, before the trades compared with it (flattened, the planner
    looked the complement up again for every trade of the leader it read)."""
    return (
        f" LEFT JOIN LATERAL (SELECT c.token_id FROM orderflow_tokens k"
        f" JOIN orderflow_tokens c ON {complement_of('k', 'c')}"
        f" WHERE k.token_id = {token} OFFSET 0) AS {alias} ON true"
    )


COMPLEMENT_OF_TOK = complement_of("tok", "comp")

_TRADE_COLUMNS = """
    t.id, t.chain_id, t.tx_hash, t.log_index, t.wallet_address, t.side, t.token_id,
    COALESCE(t.market_id, tok.condition_id) AS market_id,
    COALESCE(t.outcome_index, tok.outcome_index) AS outcome_index,
    t.price, t.size, t.usdc_size, t.timestamp, t.traceparent, t.inserted_at,
    t.is_taker_aggregate, t.block_number, comp.token_id AS complement_token_id
"""

_NEW_TRADES = f"""
SELECT {_TRADE_COLUMNS}
  FROM orderflow_trades t
  LEFT JOIN orderflow_tokens tok ON tok.token_id = t.token_id
  LEFT JOIN orderflow_tokens comp ON {COMPLEMENT_OF_TOK}
 WHERE t.id > $1 AND {pruning.after_id("$1", "t")}
 ORDER BY t.id
 LIMIT $2
"""

# Trades just at or below the cursor inserted recently (start-up sweep): a transaction that took
# an id before a later one but committed after it is caught here; signals of trades seen before
# are deduplicated by the UNIQUE key. Bounded by id so it stays an index range scan.
_LATE_TRADES = f"""
SELECT {_TRADE_COLUMNS}
  FROM orderflow_trades t
  LEFT JOIN orderflow_tokens tok ON tok.token_id = t.token_id
  LEFT JOIN orderflow_tokens comp ON {COMPLEMENT_OF_TOK}
 WHERE t.id <= $1 AND t.id > $1 - $3 AND {pruning.after_id("$1 - $3", "t")}
   AND t.inserted_at >= clock_timestamp() - make_interval(secs => $2)
 ORDER BY t.id
"""

_TRADES_BY_ID = f"""
SELECT {_TRADE_COLUMNS}
  FROM orderflow_trades t
  LEFT JOIN orderflow_tokens tok ON tok.token_id = t.token_id
  LEFT JOIN orderflow_tokens comp ON {COMPLEMENT_OF_TOK}
 WHERE t.id = ANY($1::bigint[])
   AND {pruning.after_id("(SELECT min(i) - 1 FROM unnest($1::bigint[]) i)", "t")}
 ORDER BY t.id
"""


# The stored taker rows of the decisions (orderflow.signals.decisions) of some rows: the rows of
# each one's transaction, wallet, token and side, in its block (the partition key: a transaction
# stored again in another block by a reorg has its rows there, the old ones deleted).
_DECISION_ROWS = f"""
SELECT {_TRADE_COLUMNS}
  FROM unnest($1::bigint[], $2::int[], $3::text[], $4::text[], $5::numeric[], $6::text[])
       AS k(block_number, chain_id, tx_hash, wallet, token_id, side)
  JOIN orderflow_trades t ON t.block_number = k.block_number AND t.chain_id = k.chain_id
   AND t.tx_hash = k.tx_hash::evm_hash AND t.wallet_address = k.wallet::evm_address
   AND t.token_id = k.token_id::uint256 AND t.side = k.side AND t.is_taker_aggregate
  LEFT JOIN orderflow_tokens tok ON tok.token_id = t.token_id
  LEFT JOIN orderflow_tokens comp ON {COMPLEMENT_OF_TOK}
"""


def trade_view(row: asyncpg.Record) -> TradeView:
    """A stored trade row as the decision pipeline sees it (the backtest reads the same way)."""
    return TradeView(
        id=row["id"],
        chain_id=row["chain_id"],
        tx_hash=row["tx_hash"],
        log_index=row["log_index"],
        wallet=row["wallet_address"],
        side=row["side"],
        token_id=int(row["token_id"]),
        market_id=row["market_id"],
        outcome_index=row["outcome_index"],
        price=row["price"],
        size=row["size"],
        usdc_size=row["usdc_size"],
        timestamp=row["timestamp"],
        traceparent=row.get("traceparent"),
        inserted_at=row.get("inserted_at"),
        is_taker=row.get("is_taker_aggregate"),
        block_number=row.get("block_number"),
        complement=None if (c := row.get("complement_token_id")) is None else int(c),
    )


async def new_trades(conn: asyncpg.Connection, after_id: int, limit: int) -> list[TradeView]:
    return [trade_view(r) for r in await conn.fetch(_NEW_TRADES, after_id, limit)]


async def late_trades(
    conn: asyncpg.Connection, upto_id: int, lookback_secs: float, max_ids: int = 10_000
) -> list[TradeView]:
    rows = await conn.fetch(_LATE_TRADES, upto_id, lookback_secs, max_ids)
    return [trade_view(r) for r in rows]


async def trades_by_id(conn: asyncpg.Connection, ids: Iterable[int]) -> list[TradeView]:
    return [trade_view(r) for r in await conn.fetch(_TRADES_BY_ID, sorted(ids))]


async def as_stored_decisions(
    conn: asyncpg.Connection, trades: Sequence[TradeView]
) -> list[TradeView]:
    """``trades`` with each taker row sized as its leader's whole decision: the total of the
    decision's stored rows (:func:`orderflow.signals.decisions.as_decisions`; a row of it
    outside the batch, stored in another, counts)."""
    keys = {
        (t.block_number, *decision_key(t))
        for t in trades
        if t.block_number is not None and is_decision_row(t)
    }
    if not keys:
        return list(trades)
    block, chain, tx, wallet, token, side = (list(c) for c in zip(*sorted(keys), strict=True))
    rows = await conn.fetch(
        _DECISION_ROWS, block, chain, tx, wallet, [Decimal(t) for t in token], side
    )
    return as_decisions(trades, [trade_view(r) for r in rows])


def _float(value: Any) -> float | None:
    if value is None:
        return None
    f = float(value)
    return None if f != f else f


def wallet_view_from_stats(j: Mapping[str, Any]) -> WalletView:
    """A WalletView from an ``orderflow_wallet_stats`` row (a record or its JSON).

    A wallet without a resolved event has only the population prior as its posterior: no edge
    of its own, so none is passed on (the executor then never trades on it).
    """
    events = int(j.get("events_resolved") or j.get("resolved_buys") or 0)
    measured = events > 0
    return WalletView(
        address=j["wallet_address"],
        score=_float(j.get("reputation_score")),
        tier=j.get("trader_tier"),
        edge=_float(j.get("edge")) if measured else None,
        edge_se=_float(j.get("edge_se")) if measured else None,
        resolved_buys=events,
        flags=tuple(j.get("flags") or ()),
        p_edge_above_cost=_float(j.get("p_edge_above_cost")),
        p_edge_below_zero=_float(j.get("p_edge_below_zero")),
        follower_cost=posterior_figure(j.get("factors"), "follower_cost"),
        prior_mean=posterior_figure(j.get("factors"), "prior_mean"),
    )


def posterior_figure(factors: Any, name: str) -> float | None:
    """A figure of the run's posterior in a wallet's ``factors`` (a mapping or its JSON text; the
    follower's cost it judged the edge against, the population's mean); None when absent."""
    return _float(posterior_of(factors).get(name))


async def wallet_views(conn: asyncpg.Connection, addresses: Iterable[str]) -> dict[str, WalletView]:
    rows = await conn.fetch(
        # the row as read: its posterior figures against the current population (migration
        # 022); of its factors JSON only what a WalletView reads (the follower's cost, the
        # population's mean), not the whole JSON built per wallet (migration 020) on the
        # executor's path
        "SELECT s.wallet_address, to_jsonb(s) || jsonb_build_object('factors',"
        " jsonb_build_object('posterior', jsonb_build_object('follower_cost',"
        f" {wallet_sql.FOLLOWER_COST_JSON}, 'prior_mean', {wallet_sql.PRIOR_MEAN_JSON}))) AS j"
        " FROM orderflow_wallet_stats w CROSS JOIN LATERAL orderflow_wallet_read(w) AS s"
        " WHERE w.wallet_address = ANY($1::text[])",
        sorted(set(addresses)),
    )
    views: dict[str, WalletView] = {}
    for row in rows:
        j = row["j"]
        if isinstance(j, str):
            j = json.loads(j)
        views[row["wallet_address"]] = wallet_view_from_stats(j)
    return views


# An entry (side BUY) is one per decision of its leader: the leader's taker rows of one token and
# side in one transaction, whatever their log index. A reorg stores the transaction's trades
# again, usually at other log indexes, and a taker order matched twice in a transaction has a
# taker row per match: each was decided again as a fill of its own, and a decision refused was
# taken the second time (tests/signals/test_exactly_once.py). Exits keep the fill's key (each
# exit of a position is tried on the leader's latest sale, attempt by attempt).
_INSERT_SIGNAL = """
INSERT INTO orderflow_signals (
    strategy, signal_type, status, reason, chain_id, tx_hash, log_index, wallet_address,
    wallet_score, token_id, market_id, outcome_index, side, trigger_price, confidence,
    win_probability, size_usdc, inputs, traceparent, trade_time, decided_at, attempt)
SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $20, $13, $14, $15, $16, $17, $18,
       $19, CASE WHEN $3 = 'PENDING' THEN NULL ELSE clock_timestamp() END, $21
 WHERE $20 <> 'BUY' OR NOT EXISTS (
       SELECT 1 FROM orderflow_signals s
        WHERE s.strategy = $1 AND s.signal_type = $2 AND s.chain_id = $5
          AND s.tx_hash = $6::evm_hash AND s.side = 'BUY' AND s.wallet_address = $8::evm_address
          AND s.token_id = $10::uint256)
ON CONFLICT (strategy, signal_type, chain_id, tx_hash, log_index, side, attempt) DO NOTHING
RETURNING id
"""


async def insert_signal(
    conn: asyncpg.Connection,
    strategy: str,
    trade: TradeView,
    wallet: WalletView,
    decision: Decision,
    *,
    traceparent: str | None,
    attempt: int = 0,
) -> int | None:
    """Store a decision; None when this strategy already has the signal (a replayed trade), or,
    for an entry, one of the same decision of the leader (its taker row of the token and side
    in the transaction, stored again at another log index, or another match of it).
    ``attempt``: 0 for the trading loop's decision, 1, 2, ... for an exit tried again."""
    score = None if wallet.score is None else Decimal(repr(wallet.score)).quantize(Decimal("0.01"))
    value = await conn.fetchval(
        _INSERT_SIGNAL,
        strategy,
        decision.signal_type.value,
        decision.status,
        decision.reason.value,
        trade.chain_id,
        trade.tx_hash,
        trade.log_index,
        trade.wallet,
        score,
        Decimal(trade.token_id),
        trade.market_id,
        trade.outcome_index,
        trade.price,
        decision.confidence,
        decision.win_probability,
        decision.size_usdc,
        decision.inputs,
        traceparent,
        trade.timestamp,
        decision.side,
        attempt,
    )
    return None if value is None else int(value)
