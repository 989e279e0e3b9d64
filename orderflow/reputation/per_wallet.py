"""One wallet at a time: its positions replayed fill by fill through :mod:`orderflow.accounting`.

Two uses:

* ``orderflow wallet ADDRESS`` shows a wallet's positions (exact sequential average cost while a
  market is open, the order-independent totals once it resolved) and its evidence next to its
  stored score;
* it is the per-wallet reference the set-based recompute is checked against in tests and timed
  against in ``benchmarks/reputation.py``.

Evidence follows the same definitions as :mod:`orderflow.reputation.positions_sql` (the decision
valuation is :func:`orderflow.accounting.decision_value` in both). A wallet replayed alone is
scored with the population prior of the last full run (or a neutral one); its counterparty
figures (wash trading) come from that run too: they need every other wallet's fills (and so
does whether its host, for WASH_COUNTERPARTY, is WASH).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import asyncpg
import numpy as np

from orderflow.accounting import Position, TakerTotals, decision_value, fill_from_trade
from orderflow.reputation import wallet_sql
from orderflow.reputation.factors import Scores, WalletInputs, score
from orderflow.reputation.flags import HOST_KNOWN_WASH, PENNY_PRICE
from orderflow.reputation.prior import Prior
from orderflow.reputation.settings import ReputationSettings

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_DAY = timedelta(days=1)

ZERO = Decimal(0)


@dataclass
class TokenPosition:
    """A wallet's position in one token with what the market did."""

    token_id: int
    market_id: str | None
    outcome_index: int | None
    event_id: str | None = None
    position: Position = field(default_factory=Position)
    bought_gross: Decimal = ZERO
    paid_gross: Decimal = ZERO
    sold_gross: Decimal = ZERO
    received_gross: Decimal = ZERO
    taker_bought: Decimal = ZERO
    taker_paid: Decimal = ZERO
    taker_sold: Decimal = ZERO
    taker_received: Decimal = ZERO
    taker_fee: Decimal = ZERO
    taker_first_at: datetime | None = None
    # every taker fill, decision or not (what complete sets read: hedged_volume)
    taker_bought_all: Decimal = ZERO
    taker_paid_all: Decimal = ZERO
    taker_sold_all: Decimal = ZERO
    # taker fills at or after the market's resolution: volume, no decision (the taker_* amounts
    # leave them out, as the run's rep_void does)
    void_volume: Decimal = ZERO
    penny: Decimal = ZERO
    volume: Decimal = ZERO
    payouts: list[Decimal] | None = None
    resolved_at: datetime | None = None
    problem: str | None = None
    payout: Decimal | None = None
    last_price: Decimal | None = None
    close: float | None = None  # closing line (not the wallet's own last trade)

    @property
    def entry_price(self) -> Decimal | None:
        return self.paid_gross / self.bought_gross if self.bought_gross else None

    @property
    def unrealized(self) -> Decimal:
        if self.payout is not None or not self.position.is_open or self.last_price is None:
            return ZERO
        return self.position.mark(self.last_price)

    @property
    def taker_volume(self) -> Decimal:
        return self.taker_paid + self.taker_received + self.void_volume

    def totals(self) -> TakerTotals:
        return TakerTotals(
            bought=float(self.bought_gross),
            sold=float(self.sold_gross),
            received=float(self.received_gross),
            taker_bought=float(self.taker_bought),
            taker_paid=float(self.taker_paid),
            taker_sold=float(self.taker_sold),
            taker_received=float(self.taker_received),
            taker_fee=float(self.taker_fee),
        )

    @property
    def short(self) -> float:
        t = self.totals()
        if t.sold > t.bought and t.taker_sold > 0:
            return (t.sold - t.bought) * t.taker_sold / t.sold
        return 0.0

    @property
    def kept(self) -> Decimal:
        """Shares its taker fills bought and did not sell."""
        return max(self.taker_bought_all - self.taker_sold_all, ZERO)

    @property
    def judged(self) -> bool:
        return self.payout is not None and (self.taker_bought > 0 or self.short > 0)


@dataclass
class WalletReport:
    wallet_address: str
    as_of: datetime
    positions: list[TokenPosition]
    inputs: WalletInputs
    scores: Scores
    trades: int
    realized_pnl: Decimal
    unrealized_pnl: Decimal


