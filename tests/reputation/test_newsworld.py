"""Issue 11's checks on a second independent world (:mod:`tests.reputation.newsworld`), imported
with the real CLI (``orderflow listen --from-file``) and scored with ``orderflow reputation run``.

"Active" is counted three ways: at least 1, 5 and 20 fills (taker or maker). Checks:

* nobody skilled: at most 2 % of active wallets WHALE and 5 % WHALE or SMART, at each threshold;
* skill present (skill rising with activity and stake): no maker, penny picker, lucky wallet or
  wash showcase in WHALE or SMART.

Issue 11's third check, Spearman(score, hidden skill) >= 0.5 over active wallets, is not met on
this world and is not asserted: over three seeds and three ways skill meets activity it is
0.11-0.28 over every wallet, -0.05-0.44 over wallets with 5 fills or more, -0.08-0.69 over those
with 20 or more (docs/reputation.md "A second independent population").

More seeds and parameter sets, printed:
``NEWSWORLD_SEEDS=4 pytest tests/reputation/test_newsworld.py -k figures -s``.
"""

from __future__ import annotations

import os
from pathlib import Path

import asyncpg
import pytest

from tests.reputation.newsworld import STYLES_NEVER_TOP, Params, World
from tests.reputation.world_runs import TOP, Figures, figures_of, import_and_score

WITH_SKILL = Params(act_corr=0.9, size_corr=1.0)
SKILL_AGAINST_ACTIVITY = Params(act_corr=-0.9, size_corr=-1.0)
NOBODY_SKILLED = Params(nobody_skilled=True)


async def measure(
    dsn: str, tmp: Path, seed: int, params: Params
) -> tuple[dict[int, Figures], list[str]]:
    world = World(seed, params)
    import_and_score(dsn, tmp, f"newsworld-{seed}", world.logs())
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch(
            "SELECT wallet_address, reputation_score, trader_tier FROM orderflow_wallet_stats"
        )
    finally:
        await conn.close()
    by = {r["wallet_address"]: r for r in rows}
    truth = world.truth
    figures = figures_of(truth, by)
    styled = [
        f"{v['style']} {by[a]['trader_tier']}"
        for a, v in truth.items()
        if v["style"] in STYLES_NEVER_TOP and by[a]["trader_tier"] in TOP
    ]
    return figures, styled


async def test_nobody_skilled_leaves_the_top_tiers_nearly_empty(dsn: str, tmp_path: Path) -> None:
    figures, styled = await measure(dsn, tmp_path, 1, NOBODY_SKILLED)
    for least, f in figures.items():
        assert f.whale <= 0.02 and f.top <= 0.05, (least, f)
    assert styled == []


async def test_with_skill_no_style_in_the_top_tiers(dsn: str, tmp_path: Path) -> None:
    figures, styled = await measure(dsn, tmp_path, 1, WITH_SKILL)
    assert styled == [], styled
    assert figures[1].active == 533 and figures[20].active >= 20


@pytest.mark.skipif(not os.environ.get("NEWSWORLD_SEEDS"), reason="NEWSWORLD_SEEDS unset")
async def test_figures_across_seeds(pg_server_dsn: str, pg_template: str, tmp_path: Path) -> None:
    from tests.conftest import scratch_database

    sets = {
        "skill with activity": WITH_SKILL,
        "skill against activity": SKILL_AGAINST_ACTIVITY,
        "skill apart from activity": Params(),
        "nobody skilled": NOBODY_SKILLED,
    }
    for seed in range(1, int(os.environ["NEWSWORLD_SEEDS"]) + 1):
        for name, params in sets.items():
            async with scratch_database(pg_server_dsn, template=pg_template) as url:
                figures, styled = await measure(url, tmp_path, seed, params)
            cells = " | ".join(
                f">={k}: n={f.active} whale={f.whale:.3f} top={f.top:.3f} "
                f"rho={'-' if f.rho is None else f'{f.rho:.2f}'}"
                for k, f in figures.items()
            )
            print(f"seed {seed} {name:26} {cells} styled in top: {styled}", flush=True)
