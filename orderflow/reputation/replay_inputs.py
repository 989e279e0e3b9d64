"""A wallet's evidence from its replayed positions: the same inputs as the set-based run's
wallets statement (:mod:`orderflow.reputation.evidence_sql`), one wallet at a time.

:class:`TokenPosition` (:mod:`orderflow.reputation.token_position`) is one position as
:mod:`orderflow.reputation.per_wallet` replays it fill by fill; :func:`wallet_inputs` adds a
wallet's positions up into the :class:`WalletInputs` the score reads (its resolved events, their
resolution days, the closing line's sums, complete sets, the last full run's counterparty
figures).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import numpy as np

from orderflow.accounting import decision_value, exited_share, held_line
from orderflow.reputation.flags import HOST_KNOWN_WASH
from orderflow.reputation.token_position import ZERO, TokenPosition, clip
from orderflow.reputation.wallet_inputs import WalletInputs

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_DAY = timedelta(days=1)


@dataclass
class _Event:
    event_id: str | None = None
    value: float = 0.0
    clv: float = 0.0
    stake: float = 0.0
    shares: float = 0.0
    null_var: float = 0.0
    unclosed_var: float = 0.0
    close_var: float = 0.0  # the closed decisions' closing-line null variance
    legs: list[float] = field(default_factory=list)  # neg-risk positions' parts in YES terms
    decided_at: datetime | None = None
    resolved_at: datetime | None = None  # when its last judged leg resolved


def resolution_days(events: Sequence[datetime | None]) -> int:
    """The UTC days these resolution times fall on (evidence_sql.WALLETS' resolution_days:
    whole days since the epoch, exact)."""
    return len({(t - _EPOCH) // _DAY for t in events if t is not None})


def day_variances(
    events: Sequence[tuple[str | None, datetime | None, tuple[float, ...]]], figures: int
) -> list[float]:
    """Over the UTC days the events resolved on, the sum of the squares of each day's sum of each
    of the events' ``figures`` figures (evidence_sql.WALLETS' day_var, resid_day_var,
    wins_day_var), in that statement's order: a day's events added in event
    order, the days in the order of their first event. ``events``: (event id, resolution time,
    figures)."""
    days: dict[int, list[float]] = {}
    for _, at, values in sorted(events, key=lambda e: (e[0] is None, e[0] or "")):
        if at is not None:
            sums = days.setdefault((at - _EPOCH) // _DAY, [0.0] * figures)
            for k, x in enumerate(values):
                sums[k] += x
    return [float(sum((d[k] * d[k] for d in days.values()), 0.0)) for k in range(figures)]


def _events(positions: list[TokenPosition]) -> list[_Event]:
    events: dict[str | None, _Event] = {}
    for tp in positions:
        if not tp.judged or tp.payout is None:
            continue
        t = tp.totals()
        payout = float(tp.payout)
        value, stake = decision_value(t, payout)
        clv, _ = decision_value(t, tp.close if tp.close is not None else payout)
        lb, ls = tp.after_close(t)
        qbar, lq, pq = tp.entry_prices(t)
        if tp.close is not None and (lb > 0 or ls > 0):  # those after it: at their own price
            clv += (lq - tp.close) * (lb * (1.0 - exited_share(t)) - ls)
        shares = t.taker_bought + tp.short
        e = events.setdefault(tp.event_id, _Event(tp.event_id))
        e.value += value
        e.clv += clv
        e.stake += stake
        e.shares += shares
        var = (t.taker_bought**2 + tp.short**2) * qbar * (1 - qbar)
        e.null_var += var
        neg_risk = tp.event_id is not None and tp.event_id != tp.market_id
        if neg_risk and tp.market_id is not None and tp.kept > 0:
            e.legs.append(float(tp.kept) * (qbar if tp.outcome_index == 0 else qbar - 1))
        if tp.close is None:
            e.unclosed_var += var
        else:  # evidence_sql.WALLETS' nvar_close, of the decisions before the close
            line, c = held_line(t, float(tp.close)), float(tp.close)
            e.close_var += (t.taker_bought - lb) * (t.taker_bought - lb) * (
                pq * (1 - pq) - line * (1 - line)
            ) + (tp.short - ls) * (tp.short - ls) * (pq * (1 - pq) - c * (1 - c))
        if tp.taker_first_at is not None and (
            e.decided_at is None or tp.taker_first_at < e.decided_at
        ):
            e.decided_at = tp.taker_first_at
        if tp.resolved_at is not None and (e.resolved_at is None or tp.resolved_at > e.resolved_at):
            e.resolved_at = tp.resolved_at
    for e in events.values():
        e.null_var += legs_covariance(e.legs)
    return [e for e in events.values() if e.stake > 0]


def legs_covariance(parts: Sequence[float]) -> float:
    """What the independent positions' null variance misses on one neg-risk event, where that
    widens it (evidence_sql.WALLETS' nvar): exactly one leg wins, so two legs' payouts covary by
    -a_i a_j (a: a position's shares, signed by side, times its leg's implied P(YES)); the sum
    over i != j is sum a^2 - (sum a)^2, each position a leg of its own; a: the shares its taker
    fills kept to the resolution)."""
    total = sum(parts, 0.0)
    return max(0.0, sum((a * a for a in parts), 0.0) - total * total)


def hedged_volume(
    positions: list[TokenPosition], legs: Mapping[str, int], window: timedelta
) -> Decimal:
    """USDC of buys in complete sets, as hedged_sql.HEDGED_CTES: the tokens kept in an event,
    ordered by their first taker fill, part where one's comes more than ``window`` after the
    previous one's (legs bought together: hedged_leg_window_secs); per part, the payout what its
    taker fills bought and kept receives whatever the outcome, at most what they cost. ``legs``:
    a neg-risk event's legs (a leg with no token in the part holds nothing)."""
    by_event: dict[str, list[TokenPosition]] = {}
    for tp in positions:
        if tp.event_id is None or tp.market_id is None or tp.kept <= 0:
            continue
        assert tp.taker_first_at is not None  # kept shares were bought by taker fills
        by_event.setdefault(tp.event_id, []).append(tp)
    total = ZERO
    for event, kept in by_event.items():
        kept.sort(key=lambda tp: tp.taker_first_at or _EPOCH)
        parts: list[list[TokenPosition]] = []
        for tp in kept:
            prev = parts[-1][-1].taker_first_at if parts else None
            if prev is None or tp.taker_first_at is None or tp.taker_first_at - prev > window:
                parts.append([tp])
            else:
                parts[-1].append(tp)
        for part in parts:
            total += _part_sets(event, part, legs)
    return total


