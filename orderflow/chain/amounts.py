"""The taker's executed amounts, from the maker fills of its match.

When the operator passes ``matchOrders`` a taker fill amount larger than the makers need, the
exchange pulls that amount from the taker, fills the makers, and refunds the leftover — but the
taker's OrderFilled and the OrdersMatched still report the full amount (checked against the
real V1 exchange, and V2 mint/merge/mixed matches). Example: a BUY at a 0.62 limit with a
taker fill amount of 24.8 USDC against a maker selling 40 shares at 0.60: the taker paid 24.0,
its OrderFilled says 24.8 (0.62 a share).

The maker fills of the same match carry what was executed, so the taker's "giving" amount is
rebuilt from them:

* taker BUY (gives collateral): a maker SELL of the same token received ``collateral`` of it
  (a transfer); a maker BUY of the complement (a mint) put up ``collateral`` and the taker the
  rest of the ``shares`` minted, ``shares - collateral``;
* taker SELL (gives shares): every maker took ``shares`` of them (a maker BUY of the same
  token: transfer; a maker SELL of the complement: merge).

The taker's "receiving" amount already includes any surplus and is right as emitted, which
makes it the check that every maker fill of the match is at hand: the makers must deliver
exactly what the taker received (taker BUY: the shares of maker SELLs plus the pairs minted
with maker BUYs of the complement; taker SELL: the collateral of maker BUYs plus the merge
proceeds ``shares - collateral`` of maker SELLs of the complement). When they do not — only part
of a transaction at hand (a dump cut in the middle of one, an unsorted file) — the reported
amounts are kept: a correction from some of the makers would store less than was paid. The fix
applies only when the rebuilt amount is positive and smaller than the reported one; the taker's
fee is left as charged. Fills and the match are those of one exchange in one transaction,
between the previous OrdersMatched of that exchange and this one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol, TypeVar

from orderflow.chain.events import DecodedBatch, FillFields, Located, MatchFields


class _Amounts(Located, Protocol):
    """A fill or a match, as a repeat of it is mended (:func:`_to_twins`)."""

    shares: int
    collateral: int


F = TypeVar("F", bound=FillFields)
E = TypeVar("E", bound=_Amounts)


def correct_match(match: MatchFields, segment: Sequence[FillFields]) -> bool:
    """Rebuild the taker's giving amount of one match from its maker fills (in place);
    ``segment``: the fills of its exchange and transaction after the previous match, in log
    order. True when the amounts were lowered."""
    taker: FillFields | None = None
    makers: list[FillFields] = []
    for f in segment:
        if f.is_taker_aggregate:
            if f.order_hash == match.taker_order_hash:
                if taker is not None:
                    return False  # two aggregates for one order: leave the report alone
                taker = f
        else:
            makers.append(f)
    if taker is None or not makers:
        return False
    amounts = _executed_delivered(taker, makers)
    if amounts is None:
        return False  # not a shape a match can have
    executed, delivered = amounts
    if delivered != _received(taker):
        return False  # not every maker fill of the match is at hand
    if taker.side == "BUY":
        if 0 < executed < taker.collateral:
            taker.collateral = executed
            if match.side == "BUY" and executed < match.collateral:
                match.collateral = executed
            return True
        return False
    if 0 < executed < taker.shares:
        taker.shares = executed
        if match.side == "SELL" and executed < match.shares:
            match.shares = executed
        return True
    return False


def _received(taker: FillFields) -> int:
    """What the taker's aggregate fill received: right as emitted (surplus included)."""
    return taker.shares if taker.side == "BUY" else taker.collateral


def _executed_delivered(taker: FillFields, makers: Sequence[FillFields]) -> tuple[int, int] | None:
    """(the taker's giving amount as executed, what the makers delivered to it) from its
    makers' fills, or None when they are not a shape a match can have."""
    executed = delivered = 0
    token = taker.token_id
    if taker.side == "BUY":
        for m in makers:
            if m.side == "SELL" and m.token_id == token:
                executed += m.collateral  # transfer
            elif m.side == "BUY" and m.token_id != token:
                executed += m.shares - m.collateral  # mint
            else:
                return None
            delivered += m.shares
        return executed, delivered
    for m in makers:
        if m.side == "BUY" and m.token_id == token:
            delivered += m.collateral  # transfer
        elif m.side == "SELL" and m.token_id != token:
            delivered += m.shares - m.collateral  # merge
        else:
            return None
        executed += m.shares
    return executed, delivered


def short_of_makers(segment: Sequence[FillFields]) -> bool:
    """Whether a taker aggregate's segment (its makers, then itself: the fills since the
    previous aggregate of its exchange and transaction, in log order) lacks maker fills: they
    deliver less than the taker received — some are elsewhere (an earlier file of a dump split
    inside the transaction). A segment whose fills are no shape a match can have is not."""
    taker, makers = segment[-1], segment[:-1]
    amounts = _executed_delivered(taker, makers)
    return amounts is not None and amounts[1] < _received(taker)


def correct_taker_amounts(batch: DecodedBatch) -> int:
    """Set each match's taker fill (and the match) to its executed amounts; returns how many
    matches were corrected. Runs on a decoded batch, in place, before storage."""
    return correct_events(batch.fills, batch.matches)


