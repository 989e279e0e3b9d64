"""A leader's decision: its taker rows of one token and side in one transaction.

The chain records a taker order matched against several makers as a taker row per match, and a
transaction may carry several taker rows of one wallet's order; each is part of one decision of
the leader, whose size is what it did in that transaction. So the strategy's ``min_trigger_usd``
is compared with the rows' total, not with each row (a 600 USDC buy matched against three makers
made no signal under a trigger of 500: ``tests/signals/test_decision_size.py``), and one entry is
made per decision (the executor's signal key: ``orderflow.signals.queries.insert_signal``; the
backtest's first row of each, :func:`first_rows`; the forward test's count of a wallet's buys,
:func:`decision_key_sql`). Only rows that can be a decision count: a
taker's (``is_taker`` not False), at a level (:func:`~orderflow.signals.quotes.is_level`). The
price stays the row's own.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace
from decimal import Decimal

from orderflow.signals.quotes import is_level
from orderflow.signals.views import TradeView

DecisionKey = tuple[int, str, str, int, str]


def decision_key(trade: TradeView) -> DecisionKey:
    """The leader's decision a row is part of: its transaction, wallet, token and side."""
    return (trade.chain_id, trade.tx_hash, trade.wallet, trade.token_id, trade.side)


def decision_key_sql(t: str) -> str:
    """SQL: :func:`decision_key` of the ``orderflow_trades`` row ``t`` (a row value: counted
    ``DISTINCT``, each decision once however many taker rows it has)."""
    return f"ROW({t}.chain_id, {t}.tx_hash, {t}.wallet_address, {t}.token_id, {t}.side)"


def is_decision_row(trade: TradeView) -> bool:
    """A row that can be (part of) a leader's decision: a taker's, at a level."""
    return trade.is_taker is not False and is_level(trade.price)


def _totals(rows: Iterable[TradeView]) -> dict[DecisionKey, tuple[Decimal, Decimal]]:
    """Each decision's shares and USDC over its rows (each row once, by id when it has one)."""
    seen: set[object] = set()
    totals: dict[DecisionKey, tuple[Decimal, Decimal]] = {}
    for row in rows:
        ident = row.id if row.id is not None else (row.chain_id, row.tx_hash, row.log_index)
        if ident in seen or not is_decision_row(row):
            continue
        seen.add(ident)
        key = decision_key(row)
        size, usdc = totals.get(key, (Decimal(0), Decimal(0)))
        totals[key] = (size + row.size, usdc + row.usdc_size)
    return totals


def as_decisions(trades: Sequence[TradeView], rows: Iterable[TradeView] = ()) -> list[TradeView]:
    """``trades`` with each decision row sized as its whole decision: the total of its rows
    among ``trades`` and ``rows`` (the other stored rows of the same decisions)."""
    totals = _totals([*trades, *rows])
    out: list[TradeView] = []
    for trade in trades:
        total = totals.get(decision_key(trade)) if is_decision_row(trade) else None
        out.append(trade if total is None else replace(trade, size=total[0], usdc_size=total[1]))
    return out


def first_rows(rows: Sequence[TradeView]) -> list[TradeView | None]:
    """For each of one transaction's ``rows`` (in chain order): the decision it opens — the
    first row of its decision, sized as the whole (:func:`as_decisions`) — or None (a later row
    of a decision, or no decision row)."""
    opened: set[DecisionKey] = set()
    out: list[TradeView | None] = []
    for row, sized in zip(rows, as_decisions(rows), strict=True):
        key = decision_key(row)
        if not is_decision_row(row) or key in opened:
            out.append(None)
            continue
        opened.add(key)
        out.append(sized)
    return out
