"""Markets that resolve together on a common factor are one unit of evidence for the tiers.

A partisan buys one side of a theme (a party's many races, a rally's "above X" markets) whatever
the price; when the factor goes its way it wins nearly every theme market at once, and its
record over 25 markets looks like skill, though the next draw of the factor owes it nothing
(docs/reputation.md "Partisans of a common factor"; the simulator's ``common_factor``
population). WHALE, SMART and DEGEN count their minimums in the UTC days the wallet's resolved
events resolved on (``resolution_days``), so such a record is one unit, not 25: here the
winner of 25 theme markets resolving within four hours is neither followed nor is its mirror
image faded, while the same record spread over 25 days is WHALE or SMART. The run, the
per-wallet replay and an incremental run agree on the figure.
"""

from __future__ import annotations

import asyncpg

from orderflow.reputation import compute_scores, run_reputation
from orderflow.reputation.explain import render
from orderflow.reputation.per_wallet import wallet_report
from orderflow.reputation.settings import ReputationSettings
from tests.reputation.chainbook import T0
from tests.reputation.population import DAY, World, noise_taker
from tests.reputation.test_cases import stats
from tests.reputation.test_void_decisions import _full_equals_incremental

THEME = 25


def _world() -> tuple[World, str, str, str]:
    w = World(seed=61, markets=90, neg_risk_events=0)
    for _ in range(20):
        noise_taker(w, w.new_wallet(), 30)
    binary = [s for s in w.specs if 0.2 < s.opening < 0.8]
    theme = binary[:THEME]
    for k, s in enumerate(theme):  # one factor, revealed at once: resolved within four hours
        s.resolves = 45 * DAY + k * 600.0
    days: dict[int, object] = {}
    for s in binary[THEME:]:  # one market per UTC day of resolution
        days.setdefault(int((T0 + s.resolves) // DAY), s)
    spread = [s for s in binary[THEME:] if s in days.values()][:THEME]
    assert len(spread) >= 22, len(spread)
    winner, loser, control = w.new_wallet(), w.new_wallet(), w.new_wallet()
    for s in theme:  # the factor went the winner's way: its side won every theme market
        t = s.opens + DAY
        w.take(s, t, winner, s.winner, 100.0)
        w.take(s, t, loser, 1 - s.winner, 100.0)
    for s in spread:  # the same record, one market a day
        w.take(s, s.opens + DAY, control, s.winner, 100.0)
    return w, winner, loser, control


async def test_a_common_factor_is_one_unit_of_evidence(pool: asyncpg.Pool) -> None:
    w, winner, loser, control = _world()
    await w.finish(pool)
    assert not (await run_reputation(pool)).incremental
    rows = {who: await stats(pool, who) for who in (winner, loser, control)}
    assert rows[winner]["events_resolved"] == rows[loser]["events_resolved"] == THEME
    assert rows[winner]["trader_tier"] not in ("WHALE", "SMART"), rows[winner]["factors"]
    assert rows[loser]["trader_tier"] != "DEGEN", rows[loser]["factors"]
    assert rows[control]["trader_tier"] in ("WHALE", "SMART"), rows[control]["factors"]
    days = {
        r["wallet_address"]: r["resolution_days"]
        for r in await pool.fetch(
            "SELECT wallet_address, resolution_days FROM orderflow_reputation_inputs"
            " WHERE wallet_address = ANY($1::text[])",
            [winner, loser, control],
        )
    }
    assert days[winner] == days[loser] == 1 and days[control] >= 22, days

    # counted in events, with the variance of independent events, as before, the theme's winner
    # is followed and its loser faded
    before = ReputationSettings(min_events_by_day=False, variance_by_day=False)
    by_event = await compute_scores(pool, settings=before)
    assert by_event[winner].tier in ("WHALE", "SMART"), by_event[winner].factors["posterior"]
    assert by_event[loser].tier == "DEGEN", by_event[loser].factors["posterior"]
    # counted in events, the variance clustered by day alone holds both out (the theme is one
    # draw of its factor: tests/reputation/test_factor_variance.py)
    by_variance = await compute_scores(pool, settings=ReputationSettings(min_events_by_day=False))
    assert by_variance[winner].tier not in ("WHALE", "SMART"), by_variance[winner].factors
    assert by_variance[loser].tier != "DEGEN", by_variance[loser].factors

    # the per-wallet replay counts the same days and gives the same tiers
    for who, row in rows.items():
        async with pool.acquire() as conn:
            report = await wallet_report(conn, who, stats=row)
        assert report.inputs.resolution_days[0] == days[who], who
        assert report.scores.tier_names()[0] == row["trader_tier"], who
        # `orderflow wallet` says what the minimums counted (else the winner shows no reason)
        text = render(row, report, [])
        line = next(x for x in text.splitlines() if " of resolution:" in x)
        events, *_, on_days = line.split()[:5]
        assert (float(events), float(on_days)) == (row["events_resolved"], days[who]), line
        assert (" 1 UTC day of " in line) == (days[who] == 1), line  # not "1 UTC days"

    # an incremental run (new fills of the control and of a noise taker) equals a full one
    noise_taker(w, w.new_wallet(), 10)
    for s in w.specs[-5:]:
        w.take(s, s.opens + 2 * DAY, control, s.winner, 50.0)
    await w.chain.ingest(pool)
    assert (await run_reputation(pool)).incremental
    await _full_equals_incremental(pool)
