"""The score's calibration checks on a third independent world (:mod:`tests.reputation.thirdworld`:
market makers, resolution snipers, copy-bots, sybil clusters, insiders, stale-quote pickers,
wash rings and pairs at the market's price, skill that fades), imported with the real CLI
(``orderflow listen --from-file``) and scored with ``orderflow reputation run``.

"Active" is counted three ways: at least 1, 5 and 20 fills (taker or maker). Checks that hold:

* nobody skilled (seed 1): at most 2 % of active wallets WHALE and 5 % WHALE or SMART, at each
  threshold, and no maker, sniper, copy-bot, stale-quote picker or wash wallet in WHALE or SMART;
* skill present (seed 1): no maker, sniper, fast copy-bot, wash wallet or insider in WHALE or
  SMART, nor a slow copy-bot (3-20 minutes behind its leader).

Holes found are ``xfail(strict=True)`` tests naming the measured figure (docs/reputation.md
"A third independent population"). Figures over more seeds, printed:
``THIRDWORLD_SEEDS=3 pytest tests/reputation/test_thirdworld.py -k figures -s``.
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from tests.reputation.thirdworld import STYLES_NEVER_TOP, Params, World
from tests.reputation.world_runs import TOP, Figures, figures_of, import_and_score

WITH_SKILL = Params(act_corr=0.9)
NOBODY_SKILLED = Params(nobody_skilled=True)
# one process runs them all (make test: pytest-xdist --dist loadgroup): each world is scored once
pytestmark = pytest.mark.xdist_group("thirdworld")


@dataclass
class Measured:
    figures: dict[int, Figures]
    top: list[dict[str, Any]]  # each top-tier wallet: hidden truth and what the score read
    degen: list[dict[str, Any]]  # the same for each DEGEN wallet
    styles: dict[str, Counter[str]]  # per style: how many wallets in each tier and flag

    def styles_in_top(self, styles: tuple[str, ...]) -> list[str]:
        return [f"{w['style']} {w['tier']}" for w in self.top if w["style"] in styles]


async def measure(dsn: str, tmp: Path, seed: int, params: Params) -> Measured:
    world = World(seed, params)
    import_and_score(dsn, tmp, f"thirdworld-{seed}", world.logs())
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch(
            "SELECT wallet_address, reputation_score, trader_tier, edge, edge_se, clv_edge, clv_se,"
            " p_edge_above_cost, events_resolved, flags, maker_volume_share"
            " FROM orderflow_wallet_scores"
        )
    finally:
        await conn.close()
    by = {r["wallet_address"]: r for r in rows}
    truth = world.truth
    figures = figures_of(truth, by)
    read = [
        {
            **truth[a],
            "wallet": a,
            "tier": r["trader_tier"],
            "score": float(r["reputation_score"]),
            "edge": float(r["edge"]),
            "clv": None if r["clv_edge"] is None else round(float(r["clv_edge"]), 3),
            "clv_se": None if r["clv_se"] is None else round(float(r["clv_se"]), 3),
            "p": round(float(r["p_edge_above_cost"]), 3),
            "events": r["events_resolved"],
            "flags": r["flags"],
        }
        for a, r in by.items()
        if r["trader_tier"] in (*TOP, "DEGEN")
    ]
    top = [w for w in read if w["tier"] in TOP]
    degen = [w for w in read if w["tier"] == "DEGEN"]
    styles: dict[str, Counter[str]] = {}
    for a, v in truth.items():
        seen = styles.setdefault(v["style"], Counter())
        seen.update([by[a]["trader_tier"], *by[a]["flags"]])
    return Measured(figures, sorted(top, key=lambda w: -w["score"]), degen, styles)


_scored: dict[tuple[int, Params], Measured] = {}


async def scored(server: str, template: str, tmp: Path, seed: int, params: Params) -> Measured:
    """A world's measure, each (seed, params) imported and scored once per session."""
    from tests.conftest import scratch_database

    if (seed, params) not in _scored:
        async with scratch_database(server, template=template) as url:
            _scored[(seed, params)] = await measure(url, tmp, seed, params)
    return _scored[(seed, params)]


# Styles the score keeps out of WHALE and SMART on every world measured (the fast copy-bots by
# COPIER, makers by MARKET_MAKER, snipers by PENNY_PICKER, wash wallets have no edge); the slow
# copy-bots by COPIER with its 30-minute window (their own test below); the stale-quote pickers
# reach them (an xfail test below).
KEPT_OUT = ("maker", "sniper", "copybot fast", "wash ring", "wash pair")


async def test_nobody_skilled_leaves_the_top_tiers_nearly_empty(
    pg_server_dsn: str, pg_template: str, tmp_path: Path
) -> None:
    got = await scored(pg_server_dsn, pg_template, tmp_path, 1, NOBODY_SKILLED)
    for least, f in got.figures.items():
        assert f.whale <= 0.02 and f.top <= 0.05, (least, f)
    assert got.styles_in_top(STYLES_NEVER_TOP) == [], got.top


