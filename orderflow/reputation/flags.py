"""Behaviour flags: trading that looks like skill and cannot be copied.

* ``MARKET_MAKER`` -- more than ``maker_share_flag`` of the wallet's volume is on the maker side
  of its fills (resting orders that others crossed): its profit is the spread and rebates, its
  fills are not decisions a follower can take seconds later;
* ``WASH`` -- at least ``wash_min_share`` of its volume is against one counterparty (over
  ``wash_min_fills`` fills) and either that counterparty is as concentrated on it (a closed pair)
  or their fills sat on average ``wash_deviation`` or more away from the token's prevailing price
  (the last trade of the token by anyone else within ``wash_window_secs`` before the fill);
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
    concentrated = (i.wash_share >= s.wash_min_share) & (i.wash_fills >= s.wash_min_fills)
    off_price = np.nan_to_num(i.wash_deviation, nan=0.0) >= s.wash_deviation
    wash = enough & concentrated & ((i.wash_counterparty_share >= s.wash_min_share) | off_price)
    pp = enough & (penny > s.penny_share_flag)
    bits = (
        mm.astype(np.int8) * (1 << FLAGS.index("MARKET_MAKER"))
        | wash.astype(np.int8) * (1 << FLAGS.index("WASH"))
        | pp.astype(np.int8) * (1 << FLAGS.index("PENNY_PICKER"))
    )
    return np.asarray(bits, dtype=np.int8)
