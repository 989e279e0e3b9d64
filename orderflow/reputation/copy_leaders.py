"""Whom a wallet copies: the COPIER test's evidence for one wallet, for ``orderflow wallet``.

Each leader the wallet trails in at least ``copy_min_markets`` tokens, from the lead-lag pairs
the last run kept (``orderflow_copy_pairs``, :mod:`orderflow.reputation.copy_state`): its
trailing and leading buys, the share of the wallet's taker buys that trail it, the sign test's
P and the level it is judged at -- ``copy_alpha`` shared among every leader tried, the run's own
rule (:func:`orderflow.reputation.flags.copier_rows`) -- and the leader's own tier and flags. A
COPIER's record is its leader's decisions, late and dearer: a leader in the top tiers is the
wallet to follow instead.

The pairs are the last run's, as the flag is; the wallet's taker buys are counted as of the
same run's data (its row's ``as_of``). Read by the pairs' primary key (follower first) and the
trades' wallet index: one wallet's rows, whatever the population.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg
import numpy as np

from orderflow.db import table_exists
from orderflow.reputation import copy_sql
from orderflow.reputation.copy_state import PAIRS
from orderflow.reputation.flags import copier_rows, sign_test
from orderflow.reputation.settings import ReputationSettings

__all__ = ["CopyLeader", "leaders"]

# $1 = the run's as_of, $2 = the wallet, $3 = copy_min_markets: its pairs as rep_copy holds them.
LEADERS = f"""
SELECT p.l AS leader, p.trail, p.lead, p.markets, {copy_sql.taker_buys("p.f")} AS buys,
       s.trader_tier AS leader_tier, s.flags AS leader_flags
  FROM {PAIRS} p
  LEFT JOIN orderflow_wallet_stats s ON s.wallet_address = p.l
 WHERE p.f = $2 AND p.trail > 0 AND p.markets >= $3::int
 ORDER BY p.trail DESC, p.l
"""


@dataclass(frozen=True)
class CopyLeader:
    """One leader the wallet trails, judged as the run judges it (``copies``)."""

    leader: str
    trail: int
    lead: int
    markets: int
    buys: int  # the wallet's taker buys
    p: float  # the sign test's P(X >= trail), X ~ Binomial(trail + lead, 1/2)
    level: float  # copy_alpha / the leaders tried
    copies: bool
    leader_tier: str | None
    leader_flags: Sequence[str]

    def as_json(self) -> dict[str, Any]:
        return {**self.__dict__, "leader_flags": list(self.leader_flags)}


async def leaders(
    conn: asyncpg.Connection,
    wallet: str,
    stats: Mapping[str, Any] | None,
    settings: ReputationSettings,
) -> list[CopyLeader] | None:
    """The leaders ``wallet`` trails in ``copy_min_markets`` tokens, most trailed first; None
    when no run has kept the pairs (an incremental run keeps them, the first after a full run
    builds them) or the wallet has no scored row to date them."""
    as_of = None if stats is None else stats["as_of"]
    if not isinstance(as_of, datetime) or not await table_exists(conn, PAIRS):
        return None
    if not await conn.fetchval("SELECT coalesce(bool_or(valid), false) FROM orderflow_copy_state"):
        return None
    rows = await conn.fetch(LEADERS, as_of, wallet, settings.copy_min_markets)
    if not rows:
        return []

    def col(name: str) -> np.ndarray[Any, np.dtype[np.int64]]:
        return np.array([int(r[name]) for r in rows], dtype=np.int64)

    trail, lead, markets, buys = col("trail"), col("lead"), col("markets"), col("buys")
    copies = copier_rows(np.zeros(len(rows), dtype=np.int64), trail, lead, markets, buys, settings)
    level = settings.copy_alpha / len(rows)
    return [
        CopyLeader(
            leader=r["leader"],
            trail=int(r["trail"]),
            lead=int(r["lead"]),
            markets=int(r["markets"]),
            buys=int(r["buys"]),
            p=sign_test(int(r["trail"]), int(r["trail"]) + int(r["lead"])),
            level=level,
            copies=bool(c),
            leader_tier=r["leader_tier"],
            leader_flags=list(r["leader_flags"] or ()),
        )
        for r, c in zip(rows, copies.tolist(), strict=True)
    ]
