"""The signals stage's SQL: read new trades and build the decision pipeline's views; store signals.

Wallet numbers are read through ``to_jsonb(row)`` so the executor keeps working whichever of the
reputation stage's optional columns (``edge``, ``edge_se``, ``events_resolved``, ``flags``,
``p_edge_above_cost``, ...) exist yet.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from decimal import Decimal
from typing import Any

import asyncpg

from orderflow.chain import pruning
from orderflow.reputation import wallet_sql
from orderflow.signals.decide import Decision
from orderflow.signals.quotes import QUOTE_FILLS, QUOTE_WINDOW_SECS, Seen, levels_of, quote
from orderflow.signals.views import MarketView, Side, TradeView, WalletView


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
    if isinstance(factors, str):
        factors = json.loads(factors)
    if not isinstance(factors, Mapping):
        return None
    posterior = factors.get("posterior")
    if not isinstance(posterior, Mapping):
        return None
    return _float(posterior.get(name))


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


def left_since(
    t: str,
    wallet: str,
    token_id: str,
    complement: str,
    *,
    chain: str,
    ts: str,
    block: str,
    log_index: str,
) -> str:
    """SQL: trade ``t`` is ``wallet`` leaving ``token_id`` after the trade at (``chain``,
    ``block``, ``log_index``) of time ``ts`` on the chain: a SELL of the token, or a BUY of its
    ``complement`` (the other token of its condition; NULL: none known) — a leader that has left
    the position it bought: ``leader_exited``, the entries it leaves behind, the exits owed; one
    definition for all of them, the backtest's tape replaying the same rule.

    A BUY of the complement is a sale: a holder of YES that buys NO holds pairs it merges into
    collateral (the CTF's ``mergePositions``, the neg-risk adapter's alike), which is selling YES
    at 1 - the NO price; its trades show no SELL. Any size leaves, as any SELL does: the leader
    undid at least part of the bet we followed, and what it still holds is not known here (its
    splits, merges, transfers and conversions are no trades; history may start after its first
    buy), so "enough to neutralise its position" could not be measured and a partial exit by
    the complement would be followed less readily than the same exit by a sale.

    After, on the chain: a later block, or the same block (the same transaction too) at a later
    log index. Not a later id: a block retracted and read again (``orderflow.chain.rereads``), or
    history imported late, stores its trades under ids above those of later blocks — a buy stored
    again after its leader's sell made that sell "earlier" (tests/execution/
    test_exit_chain_order.py). ``timestamp >= ts`` holds for every such trade (a block's time
    never precedes its parent's): it is the wallet-and-time index's range, and the block bound
    prunes the partitions before the buy's. The token is matched through the row's side (one
    expression of ``t``'s own columns): written as two alternatives, the planner ANDed the
    wallet's range with a bitmap of the token-and-time index over every trade of both tokens,
    unbounded in time (EXPLAIN on 600,000 trades: 432 index rows per token per partition read to
    find none) — a popular token's millions."""
    return (
        f"{t}.wallet_address = {wallet}"
        f" AND {t}.token_id = CASE {t}.side WHEN 'SELL' THEN {token_id} ELSE {complement} END"
        f" AND {t}.chain_id = {chain} AND {t}.timestamp >= {ts}"
        f" AND {t}.block_number >= {block}"
        f" AND ({t}.block_number, {t}.log_index) > ({block}, {log_index})"
    )


_EARLIEST = "(SELECT min(w) FROM unnest($4::timestamptz[]) w)"
_WINDOWS_START = f"{_EARLIEST} - make_interval(secs => $5)"

# The panic-sell high reads the look-back window before each trade: bounded by block from the
# earliest window's start (one bound for the statement). ``leader_exited``: a SELL of the token
# (or a BUY of its complement) by the trade's wallet after it on the chain (:func:`left_since`;
# the wallet-and-time index, bounded by the trade's block).
_LEFT_SINCE_X = left_since(
    "t", "x.wallet", "x.token_id", "x.complement",
    chain="x.chain_id", ts="x.ts", block="x.block_number", log_index="x.log_index",
)  # fmt: skip
_MARKETS = f"""
SELECT x.key, x.token_id, x.market_id,
       EXISTS (SELECT 1 FROM orderflow_trades t
                WHERE {_LEFT_SINCE_X}) AS leader_exited,
       EXISTS (SELECT 1 FROM orderflow_market_outcomes o WHERE o.market_id = x.market_id)
           AS resolved,
       CASE WHEN $5 > 0 THEN
           (SELECT max(t.price) FROM orderflow_trades t
             WHERE t.token_id = x.token_id
               AND t.timestamp >= x.ts - make_interval(secs => $5) AND t.timestamp < x.ts
               AND {pruning.since(_WINDOWS_START, "t")})
       END AS window_high
  FROM unnest($1::bigint[], $2::numeric[], $3::text[], $4::timestamptz[], $6::text[],
              $7::integer[], $8::bigint[], $9::integer[], $10::numeric[])
       AS x(key, token_id, market_id, ts, wallet, chain_id, block_number, log_index, complement)
"""

_QUOTES_START = "(SELECT min(w) FROM unnest($3::timestamptz[]) w) - make_interval(secs => $4)"


def _recent_fills(token: str) -> str:
    return f"""(SELECT t.token_id, t.timestamp, t.side, t.is_taker_aggregate, t.price
         FROM orderflow_trades t
        WHERE t.token_id = {token} AND t.timestamp >= x.ts - make_interval(secs => $4)
          AND {pruning.since(_QUOTES_START, "t")}
        ORDER BY t.timestamp DESC LIMIT $5)"""


# The latest fills of each trade's token and of its complement within the quote window
# (orderflow.signals.quotes): the levels the book showed.
_QUOTE_FILLS = f"""
SELECT x.key, x.token_id AS quoted, tok.complement_token_id AS complement, f.token_id,
       f.timestamp, f.side, f.is_taker_aggregate, f.price
  FROM unnest($1::bigint[], $2::numeric[], $3::timestamptz[]) AS x(key, token_id, ts)
  LEFT JOIN orderflow_tokens tok ON tok.token_id = x.token_id
  CROSS JOIN LATERAL ({_recent_fills("x.token_id")}
      UNION ALL {_recent_fills("tok.complement_token_id")}) AS f
"""


async def _quotes(
    conn: asyncpg.Connection, trades: Sequence[TradeView]
) -> dict[int, dict[Side, Decimal | None]]:
    """Per trade id: the ask (``"BUY"``) and the bid (``"SELL"``) of its token now."""
    rows = await conn.fetch(
        _QUOTE_FILLS,
        [t.id for t in trades],
        [Decimal(t.token_id) for t in trades],
        [t.timestamp for t in trades],
        QUOTE_WINDOW_SECS,
        QUOTE_FILLS,
    )
    seen: dict[int, list[Seen]] = {}
    for r in rows:
        quoted, token = int(r["quoted"]), int(r["token_id"])
        other = r["complement"] if token == quoted else quoted
        complement = None if other is None else int(other)
        for level_token, met, price in levels_of(
            token, complement, r["side"], r["is_taker_aggregate"], r["price"]
        ):
            if level_token == quoted:
                seen.setdefault(r["key"], []).append(Seen(r["timestamp"], met, price))
    return {
        t.id or 0: {side: quote(seen.get(t.id or 0, ()), side) for side in ("BUY", "SELL")}
        for t in trades
    }


async def market_views(
    conn: asyncpg.Connection, trades: Sequence[TradeView], window_secs: float
) -> dict[int, dict[Side, MarketView]]:
    """Per trade id, the market as a taker on each side meets it: ``last_price`` is the quote
    (:mod:`orderflow.signals.quotes`: the ask for ``"BUY"``, the bid for ``"SELL"``);
    ``window_secs`` 0 skips the panic-sell high. ``leader_exited``: the trade's wallet has left
    the token since (a SELL of it, or a BUY of its complement, after it on the chain:
    :func:`left_since`; a trade read without its block, none)."""
    if not trades:
        return {}
    rows = await conn.fetch(
        _MARKETS,
        [t.id for t in trades],
        [Decimal(t.token_id) for t in trades],
        [t.market_id for t in trades],
        [t.timestamp for t in trades],
        float(window_secs),
        [t.wallet for t in trades],
        [t.chain_id for t in trades],
        [t.block_number for t in trades],
        [t.log_index for t in trades],
        [None if t.complement is None else Decimal(t.complement) for t in trades],
    )
    quotes = await _quotes(conn, trades)
    views: dict[int, dict[Side, MarketView]] = {}
    for r in rows:
        view = MarketView(
            token_id=int(r["token_id"]),
            market_id=r["market_id"],
            resolved=r["resolved"],
            window_high=r["window_high"],
            leader_exited=r["leader_exited"],
        )
        views[r["key"]] = {
            side: replace(view, last_price=price) for side, price in quotes[r["key"]].items()
        }
    return views


_INSERT_SIGNAL = """
INSERT INTO orderflow_signals (
    strategy, signal_type, status, reason, chain_id, tx_hash, log_index, wallet_address,
    wallet_score, token_id, market_id, outcome_index, side, trigger_price, confidence,
    win_probability, size_usdc, inputs, traceparent, trade_time, decided_at, attempt)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $20, $13, $14, $15, $16, $17, $18,
        $19, CASE WHEN $3 = 'PENDING' THEN NULL ELSE clock_timestamp() END, $21)
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
    """Store a decision; None when this strategy already has the signal (a replayed trade).
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
