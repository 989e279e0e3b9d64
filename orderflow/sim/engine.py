"""The event loop: markets open and resolve, wallets decide, wash rings churn.

Pure and deterministic: one ``random.Random(seed)`` drives everything and events are processed
from a heap ordered by (time, sequence number), so the same config always yields the same
timeline. The output is a list of events (:mod:`orderflow.sim.exchange`) in time order — what
happened, in the simulator's own terms; :mod:`orderflow.sim.emit` turns them into raw logs.
"""

from __future__ import annotations

import heapq
import random

from orderflow.sim import extra_styles, traders
from orderflow.sim.agents import Ring, Wallet
from orderflow.sim.book import Book
from orderflow.sim.config import SimConfig
from orderflow.sim.exchange import (
    Conversion,
    Event,
    Match,
    Merge,
    Preparation,
    Resolution,
    Split,
    State,
    open_market,
    resolve,
)
from orderflow.sim.markets import Condition

DAY = 86_400.0

__all__ = [
    "DAY",
    "Conversion",
    "Event",
    "Match",
    "Merge",
    "Preparation",
    "Resolution",
    "Split",
    "run",
]


def run(
    cfg: SimConfig,
    rng: random.Random,
    wallets: list[Wallet],
    rings: list[Ring],
    conditions: list[Condition],
) -> list[Event]:
    """Play the whole history and return its events in time order."""
    start = cfg.start_time.timestamp()
    st = State(cfg, rng, wallets, rings, conditions, end=start + cfg.days * DAY)
    st.books = [Book() for _ in conditions]
    st.makers_of = [[] for _ in conditions]
    st.holdings = {i: w.holdings for i, w in enumerate(wallets)}
    for i, w in enumerate(wallets):
        for leader in () if w.leader is None else (w.leader, *w.more_leaders):
            st.copiers.setdefault(leader, []).append(i)
    for c in conditions:
        if c.neg_risk:
            st.legs.setdefault(c.event, []).append(c.index)
    for c in conditions:
        st.push(c.created_at, "open", c.index)
        if c.resolves_at <= st.end:
            st.push(c.resolves_at, "resolve", c.index)
    for i, w in enumerate(wallets):
        if w.activity > 0:
            st.push(start + rng.expovariate(w.activity / DAY), "act", i)
    for r in rings:
        st.push(start + rng.expovariate(traders.ring_rate(st, r.ring) / DAY), "wash", r.ring)
    while st.heap:
        time, _, kind, a, b = heapq.heappop(st.heap)
        if time > st.end:
            break
        if kind == "open":
            open_market(st, time, a)
        elif kind == "resolve":
            resolve(st, time, a)
        elif kind == "act":
            if wallets[a].style in extra_styles.ACTS:
                extra_styles.act(st, time, a)
            else:
                traders.act(st, time, a)
            st.push(time + rng.expovariate(wallets[a].activity / DAY), "act", a)
        elif kind == "wash":
            traders.wash(st, time, a)
            st.push(time + rng.expovariate(traders.ring_rate(st, a) / DAY), "wash", a)
        elif kind == "unwind":
            traders.unwind(st, time, a, b)
        elif kind == "copy":
            extra_styles.copy(st, time, a, b)
    return st.events
