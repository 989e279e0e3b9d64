"""Behaviour flags: trading that looks like skill and cannot be copied.

* ``MARKET_MAKER`` -- more than ``maker_share_flag`` of the wallet's volume is on the maker side
  of its fills (resting orders that others crossed): its profit is the spread and rebates, its
  fills are not decisions a follower can take seconds later;
* ``WASH`` -- either (a) at least ``wash_min_share`` of its volume is against its top
  ``wash_top_k`` counterparties (over ``wash_min_fills`` fills) and at least ``wash_min_share`` of
  those partners' own volume is against the group (a closed ring), or (b) at least
  ``wash_off_share`` of its volume (over ``wash_min_fills`` fills) was filled ``wash_deviation`` or
  more away from every prevailing price around the fill set by other wallets (the volume-weighted
  price of the market's other trades in the same ``wash_window_secs`` bucket, the one before and
  the one after: a taker trading right after news sits on the price that follows);
* ``PENNY_PICKER`` -- more than ``penny_share_flag`` of the USDC it spent on buys went to
  outcomes priced above 0.9 (favourites that win 95 % of the time at zero edge).

No flag below ``flag_min_volume`` USDC of volume. A flagged wallet is never WHALE or SMART (so
never followed); a WASH wallet is never DEGEN (so never faded).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from orderflow.reputation.settings import ReputationSettings

if TYPE_CHECKING:
    from orderflow.reputation.factors import WalletInputs

FLAGS = ("MARKET_MAKER", "WASH", "PENNY_PICKER")
PENNY_PRICE = 0.9  # orderflow.reputation.queries (penny_u) and per_wallet use it


def flag_bits(i: WalletInputs, s: ReputationSettings) -> npt.NDArray[np.int8]:
    """Bit ``b`` set when flag ``FLAGS[b]`` applies."""
    with np.errstate(divide="ignore", invalid="ignore"):
        taker = np.where(i.volume > 0, i.taker_volume / i.volume, 1.0)
        penny = np.where(i.buy_volume > 0, i.penny_volume / i.buy_volume, 0.0)
    enough = i.volume >= s.flag_min_volume
    mm = enough & (1.0 - taker > s.maker_share_flag)
    ring = (
        (i.wash_share >= s.wash_min_share)
        & (i.wash_fills >= s.wash_min_fills)
        & (i.wash_counterparty_share >= s.wash_min_share)
    )
    off_market = (i.wash_off_share >= s.wash_off_share) & (i.wash_off_fills >= s.wash_min_fills)
    wash = enough & (ring | off_market)
    pp = enough & (penny > s.penny_share_flag)
    bits = (
        mm.astype(np.int8) * (1 << FLAGS.index("MARKET_MAKER"))
        | wash.astype(np.int8) * (1 << FLAGS.index("WASH"))
        | pp.astype(np.int8) * (1 << FLAGS.index("PENNY_PICKER"))
    )
    return np.asarray(bits, dtype=np.int8)