def _judge(tp: TokenPosition) -> None:
    if tp.market_id is None or tp.outcome_index is None:
        tp.problem = "UNKNOWN_TOKEN"
        return
    if tp.payouts is None:
        return
    if any(p is None for p in tp.payouts):
        tp.problem = "BAD_PAYOUT"
        return
    total = sum(tp.payouts, ZERO)
    if total == 0:
        tp.problem = "ZERO_PAYOUT"
    elif (
        any(p < 0 or p > 1 for p in tp.payouts)
        or abs(total - 1) > Decimal("0.000001")
        or tp.outcome_index >= len(tp.payouts)
    ):
        tp.problem = "BAD_PAYOUT"
    else:
        tp.payout = tp.payouts[tp.outcome_index]


@dataclass
class _Event:
    value: float = 0.0
    clv: float = 0.0
    stake: float = 0.0
    shares: float = 0.0
    null_var: float = 0.0
    unclosed_var: float = 0.0
    decided_at: datetime | None = None
    resolved_at: datetime | None = None  # when its last judged leg resolved


def resolution_days(events: Sequence[datetime | None]) -> int:
    """The UTC days these resolution times fall on (evidence_sql.WALLETS' resolution_days:
    whole days since the epoch, exact)."""
    return len({(t - _EPOCH) // _DAY for t in events if t is not None})


def _clip(x: float) -> float:
    return min(0.99, max(0.01, x))


def _events(positions: list[TokenPosition]) -> list[_Event]:
    events: dict[str | None, _Event] = {}
    for tp in positions:
        if not tp.judged or tp.payout is None:
            continue
        t = tp.totals()
        payout = float(tp.payout)
        value, stake = decision_value(t, payout)
        clv, _ = decision_value(t, tp.close if tp.close is not None else payout)
        shares = t.taker_bought + tp.short
        qbar = _clip((t.taker_paid + t.taker_received) / (t.taker_bought + t.taker_sold))
        e = events.setdefault(tp.event_id, _Event())
        e.value += value
        e.clv += clv
        e.stake += stake
        e.shares += shares
        var = (t.taker_bought**2 + tp.short**2) * qbar * (1 - qbar)
        e.null_var += var
        if tp.close is None:
            e.unclosed_var += var
        if tp.taker_first_at is not None and (
            e.decided_at is None or tp.taker_first_at < e.decided_at
        ):
            e.decided_at = tp.taker_first_at
        if tp.resolved_at is not None and (e.resolved_at is None or tp.resolved_at > e.resolved_at):
            e.resolved_at = tp.resolved_at
    return [e for e in events.values() if e.stake > 0]


def hedged_volume(positions: list[TokenPosition], legs: Mapping[str, int]) -> Decimal:
    """USDC of buys in complete sets, as evidence_sql.HEDGED_CTES: per event, the payout what its
    taker fills bought and kept receives whatever the outcome, at most what they cost. ``legs``: a
    neg-risk event's legs (a leg not traded holds nothing)."""
    events: dict[str, dict[str, list[Decimal]]] = {}  # event -> market -> [yes, no, paid]
    for tp in positions:
        if tp.event_id is None or tp.market_id is None:
            continue
        leg = events.setdefault(tp.event_id, {}).setdefault(tp.market_id, [ZERO, ZERO, ZERO])
        if tp.outcome_index in (0, 1):
            leg[tp.outcome_index] += tp.kept
        leg[2] += tp.taker_paid_all
    total = ZERO
    for event, markets in events.items():
        paid = sum((m[2] for m in markets.values()), ZERO)
        if event in markets:  # a standard market: its own event
            yes, no = markets[event][0], markets[event][1]
            total += min(paid, yes, no)
            continue
        nos = sum((m[1] for m in markets.values()), ZERO)
        worst = min(m[0] - m[1] for m in markets.values())
        if len(markets) < legs.get(event, 0):
            worst = min(worst, ZERO)
        total += min(paid, nos + worst)
    return total


def _inputs(
    positions: list[TokenPosition],
    wash: Mapping[str, Any],
    host_wash: bool = False,
    legs: Mapping[str, int] | None = None,
) -> WalletInputs:
    """``wash``: the counterparty figures of the last full run (its ``behaviour``);
    ``host_wash``: that run found the wallet's host WASH; ``legs``: the neg-risk events' legs."""
    events = _events(positions)
    times = [tp.taker_first_at for tp in positions if tp.judged and tp.taker_first_at is not None]
    mid = min(times) + (max(times) - min(times)) / 2 if times else None
    qs = [_clip(e.stake / e.shares) for e in events]
    early = [mid is not None and e.decided_at is not None and e.decided_at <= mid for e in events]

    def one(x: float) -> np.ndarray[Any, np.dtype[np.float64]]:
        return np.array([x], dtype=np.float64)

    def total(values: Any) -> float:
        return float(sum(values, 0.0))

    volume = float(sum((tp.volume for tp in positions), ZERO))
    deviation = wash.get("price_deviation")
    return WalletInputs(
        events=one(len(events)),
        resolution_days=one(resolution_days([e.resolved_at for e in events])),
        value=one(total(e.value for e in events)),
        stake=one(total(e.stake for e in events)),
        null_var=one(total(e.null_var for e in events)),
        clv_value=one(total(e.clv for e in events)),
        clv_sq=one(total(e.clv * e.clv for e in events)),
        clv_stake=one(total(e.clv * e.stake for e in events)),
        stake_sq=one(total(e.stake * e.stake for e in events)),
        clv_null_var=one(total(e.unclosed_var for e in events)),
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
        hedged_volume=one(float(hedged_volume(positions, legs or {}))),
        wash_share=one(float(wash.get("group_share") or 0.0)),
        wash_counterparty_share=one(float(wash.get("group_closed_share") or 0.0)),
        wash_deviation=one(float("nan") if deviation is None else float(deviation)),
        wash_fills=one(float(wash.get("group_fills") or 0.0)),
        wash_off_share=one(float(wash.get("off_market_share") or 0.0)),
        wash_off_fills=one(float(wash.get("off_market_fills") or 0.0)),
        wash_host_share=one(float(wash.get("wash_host_share") or 0.0)),
        wash_host_own_share=one(float(wash.get("wash_host_own_share") or 0.0)),
        wash_host=one(HOST_KNOWN_WASH if host_wash else float("nan")),
    )


def _stored(stats: Mapping[str, Any] | None) -> tuple[Prior | None, dict[str, Any], bool]:
    """The last run's prior, counterparty figures and whether it found the wallet's host WASH
    (the wallet was WASH_COUNTERPARTY then)."""
    factors = (stats or {}).get("factors") or {}
    post = factors.get("posterior") or {}
    prior = None
    if post.get("prior_sd") is not None and post.get("prior_mean") is not None:
        prior = Prior(
            mean=float(post["prior_mean"]),
            sd=float(post["prior_sd"]),
            mean_se=float(post.get("prior_mean_se") or 0.0),
            miss_sd=float(post.get("close_miss_sd") or 0.0),
        )
    host_wash = "WASH_COUNTERPARTY" in (factors.get("flags") or ())
    return prior, dict(factors.get("behaviour") or {}), host_wash


async def _with_tail(conn: asyncpg.Connection, prior: Prior) -> Prior:
    """``prior`` (the stored row's, read against the current population) with the current
    population's skill tail, when the row was read against it (the same bulk)."""
    pop = await conn.fetchrow(wallet_sql.POPULATION_TAIL)
    if pop is None or pop["prior_mean"] != prior.mean or pop["prior_sd"] != prior.sd:
        return prior
    return replace(
        prior,
        skill_share=float(pop["skill_share"]),
        skill_mean=float(pop["skill_mean"]),
        skill_sd=float(pop["skill_sd"]),
        skill_mean_se=float(pop["skill_mean_se"]),
    )


def _self_matched(rows: Sequence[Mapping[str, Any]]) -> dict[tuple[int, str], Decimal]:
    """Per (chain, transaction): the share of the wallet's taker shares there that filled
    against its own resting orders (maker rows naming the wallet as the taker), at most 1 --
    what the run's rep_void takes out of its decisions (orderflow.reputation.evidence_sql.VOID)."""
    own: dict[tuple[int, str], Decimal] = {}
    taken: dict[tuple[int, str], Decimal] = {}
    for row in rows:
        tx = (row["chain_id"], row["tx_hash"])
        if row["is_taker_aggregate"]:
            taken[tx] = taken.get(tx, ZERO) + row["size"]
        elif row["taker_address"] == row["wallet_address"]:
            own[tx] = own.get(tx, ZERO) + row["size"]
    return {
        tx: min(Decimal(1), shares / taken[tx]) if taken.get(tx) else Decimal(1)
        for tx, shares in own.items()
    }


def _apply(tp: TokenPosition, row: Mapping[str, Any], void: Decimal = ZERO) -> None:
    """One fill; ``void``: the share of a taker fill that is no decision (against the wallet's
    own orders), 1 for one at or after its market's resolution (taken with the outcome known)."""
    fill = fill_from_trade(row)
    tp.position.apply(fill)
    size, usdc = row["size"], row["usdc_size"]
    tp.volume += usdc
    taker = bool(row["is_taker_aggregate"])
    resolved_at = row["resolved_at"]
    if taker and resolved_at is not None and row["timestamp"] >= resolved_at:
        void = Decimal(1)
    kept = 1 - void if taker else ZERO
    if row["side"] == "BUY":
        tp.bought_gross += size
        tp.paid_gross += usdc
        if row["price"] > Decimal(str(PENNY_PRICE)):
            tp.penny += usdc
        tp.taker_bought += size * kept
        tp.taker_paid += usdc * kept
    else:
        tp.sold_gross += size
        tp.received_gross += usdc
        tp.taker_sold += size * kept
        tp.taker_received += usdc * kept
    if taker:
        if row["side"] == "BUY":
            tp.taker_bought_all += size
            tp.taker_paid_all += usdc
        else:
            tp.taker_sold_all += size
        tp.void_volume += usdc * void
        tp.taker_fee += fill.fee_usdc * kept
        if tp.taker_first_at is None or row["timestamp"] < tp.taker_first_at:
            tp.taker_first_at = row["timestamp"]


async def wallet_report(
    conn: asyncpg.Connection,
    wallet: str,
    *,
    as_of: datetime | None = None,
    settings: ReputationSettings | None = None,
    stats: Mapping[str, Any] | None = None,
    prior: Prior | None = None,
) -> WalletReport:
    """Replay one wallet's fills (as of ``as_of``, default now) and score it.

    ``stats`` is the wallet's stored row (for the run's prior and counterparty figures), or its
    factors JSON as of ``as_of`` (``{"factors": …}``); ``prior``: the population prior to read
    it against (default: the stored row's, with the current population's skill tail).
    """
    settings = settings or ReputationSettings()
    cutoff = as_of or await conn.fetchval("SELECT now()")
    rows = await conn.fetch(wallet_sql.WALLET_FILLS, cutoff, wallet)
    by_token: dict[int, TokenPosition] = {}
    last_fill: dict[int, datetime] = {}
    self_matched = _self_matched(rows)
    for row in rows:
        token_id = int(row["token_id"])
        tp = by_token.get(token_id)
        if tp is None:
            payouts = row["payouts"]
            tp = by_token[token_id] = TokenPosition(
                token_id=token_id,
                market_id=row["market_id"],
                outcome_index=row["outcome_index"],
                event_id=row["event_id"],
                payouts=list(payouts) if payouts is not None else None,
                resolved_at=row["resolved_at"],
            )
        _apply(tp, row, self_matched.get((row["chain_id"], row["tx_hash"]), ZERO))
        last_fill[token_id] = max(last_fill.get(token_id, row["timestamp"]), row["timestamp"])
    positions = list(by_token.values())
    for tp in positions:
        _judge(tp)
        if tp.payout is not None:
            tp.position.settle(tp.payout)
    if positions:
        resolved = [tp for tp in positions if tp.payout is not None]
        closes = await conn.fetch(
            wallet_sql.TOKEN_CLOSES,
            cutoff,
            [Decimal(tp.token_id) for tp in resolved],
            [tp.resolved_at for tp in resolved],
            settings.clv_horizon,
        )
        by_id = {int(r["token_id"]): r for r in closes}
        for tp in resolved:
            r = by_id.get(tp.token_id)
            if r is None or (tp.taker_first_at is not None and tp.taker_first_at > r["close_at"]):
                continue
            own_last = last_fill[tp.token_id] >= r["close_at"]
            tp.close = r["prev_price"] if own_last else r["close_price"]
        open_tokens = [Decimal(tp.token_id) for tp in positions if tp.payout is None]
        marks = await conn.fetch(wallet_sql.TOKEN_LAST_PRICES, cutoff, open_tokens)
        last = {int(r["token_id"]): r["price"] for r in marks}
        for tp in positions:
            if tp.payout is None:
                tp.last_price = last.get(tp.token_id)
    stored_prior, behaviour, host_wash = _stored(stats)
    if prior is None and stored_prior is not None:
        prior = await _with_tail(conn, stored_prior)
    events = sorted({tp.event_id for tp in positions if tp.event_id is not None})
    legs = {r["event_id"]: r["legs"] for r in await conn.fetch(wallet_sql.EVENT_LEGS, events)}
    inputs = _inputs(positions, behaviour, host_wash, legs)
    return WalletReport(
        wallet_address=wallet,
        as_of=cutoff,
        positions=positions,
        inputs=inputs,
        scores=score(
            inputs, settings, prior=prior or Prior(0.0, settings.prior_sd_floor, 0.0, 0.0)
        ),
        trades=len(rows),
        realized_pnl=sum((tp.position.realized_pnl for tp in positions), ZERO),
        unrealized_pnl=sum((tp.unrealized for tp in positions), ZERO),
    )
