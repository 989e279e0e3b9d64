"""One wallet at a time: its positions replayed fill by fill through :mod:`orderflow.accounting`.

Two uses:

* ``orderflow wallet ADDRESS`` shows a wallet's positions (exact sequential average cost) next
  to its stored score;
* it is the seed's per-wallet loop (one query per wallet), kept as the reference the set-based
  recompute is checked against in tests and timed against in ``benchmarks/reputation.py``.

Statistics follow the same definitions as :mod:`orderflow.reputation.queries`.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

import asyncpg
import numpy as np

from orderflow.accounting import Position, fill_from_trade
from orderflow.reputation import queries as q
from orderflow.reputation.factors import Scores, WalletInputs, score
from orderflow.reputation.settings import ReputationSettings

ZERO = Decimal(0)


@dataclass
class TokenPosition:
    """A wallet's position in one token with what the market did."""

    token_id: int
    market_id: str | None
    outcome_index: int | None
    position: Position = field(default_factory=Position)
    bought_gross: Decimal = ZERO
    paid_gross: Decimal = ZERO
    volume: Decimal = ZERO
    payouts: list[Decimal] | None = None
    resolved_at: datetime | None = None
    problem: str | None = None
    payout: Decimal | None = None
    last_price: Decimal | None = None

    @property
    def entry_price(self) -> Decimal | None:
        return self.paid_gross / self.bought_gross if self.bought_gross else None

    @property
    def edge(self) -> float | None:
        entry = self.entry_price
        if self.payout is None or entry is None:
            return None
        return float(self.payout - entry)

    @property
    def unrealized(self) -> Decimal:
        if self.payout is not None or not self.position.is_open or self.last_price is None:
            return ZERO
        return self.position.mark(self.last_price)


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


def _mean_sd(values: list[float]) -> tuple[float, float]:
    if not values:
        return float("nan"), float("nan")
    sd = statistics.stdev(values) if len(values) >= 2 else float("nan")
    return statistics.fmean(values), sd


def _inputs(positions: list[TokenPosition]) -> WalletInputs:
    markets: dict[str, list[Decimal]] = {}
    for tp in positions:
        if tp.payout is not None and tp.market_id is not None:
            m = markets.setdefault(tp.market_id, [ZERO, ZERO])
            m[0] += tp.position.realized_pnl
            m[1] += tp.position.total_paid
    pnls = [m[0] for m in markets.values()]
    returns = [float(m[0] / m[1]) for m in markets.values() if m[1] > 0]
    edges = [e for e in (tp.edge for tp in positions) if e is not None]
    r_mean, r_sd = _mean_sd(returns)
    e_mean, e_sd = _mean_sd(edges)

    def one(x: float) -> np.ndarray[Any, np.dtype[np.float64]]:
        return np.array([x], dtype=np.float64)

    return WalletInputs(
        wins=one(sum(1 for p in pnls if p > 0)),
        losses=one(sum(1 for p in pnls if p < 0)),
        resolved=one(len(pnls)),
        gross_profit=one(float(sum((p for p in pnls if p > 0), ZERO))),
        gross_loss=one(float(-sum((p for p in pnls if p < 0), ZERO))),
        return_n=one(len(returns)),
        return_mean=one(r_mean),
        return_sd=one(r_sd),
        volume_usdc=one(float(sum((tp.volume for tp in positions), ZERO))),
        edge_n=one(len(edges)),
        edge_mean=one(e_mean),
        edge_sd=one(e_sd),
    )


async def wallet_report(
    conn: asyncpg.Connection,
    wallet: str,
    *,
    as_of: datetime | None = None,
    settings: ReputationSettings | None = None,
) -> WalletReport:
    """Replay one wallet's fills (as of ``as_of``, default now) and score it."""
    settings = settings or ReputationSettings()
    cutoff = as_of or await conn.fetchval("SELECT now()")
    rows = await conn.fetch(q.WALLET_FILLS, cutoff, wallet)
    by_token: dict[int, TokenPosition] = {}
    for row in rows:
        token_id = int(row["token_id"])
        tp = by_token.get(token_id)
        if tp is None:
            payouts = row["payouts"]
            tp = by_token[token_id] = TokenPosition(
                token_id=token_id,
                market_id=row["market_id"],
                outcome_index=row["outcome_index"],
                payouts=list(payouts) if payouts is not None else None,
                resolved_at=row["resolved_at"],
            )
        tp.position.apply(fill_from_trade(row))
        tp.volume += row["usdc_size"]
        if row["side"] == "BUY":
            tp.bought_gross += row["size"]
            tp.paid_gross += row["usdc_size"]
    positions = list(by_token.values())
    for tp in positions:
        _judge(tp)
        if tp.payout is not None:
            tp.position.settle(tp.payout)
    open_tokens = [Decimal(tp.token_id) for tp in positions if tp.payout is None]
    if open_tokens:
        prices = await conn.fetch(q.TOKEN_LAST_PRICES, cutoff, open_tokens)
        last = {int(r["token_id"]): r["price"] for r in prices}
        for tp in positions:
            tp.last_price = last.get(tp.token_id)
    inputs = _inputs(positions)
    return WalletReport(
        wallet_address=wallet,
        as_of=cutoff,
        positions=positions,
        inputs=inputs,
        scores=score(inputs, settings),
        trades=len(rows),
        realized_pnl=sum((tp.position.realized_pnl for tp in positions), ZERO),
        unrealized_pnl=sum((tp.unrealized for tp in positions), ZERO),
    )
