"""The taker's executed amounts, from the maker fills of its match.

When the operator passes ``matchOrders`` a taker fill amount larger than the makers need, the
exchange pulls that amount from the taker, fills the makers, and refunds the leftover — but the
taker's OrderFilled and the OrdersMatched still report the full amount (checked against the
real V1 exchange, and V2 mint/merge/mixed matches). Example: a BUY at a 0.62 limit with a
taker fill amount of 24.8 USDC against a maker selling 40 shares at 0.60: the taker paid 24.0,
its OrderFilled says 24.8 (0.62 a share).

The maker fills of the same match carry what was executed, so the taker's "giving" amount is
rebuilt from them:

* taker BUY (gives collateral): a maker SELL of the same token received ``collateral`` of it
  (a transfer); a maker BUY of the complement (a mint) put up ``collateral`` and the taker the
  rest of the ``shares`` minted, ``shares - collateral``;
* taker SELL (gives shares): every maker took ``shares`` of them (a maker BUY of the same
  token: transfer; a maker SELL of the complement: merge).

The taker's "receiving" amount already includes any surplus and is right as emitted. The fix
applies only when the rebuilt amount is positive and smaller than the reported one; the taker's
fee is left as charged. Fills and the match are those of one exchange in one transaction,
between the previous OrdersMatched of that exchange and this one.
"""

from __future__ import annotations

import bisect
from collections import defaultdict

from orderflow.chain.events import DecodedBatch, Fill, Match


def _executed(taker: Fill, makers: list[Fill]) -> int | None:
    total = 0
    for m in makers:
        if taker.side == "BUY":
            if m.side == "SELL" and m.token_id == taker.token_id:
                total += m.collateral
            elif m.side == "BUY" and m.token_id != taker.token_id:
                total += m.shares - m.collateral
            else:
                return None  # not a shape a match can have: leave the report alone
        else:
            total += m.shares
    return total


def correct_taker_amounts(batch: DecodedBatch) -> int:
    """Set each match's taker fill (and the match) to its executed amounts; returns how many
    matches were corrected. Runs on a decoded batch, in place, before storage."""
    if not batch.matches or not batch.fills:
        return 0
    fills: dict[tuple[str, str], list[Fill]] = defaultdict(list)
    for f in batch.fills:
        fills[(f.ref.tx_hash, f.ref.address)].append(f)
    matches: dict[tuple[str, str], list[Match]] = defaultdict(list)
    for m in batch.matches:
        matches[(m.ref.tx_hash, m.ref.address)].append(m)
    corrected = 0
    for key, group in matches.items():
        in_tx = sorted(fills.get(key, ()), key=lambda f: f.ref.log_index)
        if not in_tx:
            continue
        indexes = [f.ref.log_index for f in in_tx]
        previous = -1
        for match in sorted(group, key=lambda m: m.ref.log_index):
            lo = bisect.bisect_right(indexes, previous)
            hi = bisect.bisect_left(indexes, match.ref.log_index)
            previous = match.ref.log_index
            segment = in_tx[lo:hi]
            takers = [
                f
                for f in segment
                if f.is_taker_aggregate and f.order_hash == match.taker_order_hash
            ]
            makers = [f for f in segment if not f.is_taker_aggregate]
            if len(takers) != 1 or not makers:
                continue
            taker = takers[0]
            executed = _executed(taker, makers)
            if executed is None or executed <= 0:
                continue
            if taker.side == "BUY" and executed < taker.collateral:
                taker.collateral = executed
                if match.side == "BUY" and executed < match.collateral:
                    match.collateral = executed
                corrected += 1
            elif taker.side == "SELL" and executed < taker.shares:
                taker.shares = executed
                if match.side == "SELL" and executed < match.shares:
                    match.shares = executed
                corrected += 1
    return corrected