async def test_with_skill_no_maker_sniper_fast_copier_wash_or_insider_on_top(
    pg_server_dsn: str, pg_template: str, tmp_path: Path
) -> None:
    got = await scored(pg_server_dsn, pg_template, tmp_path, 1, WITH_SKILL)
    assert got.styles_in_top((*KEPT_OUT, "insider")) == [], got.top
    assert got.figures[20].active >= 60 and got.figures[1].active >= 400


async def test_slow_copy_bots_stay_out_of_the_top_tiers(
    pg_server_dsn: str, pg_template: str, tmp_path: Path
) -> None:
    """A bot copying a skilled wallet 3-20 minutes later at 0.5-2 cents more carries the
    leader's edge: with COPIER looking 120 s back, seed 1 had one WHALE (P(edge > cost) 0.966,
    665 fills) and one SMART (seeds 1-5: 15 in 6 of 10 worlds with skill). COPIER now looks 30
    minutes back (copy_window_secs)."""
    got = await scored(pg_server_dsn, pg_template, tmp_path, 1, WITH_SKILL)
    assert got.styles_in_top(("copybot slow",)) == []


@pytest.mark.xfail(
    strict=True,
    reason="the record is read whole: wallets skilled before the horizon's middle and random "
    "after it (hidden skill now 0) are SMART (seed 2 with activity: one, 29 fills, P 0.926; "
    "seeds 2 and 4 apart from activity lost theirs through the prior's tail, not their record; "
    "rules on the recent record measured and not adopted: its late half reads +0.16 +- 0.26 "
    "against +0.62 +- 0.34 before, z 1.09; evidence that decays, measured and not adopted: "
    "its P falls to 0.924 / 0.911 / 0.887 at half-lives of 480 / 240 / 120 days, leaving "
    "only at 120, where the positive control keeps 3 of its 13 top-tier wallets (seeds 1, 4, "
    "5; 9 at 480 days); a change point, measured and not adopted: its best split (8 / 5 "
    "events) reads z +1.26, permutation p 0.37, and it leaves only at alpha 0.40, where the "
    "control keeps 2 of its 12 top-tier wallets; at 0.05 steady skilled wallets' false alarms "
    "are 3.9-9.4 % and the control loses 2 (benchmarks/change_point.py; docs/reputation.md)",
)
async def test_faded_skill_stays_out_of_the_top_tiers(
    pg_server_dsn: str, pg_template: str, tmp_path: Path
) -> None:
    got = await scored(pg_server_dsn, pg_template, tmp_path, 2, WITH_SKILL)
    assert got.styles_in_top(("faded",)) == []


async def test_stale_quote_pickers_stay_out_of_the_top_tiers(
    pg_server_dsn: str, pg_template: str, tmp_path: Path
) -> None:
    """A stale-quote picker's edge is in its fill price, gone a second later (seed 2 was WHALE:
    213 fills, closing-line edge +0.25 +- 0.10 a dollar, P 0.99; a strict xfail until session
    40). It passes since the skill tail is weighed by its gain (that world's gain 4.56: no tail
    before, a weight of 0.39 now), not because the fill price is judged: the hole stays open
    where the prior does not move it (docs/reputation.md, the larger third world's pickers)."""
    got = await scored(pg_server_dsn, pg_template, tmp_path, 2, Params())
    assert got.styles_in_top(("picker",)) == []


async def test_nobody_skilled_no_degen(
    pg_server_dsn: str, pg_template: str, tmp_path: Path
) -> None:
    got = await scored(pg_server_dsn, pg_template, tmp_path, 1, NOBODY_SKILLED)
    assert got.degen == []


async def test_wash_ring_members_are_wash(
    pg_server_dsn: str, pg_template: str, tmp_path: Path
) -> None:
    got = await scored(pg_server_dsn, pg_template, tmp_path, 1, WITH_SKILL)
    assert got.styles["wash ring"]["WASH"] >= 9, got.styles["wash ring"]


@pytest.mark.skipif(not os.environ.get("THIRDWORLD_SEEDS"), reason="THIRDWORLD_SEEDS unset")
async def test_figures_across_seeds(pg_server_dsn: str, pg_template: str, tmp_path: Path) -> None:
    from tests.conftest import scratch_database

    sets = {
        "skill with activity": WITH_SKILL,
        "skill apart from activity": Params(),
        "nobody skilled": NOBODY_SKILLED,
    }
    for seed in range(1, int(os.environ["THIRDWORLD_SEEDS"]) + 1):
        for name, params in sets.items():
            async with scratch_database(pg_server_dsn, template=pg_template) as url:
                got = await measure(url, tmp_path, seed, params)
            cells = " | ".join(
                f">={k}: n={f.active} whale={f.whale:.3f} top={f.top:.3f} "
                f"rho={'-' if f.rho is None else f'{f.rho:.2f}'}"
                for k, f in got.figures.items()
            )
            print(f"seed {seed} {name:26} {cells}", flush=True)
            for style, seen in sorted(got.styles.items()):
                print(f"    {style:13} {dict(seen)}", flush=True)
            for w in got.top + got.degen:
                print("    ", w, flush=True)
