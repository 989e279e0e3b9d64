"""``WASH``'s binary keys: the parts of :data:`orderflow.reputation.wash_sql.WASH` that differ
from the fragments it shares with the incremental statements, because ``WASH`` sorts, hashes and
joins its fills by short byte strings instead of by their 42-character addresses and 66- or
78-character market keys (docs/benchmarks.md "WASH temporary space").

An address (``evm_address``: ``0x`` and 40 lower-case hex digits, the domain's check) is keyed by
its 20 bytes (:data:`ADDR`): one address, one key, and the keys' byte order is the C order of the
addresses (same length, and ``0-9a-f`` sort as their values), so the tie-break of the top-k
ranking ("then counterparty", in C order) is unchanged. A market key (a market id, else the
token: ``coalesce(market_id::text, token_id::text)``) is keyed by a tag byte and the market id's
32 bytes or the token's decimal digits (:data:`MK`): one key per market key, and a market is
only ever compared for equality. The text comes back at the end: the output's wallet from
``tot`` (``rep_positions``' own address), a group's top counterparty and a member's host from
their bytes (a member's host still picked among equal volumes by its address, in the database's
order, as before). No key is a column of an index, so no join to the trades can become a nested
loop of index probes.

$1..$8 as :data:`orderflow.reputation.wash_sql.WASH`.
"""

from __future__ import annotations

from orderflow.reputation.gate import GATED_TRADES
from orderflow.reputation.wash_exits_sql import sells_over

# An address's key, and the address back from it.
ADDR = "decode(substr({a}, 3), 'hex')"
TEXT = "('0x' || encode({k}, 'hex'))::evm_address"
MK = (
    "coalesce('\\x01'::bytea || decode(substr(t.market_id, 3), 'hex'),"
    " '\\x00'::bytea || convert_to(t.token_id::text, 'UTF8'))"
)
BUCKET = "floor(extract(epoch FROM t.timestamp) / $3::float8)::int8"


def judged(volume: str, whole: str) -> str:
    """The off-market share's denominator, float8: the wallet's judged volume ``volume`` (its
    fills with a prevailing price to compare against), never less than $8
    (``wash_min_judged_share``) of its whole volume ``whole``."""
    return f"greatest({volume}::float8, $8::float8 * {whole}::float8)"


# The fills ``f`` (the maker rows naming a counterparty, one per match), by key.
F_KEYS = f"""f AS (
    SELECT {ADDR.format(a="t.wallet_address")} AS m, {ADDR.format(a="t.taker_address")} AS k,
           t.size, {MK} AS mk,
           CASE WHEN t.market_id IS NOT NULL AND t.outcome_index = 1 THEN 1 - t.price
                ELSE t.price END AS pn,
           {BUCKET} AS b
      FROM ({GATED_TRADES}) t
     WHERE NOT t.is_taker_aggregate AND t.taker_address <> t.exchange
       AND t.taker_address <> t.wallet_address
"""


def tot_keys(tot: str) -> str:
    """``tot`` (WASH's share volumes by address: ``), tot AS (...``) by key, with the address
    (``a``)."""
    body = tot.removeprefix("), tot AS (")
    assert body != tot
    return f"""), tot AS (
    SELECT {ADDR.format(a="v.w")} AS w, v.vol, v.w AS a
      FROM ({body}) v
"""