def _part_sets(event: str, part: list[TokenPosition], legs: Mapping[str, int]) -> Decimal:
    """What one part of an event's kept tokens receives whatever the outcome, at most its cost."""
    markets: dict[str, list[Decimal]] = {}  # market -> [yes, no]
    for tp in part:
        assert tp.market_id is not None
        leg = markets.setdefault(tp.market_id, [ZERO, ZERO])
        if tp.outcome_index in (0, 1):
            leg[tp.outcome_index] += tp.kept
    paid = sum((tp.taker_paid_all for tp in part), ZERO)
    if event in markets:  # a standard market: its own event
        return min(paid, markets[event][0], markets[event][1])
    nos = sum((m[1] for m in markets.values()), ZERO)
    worst = min(m[0] - m[1] for m in markets.values())
    if len(markets) < legs.get(event, 0):
        worst = min(worst, ZERO)
    return min(paid, nos + worst)


def wallet_inputs(
    positions: list[TokenPosition],
    wash: Mapping[str, Any],
    host_wash: bool = False,
    legs: Mapping[str, int] | None = None,
    *,
    leg_window: timedelta,
) -> WalletInputs:
    """``wash``: the counterparty figures of the last full run (its ``behaviour``);
    ``host_wash``: that run found the wallet's host WASH; ``legs``: the neg-risk events' legs;
    ``leg_window``: how close in time a complete set's legs were first bought
    (hedged_leg_window_secs)."""
    events = _events(positions)
    times = [tp.taker_first_at for tp in positions if tp.judged and tp.taker_first_at is not None]
    mid = min(times) + (max(times) - min(times)) / 2 if times else None
    qs = [clip(e.stake / e.shares) for e in events]
    early = [mid is not None and e.decided_at is not None and e.decided_at <= mid for e in events]

    by_day = day_variances(
        [
            (e.event_id, e.resolved_at, (e.value, e.value - e.clv, float(e.value > 0) - q))
            for e, q in zip(events, qs, strict=True)
        ],
        3,
    )

    def one(x: float) -> np.ndarray[Any, np.dtype[np.float64]]:
        return np.array([x], dtype=np.float64)

    def total(values: Any) -> float:
        return float(sum(values, 0.0))

    volume = float(sum((tp.volume for tp in positions), ZERO))
    deviation = wash.get("price_deviation")
    return WalletInputs(
        events=one(len(events)),
        resolution_days=one(resolution_days([e.resolved_at for e in events])),
        day_var=one(by_day[0]),
        resid_day_var=one(by_day[1]),
        wins_day_var=one(by_day[2]),
        value=one(total(e.value for e in events)),
        stake=one(total(e.stake for e in events)),
        null_var=one(total(e.null_var for e in events)),
        clv_value=one(total(e.clv for e in events)),
        clv_sq=one(total(e.clv * e.clv for e in events)),
        clv_stake=one(total(e.clv * e.stake for e in events)),
        stake_sq=one(total(e.stake * e.stake for e in events)),
        clv_null_var=one(total(e.unclosed_var for e in events)),
        close_move_var=one(total(e.close_var for e in events)),
        wins=one(sum(1 for e in events if e.value > 0)),
        expected_wins=one(total(qs)),
        wins_var=one(total(x * (1 - x) for x in qs)),
        gross_profit=one(total(e.value for e in events if e.value > 0)),
        gross_loss=one(-total(e.value for e in events if e.value < 0)),
        null_loss=one(total(e.shares * x * (1 - x) for e, x in zip(events, qs, strict=True))),
        value_early=one(total(e.value for e, k in zip(events, early, strict=True) if k)),
        var_early=one(total(e.null_var for e, k in zip(events, early, strict=True) if k)),
        value_late=one(total(e.value for e, k in zip(events, early, strict=True) if not k)),
        var_late=one(total(e.null_var for e, k in zip(events, early, strict=True) if not k)),
        volume=one(volume),
        taker_volume=one(float(sum((tp.taker_volume for tp in positions), ZERO))),
        buy_volume=one(float(sum((tp.paid_gross for tp in positions), ZERO))),
        penny_volume=one(float(sum((tp.penny for tp in positions), ZERO))),
        hedged_volume=one(float(hedged_volume(positions, legs or {}, leg_window))),
        wash_share=one(float(wash.get("group_share") or 0.0)),
        wash_counterparty_share=one(float(wash.get("group_closed_share") or 0.0)),
        wash_deviation=one(float("nan") if deviation is None else float(deviation)),
        wash_fills=one(float(wash.get("group_fills") or 0.0)),
        wash_off_share=one(float(wash.get("off_market_share") or 0.0)),
        wash_off_fills=one(float(wash.get("off_market_fills") or 0.0)),
        wash_host_share=one(float(wash.get("wash_host_share") or 0.0)),
        wash_host_own_share=one(float(wash.get("wash_host_own_share") or 0.0)),
        wash_host=one(HOST_KNOWN_WASH if host_wash else float("nan")),
        wash_round_trip=one(round_trip(positions)),
    )


def round_trip(positions: Sequence[TokenPosition]) -> float:
    """The share of its shares traded that the wallet traded back (evidence_sql's ``rt``): per
    market (its token when the market is unknown), the shares bought less those sold, the first
    outcome's less the second's, in absolute value, against the shares traded; in micro-units,
    as the run sums them."""
    gross: dict[str, int] = {}
    net: dict[str, int] = {}
    for tp in positions:
        key = tp.market_id if tp.market_id is not None else str(tp.token_id)
        bought, sold = int(tp.bought_gross * 1_000_000), int(tp.sold_gross * 1_000_000)
        gross[key] = gross.get(key, 0) + bought + sold
        net[key] = net.get(key, 0) + (sold - bought if tp.outcome_index == 1 else bought - sold)
    total = sum(gross.values())
    return float(total - sum(abs(x) for x in net.values())) / float(total) if total else 0.0
