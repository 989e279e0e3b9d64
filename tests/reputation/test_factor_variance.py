"""Markets that resolve together on a common factor are one draw of it in the edge's standard
error, not one draw each.

The tiers' minimums count the UTC days a wallet's events resolved on
(tests/reputation/test_factor_units.py), but a partisan that also trades a dozen unrelated
markets on a dozen other days passes them, and its z counted the theme's markets as independent
bets: the winner of 20 theme markets resolving within a few hours of one moment, with no edge
elsewhere, was followed. The outcome's null variance is clustered by resolution day
(docs/reputation.md "The edge and its posterior"): ``max(null_var, day_var)``, ``day_var`` the sum
over days of the square of the day's summed fee-net decision values, so the theme counts as one
draw. A wallet with real skill spread over 30 days stays followed. The run, the per-wallet
replay and an incremental run agree on the new sums.
"""

from __future__ import annotations

import asyncpg

from orderflow.reputation import compute_scores, run_reputation
from orderflow.reputation.explain import render
from orderflow.reputation.per_wallet import wallet_report
from orderflow.reputation.settings import ReputationSettings
from tests.reputation.chainbook import T0
from tests.reputation.population import DAY, World, noise_taker, skilled_taker
from tests.reputation.test_cases import stats
from tests.reputation.test_void_decisions import _full_equals_incremental

THEME = 20  # theme markets the partisan wins, resolving within about three hours
THEME_USD = 100.0
OTHER = 12  # unrelated markets, each on a UTC day of its own, no edge
CONTROL = 30  # the skilled control's markets, each on a day of its own


def _world() -> tuple[World, str, str]:
    w = World(seed=62, markets=120, neg_risk_events=0)
    for _ in range(25):
        noise_taker(w, w.new_wallet(), 30)
    for _ in range(5):  # a few of the crowd with some skill
        skilled_taker(w, w.new_wallet(), 30, 0.5)
    binary = [s for s in w.specs if 0.3 < s.opening < 0.7]
    theme = binary[:THEME]
    for k, s in enumerate(theme):  # one factor, revealed at once: resolved within three hours,
        s.resolves = 45 * DAY + k * 540.0  # each at 0.50 until then (no closing line's news)
        s.offset, s.path = 0.0, [0.0] * (len(s.path) - 1) + [1.0 if k % 2 else -1.0]
    rest = binary[THEME : THEME + CONTROL]
    for k, s in enumerate(rest):  # one a day, days 14 to 43 (the theme's is day 45)
        s.resolves = (14 + k) * DAY + 7200.0
    assert len(rest) == CONTROL and len({int((T0 + s.resolves) // DAY) for s in rest}) == CONTROL
    partisan, control = w.new_wallet(), w.new_wallet()
    for s in theme:  # the factor went the partisan's way: its side won every theme market
        w.take(s, s.opens + DAY, partisan, s.winner, THEME_USD)
    for k, s in enumerate(rest[:OTHER]):  # no edge: half won, half lost, at the book's price
        w.take(s, s.opens + DAY, partisan, s.winner if k % 2 else 1 - s.winner, 100.0)
    for k, s in enumerate(rest[:CONTROL]):  # skill: three markets of four won
        w.take(s, s.opens + DAY, control, 1 - s.winner if k % 10 == 9 else s.winner, 100.0)
    return w, partisan, control


async def test_a_common_factor_is_one_draw_in_the_standard_error(pool: asyncpg.Pool) -> None:
    w, partisan, control = _world()
    await w.finish(pool)
    assert not (await run_reputation(pool)).incremental
    rows = {who: await stats(pool, who) for who in (partisan, control)}
    assert rows[partisan]["trader_tier"] not in ("WHALE", "SMART"), rows[partisan]["factors"]
    assert rows[control]["trader_tier"] in ("WHALE", "SMART"), rows[control]["factors"]
    inputs = {
        r["wallet_address"]: r
        for r in await pool.fetch(
            "SELECT wallet_address, resolution_days, null_var, day_var, value"
            " FROM orderflow_reputation_inputs WHERE wallet_address = ANY($1::text[])",
            [partisan, control],
        )
    }
    # the partisan passes the days' minimum (SMART's 10), and its theme is one draw: its day's
    # value squared outweighs the independent events' variance many times over
    assert inputs[partisan]["resolution_days"] == OTHER + 1, inputs[partisan]
    assert inputs[partisan]["day_var"] > 5 * inputs[partisan]["null_var"], inputs[partisan]

    # as independent events (main's figures) the partisan was followed
    apart = await compute_scores(pool, settings=ReputationSettings(variance_by_day=False))
    assert apart[partisan].tier in ("WHALE", "SMART"), apart[partisan].factors["posterior"]
    assert apart[control].tier in ("WHALE", "SMART"), apart[control].factors["posterior"]

    # the per-wallet replay computes the same sums and gives the same tier (the control: one of
    # the partisan's theme fills is off-market, which only the run takes out)
    for who in (control,):
        row = rows[who]
        async with pool.acquire() as conn:
            report = await wallet_report(conn, who, stats=row)
        assert report.inputs.events[0] == row["events_resolved"], who
        for k in ("day_var", "null_var", "value"):
            x, y = getattr(report.inputs, k)[0], inputs[who][k]
            assert abs(x - y) <= 1e-9 * abs(y), (who, k, x, y)
        assert report.scores.tier_names()[0] == row["trader_tier"], who

    # `orderflow wallet` says why the partisan's standard error is wide
    async with pool.acquire() as conn:
        report = await wallet_report(conn, partisan, stats=rows[partisan])
    assert "outcome se clustered by day" in render(rows[partisan], report, [])

    # an incremental run (new fills of the partisan, the control and a noise taker) equals a
    # full one: the days' sums to the bit
    noise_taker(w, w.new_wallet(), 10)
    for s in w.specs[-5:]:
        w.take(s, s.opens + 2 * DAY, control, s.winner, 50.0)
        w.take(s, s.opens + 2 * DAY, partisan, 1 - s.winner, 50.0)
    await w.chain.ingest(pool)
    assert (await run_reputation(pool)).incremental
    await _full_equals_incremental(pool)
