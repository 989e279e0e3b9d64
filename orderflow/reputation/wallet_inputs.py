"""Per-wallet sums over resolved events, the score's inputs (:class:`WalletInputs`): one array
element per wallet, as the run's WALLETS statement (:mod:`orderflow.reputation.evidence_sql`), the
stored inputs (:mod:`orderflow.reputation.stored_inputs`) and one wallet's replay
(:mod:`orderflow.reputation.replay_inputs`) give them to :func:`orderflow.reputation.factors.score`.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
import numpy.typing as npt

Array = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class WalletInputs:
    """Per-wallet sums, one array element per wallet (float64), over resolved events with taker
    decisions unless said otherwise."""

    events: Array  # resolved events with a taker decision
    resolution_days: Array  # the UTC days those events resolved on (one unit per day)
    # over those days, the square of each day's sum of: the events' values (null_var clustered
    # by day), their excess over the closing line, their wins less the entry-implied wins
    day_var: Array
    resid_day_var: Array
    wins_day_var: Array
    value: Array  # fee-net USDC against the outcome
    stake: Array  # USDC at risk
    null_var: Array  # variance of value under no edge
    clv_value: Array  # fee-net USDC against the closing price
    clv_sq: Array  # sum over events of clv_value^2
    clv_stake: Array  # sum over events of clv_value x stake
    stake_sq: Array  # sum over events of stake^2
    clv_null_var: Array  # null_var of the decisions without a closing line (valued at outcome)
    # the decisions with a closing line: their closing-line values' variance under no edge,
    # sum x^2 (q (1 - q) - c (1 - c)) (an unbiased estimate, not clipped: 0 where it sums below)
    close_move_var: Array
    wins: Array  # events with value > 0
    expected_wins: Array  # sum of the entry-implied win probabilities
    wins_var: Array  # sum of q (1 - q)
    gross_profit: Array  # sum of positive event values
    gross_loss: Array  # sum of -negative event values
    null_loss: Array  # expected gross loss under no edge: sum x q (1 - q)
    value_early: Array  # value / null_var of the events in the first half of the wallet's span
    var_early: Array
    value_late: Array
    var_late: Array
    volume: Array  # USDC, every fill
    taker_volume: Array
    buy_volume: Array
    penny_volume: Array  # USDC of buys at prices above 0.9
    hedged_volume: Array  # USDC of buys in complete sets (orderflow.reputation.flags: HEDGED)
    wash_share: Array  # share of volume against the top-k counterparties (0: below the minimum)
    wash_counterparty_share: Array  # those partners' share of their volume against the group
    wash_deviation: Array  # mean |price - prevailing| of the wallet's fills (NaN: unknown)
    wash_fills: Array  # fills with the group
    wash_off_share: Array  # share of volume filled off-market
    wash_off_fills: Array  # off-market fills
    wash_host_share: Array  # share of the host's volume against this wallet (0: no host)
    wash_host_own_share: Array  # share of this wallet's volume against its host
    wash_host: Array  # the host's index in these arrays (NaN: none; see flags.HOST_KNOWN_WASH)
    # the share of its shares traded that it traded back: 1 - sum over its markets of |net
    # shares held, one outcome less the other| / its shares traded (orderflow.reputation.flags)
    wash_round_trip: Array

    @classmethod
    def columns(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls))
