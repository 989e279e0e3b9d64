"""Where the COPIER verdict matters: every wallet the prior is fitted on, not only the wallets
whose tier it decides (docs/benchmarks.md "The COPIER evidence at mainnet density").

The COPIER state kept between runs is large at mainnet density (≈ 33 cells and pairs a taker
buy), and one way out proposed there was to judge COPIER only for the wallets whose record would
otherwise be WHALE, SMART or DEGEN. The flag does more than bar a wallet from those tiers: every
flag takes the wallet out of the population the empirical-Bayes prior is fitted on
(:func:`orderflow.reputation.factors.score`), and the prior moves every other wallet's posterior.
A wallet that can be none of those tiers whatever its flags -- too few independent units of
evidence -- still changes other wallets' tiers by being COPIER or not. So judging COPIER only
for the tier candidates would change tiers: the verdict is needed for every unflagged wallet with
``flag_min_volume``. No database: the numpy score alone.
"""

from __future__ import annotations

from dataclasses import fields

import numpy as np

from orderflow.reputation.factors import score
from orderflow.reputation.settings import ReputationSettings
from orderflow.reputation.wallet_inputs import WalletInputs
from tests.reputation.test_factors import bettor, with_

S = ReputationSettings()


def _population() -> WalletInputs:
    """Thirteen even-money bettors of 40 events (18 to 32 won), and a last wallet of 100 events,
    every one lost, resolving on 5 days: 5 units of evidence, under ``min_events_smart`` and
    ``min_events_degen`` (10), so never WHALE, SMART or DEGEN."""
    wins = (18, 19, 20, 20, 21, 22, 22, 24, 25, 26, 28, 30, 32)
    ws = [bettor(40, 0.5, k) for k in wins] + [with_(bettor(100, 0.5, 0), resolution_days=5.0)]
    joined = {f.name: np.concatenate([getattr(w, f.name) for w in ws]) for f in fields(ws[0])}
    return with_(WalletInputs(**joined), volume=1000.0, taker_volume=1000.0, buy_volume=1000.0)


def test_a_copier_that_no_tier_depends_on_moves_the_others_tiers() -> None:
    """Control (right on main, and the reason the COPIER verdict is kept for every wallet): the
    last wallet is AVERAGE whether or not it is COPIER, yet flagging it takes it out of the
    prior's fit, and the two best bettors fall from WHALE and SMART to AVERAGE."""
    pop = _population()
    assert S.min_events_smart > 5 and S.min_events_degen > 5
    plain = score(pop, S)
    copying = np.zeros(len(pop.events), dtype=bool)
    copying[-1] = True
    flagged = score(pop, S, copying=copying)
    assert plain.tier_names()[-1] == flagged.tier_names()[-1] == "AVERAGE"
    assert flagged.flag_names()[-1] == ["COPIER"] and plain.flag_names()[-1] == []
    before, after = plain.tier_names()[:-1], flagged.tier_names()[:-1]
    assert before[-3:] == ["SMART", "WHALE", "WHALE"], before
    assert after[-3:] == ["AVERAGE", "AVERAGE", "WHALE"], after
    assert before[:-3] == after[:-3] == ["AVERAGE"] * 10
