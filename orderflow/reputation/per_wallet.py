"""One wallet at a time: its positions replayed fill by fill through :mod:`orderflow.accounting`.

Two uses:

* ``orderflow wallet ADDRESS`` shows a wallet's positions (valued on their totals, as the run
  values them: :func:`orderflow.accounting.aggregate.open_pnl` while a market is open,
  ``resolved_pnl`` once it resolved) and its evidence next to its stored score;
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
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import asyncpg
import numpy as np

from orderflow.accounting import fill_from_trade
from orderflow.reputation import stored_inputs, wallet_sql
from orderflow.reputation.factors import Scores, score
from orderflow.reputation.flags import is_penny
from orderflow.reputation.posterior_block import posterior_of
from orderflow.reputation.prior import Prior
from orderflow.reputation.replay_inputs import wallet_inputs
from orderflow.reputation.settings import ReputationSettings
from orderflow.reputation.token_position import ZERO, TokenPosition
from orderflow.reputation.wallet_inputs import WalletInputs


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


def _stored(stats: Mapping[str, Any] | None) -> tuple[Prior | None, dict[str, Any], bool]:
    """The last run's prior, counterparty figures and whether it found the wallet's host WASH
    (the wallet was WASH_COUNTERPARTY then)."""
    factors = (stats or {}).get("factors") or {}
    post = posterior_of(factors)
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


def _stored_copier(stats: Mapping[str, Any] | None) -> bool:
    """Whether the last run found the wallet COPIER (its buys trailing a leader's: a relation
    between wallets that one wallet's replay cannot see)."""
    factors = (stats or {}).get("factors") or {}
    return "COPIER" in (factors.get("flags") or ())


async def _capped(
    conn: asyncpg.Connection, wallet: str, settings: ReputationSettings
) -> dict[int, tuple[Decimal, Decimal]]:
    """Per token, what the wallet's sales received above every prevailing price around them
    (``rep_wash``'s ``x_gr`` and ``x_tr``: :mod:`orderflow.reputation.wash_exits_sql`) as the
    last run's stored rows hold them: the market around a fill is every other wallet's, which a
    replay of one wallet does not read. None kept (no live full run with this SQL yet): none
    taken out, the exits at their price."""
    if not await stored_inputs.ready(conn, settings):
        return {}
    rows = await conn.fetch(
        f"SELECT token_id, x_gr, x_tr FROM {stored_inputs.WASH}"
        " WHERE wallet_address = $1 AND token_id IS NOT NULL AND x_gr > 0",
        wallet,
    )
    return {
        int(r["token_id"]): (Decimal(repr(r["x_gr"])), Decimal(repr(r["x_tr"] or 0.0)))
        for r in rows
    }


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


def _late(row: Mapping[str, Any]) -> bool:
    """Whether a fill is at or after its market's resolution (taken with the outcome known)."""
    resolved_at = row["resolved_at"]
    return resolved_at is not None and bool(row["timestamp"] >= resolved_at)


def _kept(row: Mapping[str, Any], void: Decimal) -> Decimal:
    """The share of a fill that is a decision: a taker fill's less ``void`` (its part against
    the wallet's own orders), none of one at or after its market's resolution."""
    if not row["is_taker_aggregate"] or _late(row):
        return ZERO
    return 1 - void


def _apply(tp: TokenPosition, row: Mapping[str, Any], void: Decimal = ZERO) -> None:
    """One fill; ``void``: the share of a taker fill that is no decision (against the wallet's
    own orders)."""
    fill = fill_from_trade(row)
    tp.position.apply(fill)
    size, usdc = row["size"], row["usdc_size"]
    tp.volume += usdc
    taker = bool(row["is_taker_aggregate"])
    late = _late(row)
    if taker and late:
        void = Decimal(1)
    kept = _kept(row, void)
    # no exit of a decision either: any fill after the resolution, a maker row against the
    # wallet's own order, a taker row's part against its own orders (the run's gb, gs, gr)
    own = not taker and row["taker_address"] == row["wallet_address"]
    gross_void = Decimal(1) if late or own else (void if taker else ZERO)
    if row["side"] == "BUY":
        tp.bought_gross += size
        tp.void_bought += size * gross_void
        tp.paid_gross += usdc
        if is_penny(row["price"]):
            tp.penny += usdc
        tp.taker_bought += size * kept
        tp.taker_paid += usdc * kept
    else:
        tp.sold_gross += size
        tp.received_gross += usdc
        tp.void_sold += size * gross_void
        tp.void_received += usdc * gross_void
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


def _after_close(
    tp: TokenPosition,
    rows: Sequence[Mapping[str, Any]],
    close_at: datetime,
    self_matched: Mapping[tuple[int, str], Decimal],
) -> None:
    """The shares and collateral the position's decisions after its token's close bought and
    sold (the run's rep_void post amounts); ``rows``: the position's fills."""
    for row in rows:
        if row["timestamp"] <= close_at:
            continue
        kept = _kept(row, self_matched.get((row["chain_id"], row["tx_hash"]), ZERO))
        if row["side"] == "BUY":
            tp.post_bought += row["size"] * kept
            tp.post_paid += row["usdc_size"] * kept
        else:
            tp.post_sold += row["size"] * kept
            tp.post_received += row["usdc_size"] * kept


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
    fills_of: dict[int, list[asyncpg.Record]] = {}  # each position's fills
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
        fills_of.setdefault(token_id, []).append(row)
    positions = list(by_token.values())
    for token_id, (received, taker_received) in (await _capped(conn, wallet, settings)).items():
        if (tp := by_token.get(token_id)) is not None:
            tp.capped_received, tp.capped_taker_received = received, taker_received
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
            own_last = max(f["timestamp"] for f in fills_of[tp.token_id]) >= r["close_at"]
            tp.close = r["prev_price"] if own_last else r["close_price"]
            if own_last:  # the decisions after the close: at their own price
                _after_close(tp, fills_of[tp.token_id], r["close_at"], self_matched)
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
    leg_rows = await conn.fetch(wallet_sql.EVENT_LEGS, events, as_of)  # as_of None: every leg
    legs = {r["event_id"]: r["legs"] for r in leg_rows}
    window = timedelta(seconds=settings.hedged_leg_window_secs)
    inputs = wallet_inputs(positions, behaviour, host_wash, legs, leg_window=window)
    return WalletReport(
        wallet_address=wallet,
        as_of=cutoff,
        positions=positions,
        inputs=inputs,
        scores=score(
            inputs,
            settings,
            prior=prior or Prior(0.0, settings.prior_sd_floor, 0.0, 0.0),
            # the lead-lag relation is the population's (copy_sql): the last run's verdict
            copying=np.array([_stored_copier(stats)]),
        ),
        trades=len(rows),
        realized_pnl=sum((tp.realized for tp in positions), ZERO),
        unrealized_pnl=sum((tp.unrealized for tp in positions), ZERO),
    )
