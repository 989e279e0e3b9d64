"""What a wallet's sales received above every prevailing price around them (``WASH``'s ``xs``).

A sale is an exit of a decision (docs/reputation.md "Position accounting": a taker buy is worth
what each share realized, the exit price for the part sold), and an exit price is whatever the
buyer paid -- a fresh partner wallet pays what it is told to. Just under the off-market distance
(``wash_deviation``) nothing flags it, and far over it on a small share of the wallet's volume
neither (tests/reputation/test_gaming_partner_exits.py, test_gaming_off_market_exits.py: WHALE
9.31 and 8.83 on coin flips). A follower selling into the real book gets the market's price, so
an exit is valued at no more than the highest of the prevailing prices around it: the others'
volume-weighted price in its bucket, the one before and the one after (pass 2's ``ref2``,
computed for every bucket the wallet traded in, on the market's outcome-0 scale: the token's
own for outcome 0, one less it for outcome 1). A sale with no other trade around keeps its
price (nothing to compare against, as the off-market check).

Per sale row of the wallet (its maker rows and its taker orders' rows), the collateral beyond
that price: ``usdc_size - size * hi``, when positive. ``xg`` sums every such row, ``xt`` those of
its taker rows: WALLETS takes ``xg`` out of the collateral received that ``exit_price`` is made of
(as ``rep_void``'s ``gr``) and ``xt`` out of the taker rows' (as ``rep_wash``'s ``off_tr``).
NUMERIC sums, one conversion at the end, so the full statement (per wallet and token) and the
stored cells (per wallet, token, market and bucket, summed when assembled) give the same bits.
"""

from __future__ import annotations

# The highest prevailing price around the row's bucket on the token's own scale (``r``: the
# wallet's ref2 row; NULL when nobody else traded around it).
_HI = (
    "CASE WHEN t.market_id IS NOT NULL AND t.outcome_index = 1"
    " THEN 1 - least(r.r_before, r.r_same, r.r_after)"
    " ELSE greatest(r.r_before, r.r_same, r.r_after) END"
)
# The collateral a sale row received beyond it (0 when none or unknown).
OVER = f"coalesce(greatest(t.usdc_size - t.size * ({_HI}), 0), 0)"


def sells_over(
    trades: str, wallet: str, market: str, bucket: str, *, by_bucket: bool, ref: str = "ref2"
) -> str:
    """``xs``: ``xg`` and ``xt`` of the sale rows of ``trades`` with a positive ``xg``, per
    (wallet, token) -- and per (market key, bucket) where ``by_bucket`` (the stored cells'
    rows). ``wallet``, ``market``, ``bucket``: the trade's keys as ``ref`` (pass 2's prevailing
    prices, ``r``) holds them."""
    keys = f", {market} AS mk, {bucket} AS b" if by_bucket else ""
    group = ", 3, 4" if by_bucket else ""
    return f"""), xs AS (
    SELECT t.wallet_address AS w, t.token_id{keys},
           sum({OVER}) AS xg,
           coalesce(sum({OVER}) FILTER (WHERE t.is_taker_aggregate), 0) AS xt
      FROM ({trades}) t
      JOIN {ref} r ON r.w = {wallet} AND r.mk = {market} AND r.b = {bucket}
     WHERE t.side <> 'BUY'
     GROUP BY 1, 2{group}
    HAVING sum({OVER}) > 0
"""