# The off-market part of each wallet's taker rows per token: taker_off's buckets against the
# trades' own rows, by key.
OFFTOK_KEYS = (
    f"""), offtake AS (
    -- ... carried to the wallet's own taker rows there: the decisions the edge must not count
    -- (orderflow.reputation.evidence_sql.WALLETS subtracts them), in the units of rep_positions
    SELECT t.wallet_address AS w, t.token_id,
           coalesce(sum(t.size * x.frac) FILTER (WHERE t.side = 'BUY'), 0)::float8 AS tb,
           coalesce(sum(t.usdc_size * x.frac) FILTER (WHERE t.side = 'BUY'), 0)::float8 AS tcb,
           coalesce(sum(t.size * x.frac) FILTER (WHERE t.side <> 'BUY'), 0)::float8 AS ts,
           coalesce(sum(t.usdc_size * x.frac) FILTER (WHERE t.side <> 'BUY'), 0)::float8 AS tr,
           coalesce(sum(x.frac * CASE WHEN t.fee_asset = 'SHARES' THEN t.fee * t.price
                                      ELSE t.fee END) FILTER (WHERE t.fee > 0), 0)::float8
               AS tfee
      FROM ({GATED_TRADES}) t
      JOIN taker_off x
        ON x.w = {ADDR.format(a="t.wallet_address")} AND x.mk = {MK} AND x.b = {BUCKET}
     WHERE t.is_taker_aggregate
     GROUP BY t.wallet_address, t.token_id
"""
    + sells_over(GATED_TRADES, ADDR.format(a="t.wallet_address"), MK, BUCKET, by_bucket=False)
    + """), offtok AS (
    -- both per (wallet, token): the off-market taker amounts and what its sales received
    -- above the prevailing prices
    SELECT coalesce(o.w, x.w) AS w, coalesce(o.token_id, x.token_id) AS token_id,
           coalesce(o.tb, 0.0) AS tb, coalesce(o.tcb, 0.0) AS tcb, coalesce(o.ts, 0.0) AS ts,
           coalesce(o.tr, 0.0) AS tr, coalesce(o.tfee, 0.0) AS tfee,
           coalesce(x.xg, 0)::float8 AS xg, coalesce(x.xt, 0)::float8 AS xt
      FROM offtake o FULL JOIN xs x ON x.w = o.w AND x.token_id = o.token_id
"""
)


def host_and_rows(host: str, wallet: str, counterparty: str) -> str:
    """Each member's largest host, by address among equal volumes, and ``rep_wash``'s rows;
    ``host`` / ``counterparty``: the host's and the top counterparty's address as text (from
    ``x.host`` / ``c.top_cp``), ``wallet``: the wallet's (a column of ``tot t``)."""
    return f"""), host AS (
    -- each member's largest host (most volume with it); the final join keeps the members with
    -- a volume of their own and adds that volume's share of it (a market maker trades a little
    -- with everyone)
    SELECT DISTINCT ON (x.member) x.member, {host} AS host, x.share::float8 AS share, x.vol
      FROM hosted x
     ORDER BY x.member, x.vol DESC, {host}
)
SELECT {wallet} AS wallet_address, NULL::numeric AS token_id,
       {counterparty} AS counterparty, coalesce(c.share, 0.0) AS share,
       coalesce(c.n, 0) AS pair_fills, coalesce(cl.back, 0.0)::float8 AS counterparty_share,
       o.deviation::float8 AS deviation,
       coalesce(o.off_vol::float8 / {judged("o.judged", "t.vol")}, 0.0) AS off_share,
       coalesce(o.off_n, 0) AS off_fills,
       h.host, coalesce(h.share, 0.0) AS host_share,
       coalesce((h.vol / t.vol)::float8, 0.0) AS host_own_share,
       NULL::float8 AS off_tb, NULL::float8 AS off_tcb, NULL::float8 AS off_ts,
       NULL::float8 AS off_tr, NULL::float8 AS off_tfee, NULL::float8 AS x_gr,
       NULL::float8 AS x_tr
  FROM tot t
  LEFT JOIN conc c ON c.w = t.w
  LEFT JOIN closed cl ON cl.w = t.w
  LEFT JOIN off o ON o.w = t.w
  LEFT JOIN host h ON h.member = t.w AND t.vol > 0
 WHERE c.w IS NOT NULL OR o.off_n > 0 OR h.member IS NOT NULL
UNION ALL
SELECT w, token_id, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, tb, tcb, ts, tr,
       tfee, xg, xt
  FROM offtok
"""


# The rows with the wallets keyed by bytes: addresses back to text for the output.
FINAL_KEYS = host_and_rows(TEXT.format(k="x.host"), "t.a", TEXT.format(k="c.top_cp"))