def correct_events(fills: Sequence[FillFields], matches: Sequence[MatchFields]) -> int:
    """:func:`correct_taker_amounts` of a batch's ``fills`` and ``matches`` (in input order):
    Fill and Match objects, or the file import's light records of them (``decode_fast``)."""
    if not matches or not fills:
        return 0
    # Keyed by transaction (a str: cheaper than a tuple per fill); exchanges split below.
    by_tx: dict[str, list[MatchFields]] = {}
    for m in matches:
        tx = m.ref.tx_hash
        try:
            by_tx[tx].append(m)
        except KeyError:
            by_tx[tx] = [m]
    fills_by_tx: dict[str, list[FillFields]] = {}
    for f in fills:
        tx = f.ref.tx_hash
        if tx in by_tx:
            try:
                fills_by_tx[tx].append(f)
            except KeyError:
                fills_by_tx[tx] = [f]
    corrected = 0
    for tx, in_tx in fills_by_tx.items():
        group = by_tx[tx]
        exchanges = {m.ref.address for m in group}
        exchanges.update(f.ref.address for f in in_tx)
        if len(exchanges) == 1:
            corrected += _correct_tx(group, in_tx)
            continue
        for exchange in exchanges:
            ours = [m for m in group if m.ref.address == exchange]
            if ours:
                theirs = [f for f in in_tx if f.ref.address == exchange]
                corrected += _correct_tx(ours, theirs)
    return corrected


def _correct_tx(group: list[MatchFields], in_tx: list[FillFields]) -> int:
    """One exchange's matches and fills in one transaction: each match takes the fills
    between the previous match and itself."""
    if len(group) > 1:
        group.sort(key=_log_index)
    if len(in_tx) > 1:
        in_tx.sort(key=_log_index)  # already in order in practice
    fills, twins = _once(in_tx)
    matches, match_twins = _once(group)
    corrected = 0
    i, n = 0, len(fills)
    for match in matches:
        end = match.ref.log_index
        reported = (match.shares, match.collateral)
        start = i
        while i < n and fills[i].ref.log_index < end:
            i += 1
        if i > start and _corrected(match, fills[start:i], twins):
            corrected += 1
            _to_twins(match, reported, match_twins, lambda m: m.taker_order_hash)
    return corrected


def _once(events: list[E]) -> tuple[list[E], dict[int, list[E]]]:
    """A transaction's fills or matches (of one exchange, in log order) with each log once, and
    the repeats of the logs given more than once (a replayed range, a file with a repeated
    line), by log index: a repeated maker counted twice would deliver more than the taker
    received, and the correction would leave the reported amounts."""
    once: list[E] = []
    twins: dict[int, list[E]] = {}
    last = None
    for e in events:
        index = e.ref.log_index
        if index == last:
            twins.setdefault(index, []).append(e)
        else:
            once.append(e)
            last = index
    return once, twins


def _to_twins(
    done: E, reported: tuple[int, int], twins: dict[int, list[E]], order: Callable[[E], str]
) -> None:
    """Give ``done``'s executed amounts to its repeats that are the same event as reported
    (same order, same amounts): the store keeps one of the copies, whichever it is."""
    for twin in twins.get(done.ref.log_index, ()):
        if order(twin) == order(done) and (twin.shares, twin.collateral) == reported:
            twin.shares, twin.collateral = done.shares, done.collateral


def _corrected(match: MatchFields, segment: Sequence[F], twins: dict[int, list[F]]) -> bool:
    """:func:`correct_match` on a segment of logs given once; the taker's repeats get its
    executed amounts too (:func:`_to_twins`)."""
    taker = next((f for f in segment if f.is_taker_aggregate), None)
    reported = (taker.shares, taker.collateral) if taker is not None else None
    if not correct_match(match, segment):
        return False
    assert taker is not None and reported is not None
    _to_twins(taker, reported, twins, lambda f: f.order_hash)
    return True


def _log_index(event: FillFields | MatchFields) -> int:
    return event.ref.log_index


def correct_unmatched_takers(
    fills: Sequence[FillFields], short: list[FillFields] | None = None
) -> int:
    """:func:`correct_taker_amounts` for fills whose OrdersMatched are not at hand (a dump of
    OrderFilled rows only); returns how many taker fills were corrected, in place.

    The exchange emits a match's maker fills, then the taker's aggregate fill, then the
    OrdersMatched: so, per exchange and transaction in log order, the fills since the previous
    taker aggregate, ending with the next one, are exactly the segment its match would take.
    Each taker aggregate is corrected from that segment with :func:`correct_match`'s rule and
    checks (every maker must be at hand); the match, absent, is the chain's to store. A taker
    left as reported because makers of its segment are missing (:func:`short_of_makers`) is
    added to ``short``, if given."""
    groups: dict[tuple[str, str], list[FillFields]] = {}
    for f in fills:
        key = (f.ref.tx_hash, f.ref.address)
        try:
            groups[key].append(f)
        except KeyError:
            groups[key] = [f]
    corrected = 0
    for in_tx in groups.values():
        if not any(f.is_taker_aggregate for f in in_tx):
            continue
        in_tx.sort(key=_log_index)
        fills, twins = _once(in_tx)
        start = 0
        for i, f in enumerate(fills):
            if f.is_taker_aggregate:
                segment = fills[start : i + 1]
                if _corrected(_Unmatched(f), segment, twins):
                    corrected += 1
                elif short is not None and short_of_makers(segment):
                    short.append(f)
                start = i + 1
    return corrected


class _Unmatched:
    """The match a taker aggregate fill implies, for :func:`correct_match` (which then lowers
    this stand-in's amounts too: nothing reads them)."""

    __slots__ = ("collateral", "ref", "shares", "side", "taker_order_hash")

    def __init__(self, taker: FillFields) -> None:
        self.ref = taker.ref
        self.taker_order_hash = taker.order_hash
        self.side = taker.side
        self.shares = taker.shares
        self.collateral = taker.collateral
