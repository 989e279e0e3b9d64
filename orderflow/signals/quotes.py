"""The price a taker would meet now, read from fills: the ask for a BUY, the bid for a SELL.

The chain shows fills, not the book, but every fill shows which side of the book it took. A fill
of token ``X`` at ``p``:

* a maker's SELL, or a taker's BUY (the price a taker paid): an **ask** of ``X`` at ``p``;
* a maker's BUY, or a taker's SELL (the price a taker got): a **bid** of ``X`` at ``p``;
* and, in Polymarket's unified book, the mirror level of the complement token at ``1 - p``: a bid
  of ``Y`` at ``q`` is an ask of ``X`` at ``1 - q`` (matched by minting), an ask of ``Y`` at
  ``q`` a bid of ``X`` at ``1 - q`` (by merging).

A level is named by the side of the *taker who meets it* (``"BUY"``: an ask), as the backtest's
book does (:mod:`orderflow.backtest.liquidity` reads its levels through :func:`levels_of`).

:func:`quote` turns recent levels into the price to trade at: for a BUY the highest ask seen at
the latest moment asks were seen (the taker who took them left the next one at that price or
above), raised to the highest bid seen since (the book is never crossed: an ask stood above each
bid a seller hit). No ask seen: no price — an order nobody is known to offer to is not filled
at a guess (the executor records ``no_price``). A SELL mirrors it: the lowest bid at the latest
moment bids were seen, lowered to the lowest ask seen since.

A print at 0 or at 1 or more is no level (no resting order is priced there; the paper exchange
and the backtest refuse such levels too: :func:`orderflow.execution.depth.plausible`).

The last trade price is not a quote: after a panic sell it is the bid the seller hit, about a
spread below any ask, and a paper BUY priced there filled where no live order could.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from orderflow.reputation.line_sql import is_level as line_is_level
from orderflow.reputation.line_sql import level_sql
from orderflow.signals.views import Side

# How far back a fill still tells what the book offers (the executor's quote): half an hour, the
# backtest's default wait for a book to show itself (orderflow.backtest.engine).
QUOTE_WINDOW_SECS = 1800.0
# Fills of each token read per quote: the latest ones, enough for a busy token's last minutes.
QUOTE_FILLS = 200


def is_level(price: Decimal) -> bool:
    """A price a resting order can have: strictly between 0 and 1 (the CLOB rests none at 0, or
    at 1 or more). A print anywhere else is no level and no price: the quote, the tape price
    (:mod:`orderflow.signals.tape`) and the panic-sell high leave it out. The score's rule, one
    place: :func:`orderflow.reputation.line_sql.is_level`."""
    return line_is_level(price)


def is_level_sql(price: str) -> str:
    """SQL: :func:`is_level` of the expression ``price`` (the score's rule of a level, one place:
    :func:`orderflow.reputation.line_sql.level_sql`)."""
    return level_sql(price)


def in_panic_high(price: Decimal, wallet: str, taker: str | None, seller: str) -> bool:
    """Whether a print (``wallet``'s row; ``taker``: a maker row's taker, None on a taker's row,
    whose stored taker is the exchange) counts towards the panic-sell high a sale of ``seller``
    fell from: the market's — not ``seller``'s own fill, nor a maker's row of an order
    ``seller`` took, and a price (:func:`is_level`). The executor's SQL, ``_MARKETS_HIGH`` in
    :mod:`orderflow.signals.market_queries`, in memory for the backtest's tape
    (:meth:`orderflow.backtest.tape.Tape.observe`; tests/backtest/test_panic_high.py checks
    the two give the same high on the same stored prints)."""
    return is_level(price) and seller not in (wallet, taker)


def in_panic_high_sql(price: str, wallet: str, taker: str, seller: str) -> str:
    """SQL: :func:`in_panic_high` of the expressions (a taker's row names the exchange as its
    taker, never a seller)."""
    return f"{is_level_sql(price)} AND {wallet} <> {seller} AND {taker} <> {seller}"


def opposite(side: Side) -> Side:
    return "SELL" if side == "BUY" else "BUY"


def levels_of(
    token_id: int, complement_id: int | None, side: str, is_taker: bool, price: Decimal
) -> list[tuple[int, Side, Decimal]]:
    """The levels one fill shows: ``(token, side of a taker meeting it, price in that token)``.

    Its own token's (a maker's SELL or a taker's BUY: an ask, met by a taker BUY) and, when the
    complement is known, the mirror level of the complement at ``1 - price``.
    """
    met: Side = "BUY" if (side == "SELL") != is_taker else "SELL"
    levels: list[tuple[int, Side, Decimal]] = [(token_id, met, price)]
    if complement_id is not None:
        levels.append((complement_id, opposite(met), 1 - price))
    return levels


@dataclass(frozen=True, slots=True)
class Seen:
    """A level of the quoted token seen in a fill: when, met by which taker side, at what price."""

    time: datetime
    met: Side
    price: Decimal


def quote(seen: Iterable[Seen], side: Side) -> Decimal | None:
    """The price a taker on ``side`` would meet now (None: no level of that side seen).

    A print no resting order could have made — at 0, or at 1 or more (the CLOB rests orders
    strictly between) — is no level: a wash pair's price-0 "ask" would otherwise price a follow
    at the tick and size it by Kelly at that price."""
    levels = [s for s in seen if is_level(s.price)]
    own = [s for s in levels if s.met == side]
    if not own:
        return None
    latest = max(s.time for s in own)
    others = [s.price for s in levels if s.met != side and s.time >= latest]
    at_latest = [s.price for s in own if s.time == latest]
    if side == "BUY":
        return max([*at_latest, *others])
    return min([*at_latest, *others])
