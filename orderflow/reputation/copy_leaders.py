"""Whom a wallet copies, and who copies it: the COPIER test's evidence for one wallet, for
``orderflow wallet``.

Each leader the wallet trails in at least ``copy_min_markets`` tokens, from the lead-lag pairs
the last run kept (``orderflow_copy_pairs``, :mod:`orderflow.reputation.copy_state`): its
trailing and leading buys, the share of the wallet's taker buys that trail it, the sign test's
P and the level it is judged at -- ``copy_alpha`` shared among every leader tried, the run's own
rule (:func:`orderflow.reputation.flags.copier_rows`) -- and the leader's own tier and flags. A
COPIER's record is its leader's decisions, late and dearer: a leader in the top tiers is the
wallet to follow instead.

And the other side (:func:`copiers`): the wallets that copy it by the same rule, each judged
over all its own leaders -- a leader with copy bots is crowded: they buy what it buys seconds to
minutes later, before a follower can.

The pairs are the last run's, as the flag is; the wallet's taker buys are counted as of the
same run's data (its row's ``as_of``). Its leaders are read by the pairs' primary key (follower
first), its copiers by their markets index (the pairs past ``copy_min_markets``), and the buys
by the trades' wallet index.
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

__all__ = ["Copier", "CopyLeader", "CopyRelation", "copy_lines", "relation"]

# $1 = the run's as_of, $2 = the wallet, $3 = copy_min_markets: its pairs as rep_copy holds them.
LEADERS = f"""
SELECT p.l AS leader, p.trail, p.lead, p.markets, {copy_sql.taker_buys("p.f")} AS buys,
       s.trader_tier AS leader_tier, s.flags AS leader_flags
  FROM {PAIRS} p
  LEFT JOIN orderflow_wallet_stats s ON s.wallet_address = p.l
 WHERE p.f = $2 AND p.trail > 0 AND p.markets >= $3::int
 ORDER BY p.trail DESC, p.l
"""


# Its followers' pairs, every pair of each (their level and share are over all their leaders).
# $1 = the run's as_of, $2 = the wallet, $3 = copy_min_markets. By the pairs' markets index (the
# pairs past copy_min_markets are a few of all), then each follower's by the primary key.
FOLLOWERS = f"""
SELECT p.f AS follower, p.l AS leader, p.trail, p.lead, p.markets,
       {copy_sql.taker_buys("p.f")} AS buys, s.trader_tier AS tier, s.flags
  FROM {PAIRS} p
  LEFT JOIN orderflow_wallet_stats s ON s.wallet_address = p.f
 WHERE p.f IN (SELECT q.f FROM {PAIRS} q
                WHERE q.l = $2 AND q.trail > 0 AND q.markets >= $3::int)
   AND p.trail > 0 AND p.markets >= $3::int
 ORDER BY p.f, p.l
