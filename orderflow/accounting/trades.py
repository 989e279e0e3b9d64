"""From stored rows to accounting inputs: ``orderflow_trades`` fills and resolution payouts."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from orderflow.accounting.position import ZERO, Fill


def fill_from_trade(row: Mapping[str, Any]) -> Fill:
    """A :class:`Fill` from an ``orderflow_trades`` row (or any mapping with its column names).

    Stored rows are already gross (``size`` shares, ``usdc_size`` collateral) with the fee in
    ``fee_asset`` units, which is exactly what :class:`Fill` expects for every exchange version.
    """
    return Fill(
        side=row["side"],
        shares=Decimal(row["size"]),
        usdc=Decimal(row["usdc_size"]),
        fee=Decimal(row.get("fee") or 0),
        fee_asset=row.get("fee_asset") or "COLLATERAL",
        timestamp=row.get("timestamp"),
    )


def payouts_from_numerators(numerators: Sequence[int | Decimal]) -> list[Decimal]:
    """Per-share payout of each outcome: numerator / sum of numerators.

    Raises ``ValueError`` for a resolution that pays nothing (all numerators zero), which no
    valid ConditionResolution emits: callers record it instead of settling at 0.
    """
    values = [Decimal(n) for n in numerators]
    if any(v < 0 for v in values):
        raise ValueError(f"negative payout numerator in {list(numerators)}")
    total = sum(values, ZERO)
    if total == 0:
        raise ValueError(f"resolution pays nothing: payout numerators {list(numerators)}")
    return [v / total for v in values]
