"""The raw logs of a :class:`tests.reputation.thirdworld.World` in the format ``orderflow listen
--from-file`` reads (one JSON object a line once dumped): a transaction per market preparation
(with the V1 exchange's two TokenRegistered), per resolution and per match; log indexes counted
per block, a block every 2 seconds.

A match is one OrderFilled per maker order, the taker's aggregate OrderFilled (carrying the V2
taker fee where the market charges one) and the OrdersMatched. A maker fills a taker's buy from
the inventory it holds or by minting (buying the complement); a taker's sell it buys.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

from orderflow.chain.encode import (
    LogPosition,
    encode_condition_preparation,
    encode_condition_resolution,
    encode_token_registered,
)
from orderflow.chain.encode_trades import encode_fill, encode_taker_order
from tests.reputation.thirdworld import T0, World
from tests.reputation.thirdworld_markets import Market

UNIT = 1_000_000
At = Callable[[float, int], list[LogPosition]]


class _Chain:
    def __init__(self, w: World) -> None:
        self.w, self.n_tx, self.orders = w, 0, 0
        self.out: list[dict[str, Any]] = []
        self.next_index: dict[int, int] = {}
        self.hold: dict[tuple[str, int], int] = {}  # shares (units) a maker holds, as emitted

    def at(self, t: float, count: int) -> list[LogPosition]:
        secs = max(0, int(t))
        block = 65_000_000 + secs // 2
        base = self.next_index.get(block, 0)
        self.next_index[block] = base + count
        self.n_tx += 1
        tx = f"0x{(self.w.seed << 192) + (0x3D << 170) + self.n_tx:064x}"
        stamp = T0 + secs - secs % 2
        return [LogPosition(block, f"0x{block:064x}", tx, base + i, stamp) for i in range(count)]

    def order_hash(self) -> str:
        self.orders += 1
        return f"0x{(self.w.seed << 192) + (0x3E << 170) + self.orders:064x}"


def emit(w: World) -> list[dict[str, Any]]:
    """Every action as raw logs, in chain order."""
    ch = _Chain(w)
    for t, _, kind, d in sorted(w.actions, key=lambda x: (x[0], x[1])):
        m: Market = d["m"]
        if kind == "prepare":
            _prepare(ch, t, m, d["leg"])
        elif kind == "resolve":
            for leg, (cond, qid, oracle, _) in enumerate(m.markets):
                ch.out.append(
                    encode_condition_resolution(
                        at=ch.at(t, 1)[0],
                        condition_id=cond,
                        oracle=oracle,
                        question_id=qid,
                        payout_numerators=[1, 0] if m.pays(leg, 0) else [0, 1],
                    )
                )
        else:
            _match(ch, t, d)
    return ch.out


def _prepare(ch: _Chain, t: float, m: Market, leg: int) -> None:
    cond, qid, oracle, (yes, no) = m.markets[leg]
    pos = ch.at(t, 3 if m.version == "V1" else 1)
    ch.out.append(
        encode_condition_preparation(
            at=pos[0], condition_id=cond, oracle=oracle, question_id=qid, outcome_slot_count=2
        )
    )
    if m.version == "V1":  # the V1 operator registered the pair both ways
        for n, (a, b) in enumerate(((yes, no), (no, yes))):
            ch.out.append(
                encode_token_registered(
                    at=pos[1 + n], token0=a, token1=b, condition_id=cond, exchange=m.exchange()
                )
            )


def _match(ch: _Chain, t: float, d: dict[str, Any]) -> None:
    w, m = ch.w, d["m"]
    tokens = m.markets[d["leg"]][3]
    token, comp = tokens[d["out"]], tokens[1 - d["out"]]
    who, side, q = d["who"], d["side"], d["q"]
    total = round(d["shares"] * UNIT)
    makers = [d["maker"]] if d["maker"] else _makers(w, m, who)
    parts = [total // len(makers)] * len(makers)
    parts[-1] += total - sum(parts)
    ex, pos = m.exchange(), ch.at(t, len(makers) + 2)
    paid = 0
    for n, (mk, sh) in enumerate(zip(makers, parts, strict=True)):
        coll = round(sh * q)
        paid += coll
        terms: tuple[Literal["BUY", "SELL"], int, int]
        if side == "SELL":  # the maker buys what the taker sells
            terms = ("BUY", token, coll)
            ch.hold[(mk, token)] = ch.hold.get((mk, token), 0) + sh
        elif ch.hold.get((mk, token), 0) >= sh:  # sells from its inventory
            terms = ("SELL", token, coll)
            ch.hold[(mk, token)] -= sh
        else:  # mints the pair: buys the complement
            terms = ("BUY", comp, sh - coll)
            ch.hold[(mk, comp)] = ch.hold.get((mk, comp), 0) + sh
        ch.out.append(
            encode_fill(
                m.version,
                at=pos[n],
                order_hash=ch.order_hash(),
                maker=mk,
                taker=who,
                side=terms[0],
                token_id=terms[1],
                shares=sh,
                collateral=terms[2],
                exchange=ex,
            )
        )
        w.truth[mk]["fills"] += 1
    fee = round(total * m.fee_rate * q * (1 - q))
    ch.out += encode_taker_order(
        m.version,
        fill_at=pos[-2],
        match_at=pos[-1],
        order_hash=ch.order_hash(),
        taker=who,
        side=side,
        token_id=token,
        shares=total,
        collateral=paid,
        fee=fee,
        exchange=ex,
    )
    w.truth[who]["fills"] += 1


def _makers(w: World, m: Market, who: str) -> list[str]:
    cover = [mk for mk in w.makers if m.idx in w.cover[mk] and mk != who]
    if not cover:  # nobody quotes it: another taker's resting order
        takers = [a for a, v in w.truth.items() if v["style"] == "taker" and a != who]
        return [w.rng.choice(takers)]
    return w.rng.sample(cover, 1 if m.weight < 1 else w.rng.randint(1, min(2, len(cover))))
