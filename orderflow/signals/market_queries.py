"""The market views the decision reads, from PostgreSQL: per trade, whether its leader has left
the token since (:func:`left_since`, the one definition of a leader's exit), whether its market
resolved, the panic-sell high of the look-back window, and the quotes each side meets
(:mod:`orderflow.signals.quotes`, from the token's and its complement's latest fills, held to
the token's tape price: :mod:`orderflow.signals.tape`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from decimal import Decimal

import asyncpg

from orderflow.chain import pruning
from orderflow.signals.quotes import (
    QUOTE_FILLS,
    QUOTE_WINDOW_SECS,
    Seen,
    in_panic_high_sql,
    is_level_sql,
    levels_of,
    quote,
)
from orderflow.signals.tape import held_to_tape, tape_price
from orderflow.signals.views import MarketView, Side, TradeView


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
    at 1 - the NO price; its trades show no SELL. Any size above none leaves, as any SELL does
    (a fill of no shares, which the chain emits, moves nothing: ``exits.left_token``): the leader
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
        f"{t}.wallet_address = {wallet} AND {t}.size > 0"  # a fill of no shares leaves nothing
        f" AND {t}.token_id = CASE {t}.side WHEN 'SELL' THEN {token_id} ELSE {complement} END"
        f" AND {t}.chain_id = {chain} AND {t}.timestamp >= {ts}"
        f" AND {t}.block_number >= {block}"
        f" AND ({t}.block_number, {t}.log_index) > ({block}, {log_index})"
    )


_EARLIEST = "(SELECT min(w) FROM unnest($4::timestamptz[]) w)"
_WINDOWS_START = f"{_EARLIEST} - make_interval(secs => $5)"

# The panic-sell high is the market's: no print of the trade's own wallet — its fills, and the
# makers' rows of the asks it took (their taker) — and no print that is no price (at 0, or 1 or
# more: orderflow.signals.quotes.is_level). A degen that bought at 0.60 over a market at 0.51
# and sold at 0.50 was faded off its own buy, as was any sale under 0.90 after a print at 1.00
# (tests/signals/test_panic_high.py).
_MARKETS_HIGH = in_panic_high_sql("t.price", "t.wallet_address", "t.taker_address", "x.wallet")
# The panic-sell high reads the look-back window before each trade: bounded by block from the
# earliest window's start (one bound for the statement). ``leader_exited``: a SELL of the token
# (or a BUY of its complement) by the trade's wallet after it on the chain (:func:`left_since`;
# the wallet-and-time index, bounded by the trade's block).
_LEFT_SINCE_X = left_since(
    "t", "x.wallet", "x.token_id", "x.complement",
    chain="x.chain_id", ts="x.ts", block="x.block_number", log_index="x.log_index",
)  # fmt: skip
# The tape price a quote is held to (orderflow.signals.tape.held_to_tape): of the quote's
# window, so that prints older than any level the quote reads do not hold a fresh one; none
# without a maker row in it (the last print of anyone is one print). Its partitions bounded from
# the earliest trade's window (tests/scale/test_partition_pruning.py).
_TAPE = tape_price(
    "x.token_id",
    since=f"x.ts - make_interval(secs => {QUOTE_WINDOW_SECS})",
    last=False,
    prune=pruning.since(f"{_EARLIEST} - make_interval(secs => {QUOTE_WINDOW_SECS})", "t"),
)
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
               AND {_MARKETS_HIGH}
               AND {pruning.since(_WINDOWS_START, "t")})
       END AS window_high,
       {_TAPE} AS tape
  FROM unnest($1::bigint[], $2::numeric[], $3::text[], $4::timestamptz[], $6::text[],
              $7::integer[], $8::bigint[], $9::integer[], $10::numeric[])
       AS x(key, token_id, market_id, ts, wallet, chain_id, block_number, log_index, complement)
"""

_QUOTES_START = "(SELECT min(w) FROM unnest($3::timestamptz[]) w) - make_interval(secs => $4)"


_LEVEL = is_level_sql("t.price")


def _recent_fills(token: str) -> str:
    """The token's latest ``$5`` fills at a level (:func:`orderflow.signals.quotes.is_level`)
    within the quote window: the levels before the limit (after it, a burst of fills of no
    shares, stored at price 0, left no level in the window: tests/signals/test_quote_crowding.py;
    the backtest's tape keeps the same fills, ``Tape.observe``)."""
    return f"""(SELECT t.token_id, t.timestamp, t.side, t.is_taker_aggregate, t.price
         FROM orderflow_trades t
        WHERE t.token_id = {token} AND t.timestamp >= x.ts - make_interval(secs => $4)
          AND {_LEVEL}
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
    (:mod:`orderflow.signals.quotes`: the ask for ``"BUY"``, the bid for ``"SELL"``), held to
    the token's tape price (:func:`orderflow.signals.tape.held_to_tape`: a quote one wash
    pair's print set is replaced by where distinct pairs trade);
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
            side: replace(view, last_price=held_to_tape(price, r["tape"]))
            for side, price in quotes[r["key"]].items()
        }
    return views
