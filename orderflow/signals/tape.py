"""The token's price as the tape shows it, which one pair of wallets cannot set.

A wash pair — two colluding wallets — trades between itself far from the market (a quarter of
Polymarket's volume: docs/reputation.md), and its prints are on the tape like anyone's. The last
print of anyone is the pair's price whenever it printed last: an open position marked there
read a loss as a gain (the daily loss limit lifted), and a quote read from the latest fills
priced an exit at the pair's "bid" (tests/execution/test_wash_prints.py).

:func:`tape_price` is the median of the latest print of each of the last :data:`TAPE_PAIRS`
distinct pairs that traded the token (a maker and its taker, either way round), among its last
:data:`TAPE_PRINTS` matches (and its complement's, mirrored). Each match counts once: its maker
rows (the taker's aggregate row names no counterparty). However often a pair prints, it is one
voice: beside three other pairs among the last five, the median is theirs; beside one it moves
the price half-way; a token only it trades is its; and a pair that matched more than
:data:`TAPE_PRINTS` times since anyone else did is alone too. With no maker row stored, a mark
is the last print of anyone; a quote is not held.

A print at 0, or at 1 or more, is no price (:func:`orderflow.signals.quotes.is_level`): the rule
reads none, SQL and memory alike (three pairs at 1.00 made the tape 1.00, and a leader's exit
went out at 0.99: tests/signals/test_tape_levels.py).

:func:`held_to_tape` holds a quote (:mod:`orderflow.signals.quotes`) to it.

:class:`TokenPrints` is the same rule in memory, for the backtest's tape
(:mod:`orderflow.backtest.tape`), which replays the prints in the order they were stored:
one definition, the SQL's and its Python form side by side (tests/signals/test_tape.py checks
that they agree on the same prints).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import NamedTuple

from orderflow.signals.quotes import is_level, is_level_sql

# The pairs the median is taken over, and how many of the token's last matches are read.
TAPE_PAIRS = 5
TAPE_PRINTS = 200
# How far a quote may stand from the tape price before it is judged one pair's: 0.10, and at
# most half-way to 0 or to 1 (a print at 0.01 of a token trading at 0.08 is not a bid).
TAPE_BAND = Decimal("0.10")

_PAIR = "LEAST(t.wallet_address, t.taker_address), GREATEST(t.wallet_address, t.taker_address)"


def _matches(token: str, price: str, bound: str, before: str | None) -> str:
    """The token's last :data:`TAPE_PRINTS` maker rows at a level: within ``bound`` (a window:
    read where it is), else before ``before`` (NULL: now) through ``orderflow_tape_latest``
    (migration 092), whose plan stops at the n-th row however many the token has (read in the
    statement, a popular token's whole history was read and sorted: the planner sized it by
    the average token)."""
    rows = (
        f"orderflow_trades t WHERE t.token_id = {token} AND NOT t.is_taker_aggregate{bound}"
        if bound
        else f"orderflow_tape_latest({token}, {before or 'NULL'}, {TAPE_PRINTS}) t"
    )
    return f"""(SELECT {price} AS price, t.timestamp, t.id, t.wallet_address, t.taker_address
                 FROM {rows}
                ORDER BY t.timestamp DESC, t.id DESC LIMIT {TAPE_PRINTS})"""


# A print at 0, or at 1 or more, is no price (orderflow.signals.quotes.is_level): three wash
# pairs printing at 1.00 made the tape 1.00, an honest bid of 0.48 was held to it and a leader's
# exit went out at 0.99, above every bid (tests/signals/test_tape_levels.py).
_LEVEL = is_level_sql("t.price")


def tape_price(
    token: str,
    before: str | None = None,
    since: str | None = None,
    *,
    last: bool = True,
    prune: str = "",
) -> str:
    """SQL: the tape price of ``token`` (the module's); with ``before``, as of then (the prints
    before it); with ``since``, of the prints from then on only. NULL: no print; with ``last``
    False, no maker row (the last print of anyone is one print: it cannot hold a quote).
    ``prune``: a condition on ``t`` that bounds the partitions read and selects nothing
    (:mod:`orderflow.chain.pruning`, from the caller's earliest ``since``).

    A match of the token's buyer with a buyer of its complement (a mint; a merge alike) has
    its maker rows in the complement: they count, at 1 - their price (the unified book's
    mirror, :func:`orderflow.signals.quotes.levels_of`)."""
    bound = (
        f" AND {_LEVEL}"
        + (f" AND t.timestamp < {before}" if before else "")
        + (f" AND t.timestamp >= {since}" if since else "")
        + (f" AND {prune}" if prune else "")
    )
    window = bound if since else ""
    complement = (
        f"(SELECT c.complement_token_id FROM orderflow_tokens c WHERE c.token_id = {token})"
    )
    pairs = f"""(SELECT k.price FROM (
                   SELECT DISTINCT ON ({_PAIR}) t.price, t.timestamp, t.id
                     FROM ({_matches(token, "t.price", window, before)}
                           UNION ALL {_matches(complement, "1 - t.price", window, before)}) t
                    ORDER BY {_PAIR}, t.timestamp DESC, t.id DESC) k
                 ORDER BY k.timestamp DESC, k.id DESC LIMIT {TAPE_PAIRS})"""
    median = f"""(SELECT ((percentile_disc(0.5) WITHIN GROUP (ORDER BY m.price)
                  + percentile_disc(0.5) WITHIN GROUP (ORDER BY m.price DESC)) / 2)
                ::numeric(20, 10)
           FROM {pairs} m)"""
    if not last:
        return median
    return f"""COALESCE({median},
        (SELECT t.price FROM orderflow_trades t WHERE t.token_id = {token}{bound}
          ORDER BY t.timestamp DESC, t.id DESC LIMIT 1))"""


def held_to_tape(quote: Decimal | None, tape: Decimal | None) -> Decimal | None:
    """``quote`` (read from the latest fills: one pair printing last sets it), or the tape
    price when the quote stands further from it than :data:`TAPE_BAND` (and half-way to 0 or
    1): where distinct pairs trade, not where one pair printed. An honest quote in a market
    whose spread is under the band is left as it is. No quote stays none (nobody is known to
    meet the order); no tape price leaves the quote."""
    if quote is None or tape is None:
        return quote
    below = min(TAPE_BAND, tape / 2)
    above = min(TAPE_BAND, (1 - tape) / 2)
    return quote if tape - below <= quote <= tape + above else tape


# The SQL's ``numeric(20, 10)``: the median of two middle prints is rounded to ten places.
_PLACES = Decimal("1e-10")


class Print(NamedTuple):
    """One match's maker row as the tape price reads it: when, by which pair, at what price;
    ``seq``: its place in the order the rows were stored (the SQL's ``id``, which orders the
    prints of one second)."""

    time: datetime
    seq: int
    pair: tuple[str, str]
    price: Decimal


def pair_of(maker: str, taker: str) -> tuple[str, str]:
    """A maker and its taker, either way round: one pair."""
    return (maker, taker) if maker <= taker else (taker, maker)


@dataclass(slots=True)
class _Latest:
    """Of one token's maker rows, what the rule can still read: the latest print of each of
    the :data:`TAPE_PAIRS` pairs that printed last, each with its place among the rows (its
    count), so that one more than :data:`TAPE_PRINTS` rows back is out of reach. Exact: an
    older print of a pair is never read while its newer one is (the newer leaves the last
    :data:`TAPE_PRINTS` later), nor a sixth pair's, behind five newer pairs; memory and time
    stay bounded by :data:`TAPE_PAIRS` however long the tape."""

    count: int = 0
    prints: list[tuple[int, Print]] = field(default_factory=list)  # the latest first

    def add(self, print_: Print) -> None:
        if not is_level(print_.price):
            return  # no price (the SQL's _LEVEL)
        self.count += 1
        prints = self.prints
        for i, (_, p) in enumerate(prints):
            if p.pair == print_.pair:
                del prints[i]
                break
        prints.insert(0, (self.count, print_))
        if len(prints) > TAPE_PAIRS:
            prints.pop()

    def in_reach(self) -> list[Print]:
        return [p for n, p in self.prints if n > self.count - TAPE_PRINTS]


@dataclass(slots=True)
class TokenPrints:
    """A token's maker rows and its complement's (their prices mirrored), fed in the order
    they were stored, as far as :func:`tape_price` reads them (its last :data:`TAPE_PRINTS`
    of each): :func:`tape_price` in memory."""

    own: _Latest = field(default_factory=_Latest)
    mirror: _Latest = field(default_factory=_Latest)

    def price(self, since: datetime | None = None) -> Decimal | None:
        """The median of the latest print of each of the last :data:`TAPE_PAIRS` distinct
        pairs (of the prints from ``since`` on, with it); None: no maker row (the SQL's with
        ``last`` False)."""
        merged = sorted(
            [*self.own.in_reach(), *self.mirror.in_reach()],
            key=lambda p: (p.time, p.seq),
            reverse=True,
        )
        latest: dict[tuple[str, str], Decimal] = {}
        for p in merged:
            if since is not None and p.time < since:
                break
            if p.pair not in latest:
                latest[p.pair] = p.price
                if len(latest) == TAPE_PAIRS:
                    break
        return median(list(latest.values()))


def median(prices: list[Decimal]) -> Decimal | None:
    """The SQL's median: the middle price, or the mean of the two middle ones (ten places)."""
    if not prices:
        return None
    ordered = sorted(prices)
    n = len(ordered)
    middle = (ordered[(n - 1) // 2] + ordered[n // 2]) / 2
    return middle.quantize(_PLACES, rounding=ROUND_HALF_UP)