"""


@dataclass(frozen=True)
class Copier:
    """A wallet that copies this one (the run's verdict), with its tier and flags."""

    wallet: str
    trail: int  # its buys trailing this wallet's
    tier: str | None
    flags: Sequence[str]

    def as_json(self) -> dict[str, Any]:
        return {**self.__dict__, "flags": list(self.flags)}


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

    @property
    def passes(self) -> bool:
        """Whether its sign test passes at the shared level (copied when the share is made)."""
        return self.p <= self.level

    def as_json(self) -> dict[str, Any]:
        return {**self.__dict__, "leader_flags": list(self.leader_flags)}


@dataclass(frozen=True)
class CopyRelation:
    """Whom a wallet copies (``leaders``) and who copies it (``copied_by``)."""

    leaders: list[CopyLeader]
    copied_by: list[Copier]


async def relation(
    conn: asyncpg.Connection,
    wallet: str,
    stats: Mapping[str, Any] | None,
    settings: ReputationSettings,
) -> CopyRelation | None:
    """Both sides of ``wallet``'s copy relation from the pairs the last run kept; None when no
    run has kept them (an incremental run keeps them, the first after a full run builds them)
    or the wallet has no scored row to date them."""
    as_of = None if stats is None else stats["as_of"]
    if not isinstance(as_of, datetime) or not await table_exists(conn, PAIRS):
        return None
    if not await conn.fetchval("SELECT coalesce(bool_or(valid), false) FROM orderflow_copy_state"):
        return None
    return CopyRelation(
        await _leaders(conn, wallet, as_of, settings), await _copiers(conn, wallet, as_of, settings)
    )


def _judged(
    rows: Sequence[Mapping[str, Any]], follower: Sequence[int], s: ReputationSettings
) -> list[bool]:
    """The run's verdict on each row (:func:`~orderflow.reputation.flags.copier_rows`)."""

    def col(name: str) -> np.ndarray[Any, np.dtype[np.int64]]:
        return np.array([int(r[name]) for r in rows], dtype=np.int64)

    f = np.array(follower, dtype=np.int64)
    out = copier_rows(f, col("trail"), col("lead"), col("markets"), col("buys"), s)
    return [bool(x) for x in out.tolist()]


async def _copiers(
    conn: asyncpg.Connection, wallet: str, as_of: datetime, settings: ReputationSettings
) -> list[Copier]:
    """The wallets that copy ``wallet`` by the run's rule, most trailing first (a leader with
    copy bots is crowded: they buy what it buys seconds to minutes later, before a follower
    can)."""
    rows = await conn.fetch(FOLLOWERS, as_of, wallet, settings.copy_min_markets)
    ids = {f: k for k, f in enumerate(dict.fromkeys(r["follower"] for r in rows))}
    judged = _judged(rows, [ids[r["follower"]] for r in rows], settings)
    found = [
        Copier(r["follower"], int(r["trail"]), r["tier"], list(r["flags"] or ()))
        for r, c in zip(rows, judged, strict=True)
        if c and r["leader"] == wallet
    ]
    return sorted(found, key=lambda c: (-c.trail, c.wallet))


async def _leaders(
    conn: asyncpg.Connection, wallet: str, as_of: datetime, settings: ReputationSettings
) -> list[CopyLeader]:
    """The leaders ``wallet`` trails in ``copy_min_markets`` tokens, most trailed first."""
    rows = await conn.fetch(LEADERS, as_of, wallet, settings.copy_min_markets)
    copies = _judged(rows, [0] * len(rows), settings)
    level = settings.copy_alpha / max(len(rows), 1)
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
        for r, c in zip(rows, copies, strict=True)
    ]


def _counted(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


# At most this many of a leader's copiers shown (the JSON has them all).
COPIERS_SHOWN = 5


def _copier_lines(copied_by: Sequence[Copier]) -> list[str]:
    """Who copies the wallet (:func:`_copiers`)."""
    if not copied_by:
        return ["copied by: nobody, by the COPIER rule"]
    lines = [
        f"copied by {_counted(len(copied_by), 'wallet')} (the COPIER rule: they buy what it "
        "buys, before a follower can)"
    ]
    for c in copied_by[:COPIERS_SHOWN]:
        flags = ",".join(c.flags) or "-"
        lines.append(
            f"  {c.wallet} ({c.tier or 'unscored'}, flags {flags}): {c.trail} trailing buys"
        )
    if len(copied_by) > COPIERS_SHOWN:
        lines.append(f"  … and {len(copied_by) - COPIERS_SHOWN} more (--json lists them all)")
    return lines


def _copy_lines(copying: Sequence[CopyLeader], s: ReputationSettings) -> list[str]:
    """Whom the wallet trails (:func:`_leaders`)."""
    if not copying:
        return [f"copying: no wallet it trails in {s.copy_min_markets} tokens or more"]
    passed = sum(c.trail for c in copying if c.passes)
    lines = [
        f"copying (the last run's lead-lag pairs; {_counted(len(copying), 'leader')} tried: "
        f"each judged at {s.copy_alpha:g} / {len(copying)}; those passing trail "
        f"{passed} of its {copying[0].buys} taker buys together, COPIER needs "
        f"{s.copy_min_share:.0%})"
    ]
    for c in copying:
        tier = c.leader_tier or "unscored"
        flags = f" {','.join(c.leader_flags)}" if c.leader_flags else ""
        lines.append(
            f"  {c.leader} ({tier}{flags}): trails {c.trail}, leads {c.lead} buys in "
            f"{_counted(c.markets, 'token')}; {c.trail} of its {c.buys} taker buys; "
            f"P {c.p:.2g} {'<=' if c.passes else '>'} {c.level:.2g}: "
            + (
                "copies it"
                if c.copies
                else "not a copy (too few of its buys)"
                if c.passes
                else "not a copy"
            )
        )
    return lines


def copy_lines(copy: CopyRelation | None, s: ReputationSettings) -> list[str]:
    """``orderflow wallet``'s lines: whom the wallet copies and who copies it."""
    if copy is None:
        return ["copying: no lead-lag pairs kept for it yet (the incremental runs keep them)"]
    return _copy_lines(copy.leaders, s) + _copier_lines(copy.copied_by)
