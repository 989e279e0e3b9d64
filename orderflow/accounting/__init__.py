"""Position accounting: the one implementation used by reputation, execution and backtests.

Pure and synchronous (no I/O): feed :class:`Fill` objects into a :class:`Position`, settle it at
the market's payout, mark it at a price. :class:`SubgraphPosition` is Polymarket's reference
method (fees ignored) for reconciliation.
"""

from orderflow.accounting.aggregate import (
    OpenPnl,
    TakerTotals,
    decision_value,
    exited_share,
    held_line,
    open_pnl,
    resolved_pnl,
)
from orderflow.accounting.position import ZERO, FeeAsset, Fill, Position, Side, replay
from orderflow.accounting.subgraph import SubgraphPosition
from orderflow.accounting.trades import fill_from_trade, payouts_from_numerators

__all__ = [
    "ZERO",
    "FeeAsset",
    "Fill",
    "OpenPnl",
    "Position",
    "Side",
    "SubgraphPosition",
    "TakerTotals",
    "decision_value",
    "exited_share",
    "fill_from_trade",
    "held_line",
    "open_pnl",
    "payouts_from_numerators",
    "replay",
    "resolved_pnl",
]
