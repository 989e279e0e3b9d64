"""The raw logs of a :class:`tests.reputation.newsworld.World`, as ``orderflow listen
--from-file`` reads them: one transaction per market preparation (and the V1 exchange's two
TokenRegistered), resolution or match, log indexes counted per block."""

from __future__ import annotations

from typing import Any

from orderflow.chain.encode import (
    LogPosition,
    encode_condition_preparation,
    encode_condition_resolution,
    encode_token_registered,
)
from orderflow.chain.encode_trades import encode_fill, encode_taker_order
from orderflow.chain.events import Side
from tests.reputation.newsworld import T0, UNIT, Event, World


def emit(w: World) -> list[dict[str, Any]]:
    """Every action as raw logs, in chain order (a transaction each; log indexes per
    block)."""
    out: list[dict[str, Any]] = []
    block_next: dict[int, int] = {}
    n_tx = 0

    def at(t: float, count: int) -> list[LogPosition]:
        nonlocal n_tx
        secs = max(0, int(t))
        block = 70_000_000 + secs // 2
        base = block_next.get(block, 0)
        block_next[block] = base + count
        n_tx += 1
        tx = f"0x{(w.seed << 200) + n_tx:064x}"
        return [
            LogPosition(block, f"0x{block:064x}", tx, base + i, T0 + secs - secs % 2)
            for i in range(count)
        ]

    for t, _, kind, d in sorted(w.actions, key=lambda x: (x[0], x[1])):
        e: Event = d["e"]
        if kind == "prepare":
            cond, qid, oracle, (yes, no) = e.markets[d["leg"]]
            pos = at(t, 3 if e.version == "V1" else 1)
            out.append(
                encode_condition_preparation(
                    at=pos[0],
                    condition_id=cond,
                    oracle=oracle,
                    question_id=qid,
                    outcome_slot_count=2,
                )
            )
            if e.version == "V1":  # the V1 operator registered each token pair
                for n, (a, b) in enumerate(((yes, no), (no, yes))):
                    out.append(
                        encode_token_registered(
                            at=pos[1 + n],
                            token0=a,
                            token1=b,
                            condition_id=cond,
                            exchange=w.exchange(e),
                        )
                    )
        elif kind == "resolve":
            for leg, (cond, qid, oracle, _) in enumerate(e.markets):
                out.append(
                    encode_condition_resolution(
                        at=at(t, 1)[0],
                        condition_id=cond,
                        oracle=oracle,
                        question_id=qid,
                        payout_numerators=[1, 0] if e.wins(leg, 0) else [0, 1],
                    )
                )
        else:
            _emit_trade(w, out, at, t, d)
    return out


def _emit_trade(w: World, out: list[dict[str, Any]], at: Any, t: float, d: dict[str, Any]) -> None:
    """One match: an OrderFilled per maker order (1-3 makers in liquid markets; a maker
    sells inventory it holds or mints the pair by buying the complement), the taker's
    aggregate OrderFilled and the OrdersMatched."""
    e: Event = d["e"]
    token, comp = (e.markets[d["leg"]][3][d["out"]], e.markets[d["leg"]][3][1 - d["out"]])
    who, side, q = d["who"], d["side"], d["q"]
    total = round(d["shares"] * UNIT)
    makers = [d["maker"]] if d["maker"] else _makers_for(w, e, who)
    parts = [total // len(makers)] * len(makers)
    parts[-1] += total - sum(parts)
    ex, pos = w.exchange(e), at(t, len(makers) + 2)
    paid = 0
    for n, (mk, sh) in enumerate(zip(makers, parts, strict=True)):
        coll = round(sh * q)
        paid += coll
        terms: tuple[Side, int, int]  # the maker's side, token and collateral
        if side == "SELL":  # the maker buys what the taker sells
            terms, w.hold[(mk, token)] = (
                ("BUY", token, coll),
                w.hold.get((mk, token), 0) + sh,
            )
        elif w.hold.get((mk, token), 0) >= sh and d["maker"] is None:
            terms, w.hold[(mk, token)] = ("SELL", token, coll), w.hold[(mk, token)] - sh
        else:  # mint: the maker buys the complement
            terms, w.hold[(mk, comp)] = (
                ("BUY", comp, sh - coll),
                w.hold.get((mk, comp), 0) + sh,
            )
        out.append(
            encode_fill(
                e.version,
                at=pos[n],
                order_hash=_hash(w),
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
    out += encode_taker_order(
        e.version,
        fill_at=pos[-2],
        match_at=pos[-1],
        order_hash=_hash(w),
        taker=who,
        side=side,
        token_id=token,
        shares=total,
        collateral=paid,
        exchange=ex,
    )
    w.truth[who]["fills"] += 1


def _makers_for(w: World, e: Event, who: str) -> list[str]:
    cover = [m for m in w.makers if e.idx in w.cover[m] and m != who]
    if not cover:  # an illiquid market: a resting order of some other taker
        return [w.rng.choice([a for a, v in w.truth.items() if v["style"] == "taker" and a != who])]
    return w.rng.sample(cover, 1 if e.weight < 1 else w.rng.randint(1, min(3, len(cover))))


def _hash(w: World) -> str:
    w.orders += 1
    return f"0x{(w.seed << 180) + (0xABC << 160) + w.orders:064x}"
