"""A token's price at a time that one wash pair (or a ring of three) cannot set: the rule behind
reputation's closing lines and marks, one SQL fragment for the run (:data:`CLOSES
<orderflow.reputation.evidence_sql.CLOSES>`) and the per-wallet reads
(:mod:`orderflow.reputation.wallet_sql`).

The rule reads the token's **market prints**: its fill rows less the matches inside one wash group
(:func:`wash_print`: a maker row whose maker and taker the wash check put in one group -- one is
the other's host, or both have the same host (``rep_wash.host``, :data:`HOSTS`) -- and the taker
row of such a match). A group that trades with itself makes no price anybody else accepted, and
where the market has stopped trading its print is the only one in the token's last hours, so a
window alone cannot outvote it (the newsworld's common case: docs/reputation.md "A second
independent population"). The run therefore builds the wash evidence before the lines
(``WASH`` reads no line), and an incremental run recomputes the lines of the tokens of every
transaction of a wallet whose host moved (:mod:`orderflow.reputation.incremental`). A group the
wash check does not find (a partner with fewer than ``wash_min_fills`` matches with its showcase)
is not left out.

The line at a time is the median of the last prints of the token's last :data:`TAKERS` distinct
takers in the :data:`WINDOW_SECS` up to its last market print by that time: each fill row's taker
(the wallet of a taker row, the ``taker_address`` of a maker row: the order that crossed the
book) counts once, by its last print there. A pair printing between themselves that the wash
check did not group is one taker of seven (two when its wallets take turns crossing), however
often it prints; a market that really moved (many wallets trading at the new price) fills the
seven with the new price; a thin token gets the median of the few takers of its last hours,
never an older print. A median needs :data:`FEW` voices: with one or two takers in the window
the line is its last print (a median of two is their mean, so a pair beside one honest taker
would move the line half way whichever printed last: tests/reputation/test_close_line.py). The
median of an even count is the mean of its two middle prices (exact NUMERIC). At most
:data:`ROWS` rows are read, newest first; where they are that many and hold fewer than
:data:`TAKERS` takers (a few wallets flooding the window), there is no line (NULL), never theirs.
No market print at all by that time: no line.

The window ends at the token's last market print, not at the line's time: the line is a function
of the token's fills and the wash groups alone (a mark at ``as_of`` does not move as time passes
without trades, so an incremental run, which recomputes the lines of the tokens with new fills or
regrouped wallets only, keeps what a full run makes).

``prev_price`` is the same rule over the window's rows before the given print (the token's last
print from anyone by the line's time; no such row: the newest market print before it): the line
for a wallet that took part in that print, whose own trade does not make its closing line
(evidence_sql.CLOSES).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import asyncpg

from orderflow.reputation.gate import GATED_TRADES

__all__ = [
    "FEW",
    "HOSTS",
    "PRICED",
    "ROWS",
    "RUN",
    "STORED",
    "TAKERS",
    "WINDOW_SECS",
    "Hosts",
    "is_level",
    "keep_hosts",
    "level_sql",
    "line",
    "wash_print",
]


def is_level(price: Decimal) -> bool:
    """Whether ``price`` is a level, strictly between 0 and 1: :func:`level_sql` in Python (the
    replay's, and the executor's quotes: :func:`orderflow.signals.quotes.is_level`)."""
    return 0 < price < 1


def level_sql(price: str) -> str:
    """SQL: whether the expression ``price`` is a level, strictly between 0 and 1 — the one rule
    of the score's lines and marks, and of the executor's quotes and tape
    (:func:`orderflow.signals.quotes.is_level_sql`)."""
    return f"{price} > 0 AND {price} < 1"


# Whether the fill row ``{t}`` prices its token: the one rule of the closing lines, the marks and
# the closing time, in the run and in ``orderflow wallet``'s report (evidence_sql.CLOSES,
# :func:`line`, wallet_sql), and of COPIER's taker buys (orderflow.reputation.copy_sql). A price
# strictly inside (0, 1), as the executor's and the backtest's quotes take it
# (orderflow.signals.quotes.is_level): a CLOB price is never 0 or 1 (ticks of 0.01 or 0.001), so
# a print at 1.00 (or 0) is a wash or settlement-like print, no level, and a fill of no shares or
# no collateral (its stored price collateral / shares, 0 when no shares changed hands:
# chain/store_sql) is none either: it sets no line, no mark and no closing time, and is no buy a
# copier trails or leads (its shares and collateral are still summed). The price alone, so the
# closing lines' probes stay on the token index (its INCLUDE has the price, not the amounts:
# migration 028; tests/reputation/test_closes_index.py). Until 7 Dec 2026 a print at 1.00 after
# levels at 0.40 marked an open position at 1.00 (tests/reputation/test_report_mark.py), and a
# print at 1.00 trailed every earlier buy of its token (tests/reputation/test_copier_prints.py).
PRICED = level_sql("{t}.price")

WINDOW_SECS = 6 * 3600  # how far back from the last print a print counts
TAKERS = 7  # distinct takers whose last prints make the median
ROWS = 64  # rows read at most (the window's newest)
FEW = 3  # takers a median needs: fewer, the window's last print


def _median(price: str, rank: str) -> str:
    """The median of ``price`` over the rows whose ``rank`` is at most TAKERS (exact: the mean of
    the lower and the upper median)."""
    keep = f"FILTER (WHERE {rank} <= {TAKERS})"
    return (
        f"(percentile_disc(0.5) WITHIN GROUP (ORDER BY {price}) {keep}"
        f" + percentile_disc(0.5) WITHIN GROUP (ORDER BY {price} DESC) {keep}) / 2"
    )


def _pick(median: str, takers: str, fallback: str, latest: str) -> str:
    """The rule's cases (module docstring) as one expression over the aggregate row (``takers``:
    the takers the median is over; ``latest``: the newest of their prints)."""
    return (
        f"CASE WHEN {takers} = 0 THEN {fallback}"
        f" WHEN max(u.n) >= {ROWS} AND {takers} < {TAKERS} THEN NULL"
        f" WHEN {takers} < {FEW} THEN {latest}"
        f" ELSE {median} END"
    )


# The newest print of the window (the taker ranked first by its newest row), and of its rows
# before the last print.
_NEWEST = "max(u.price) FILTER (WHERE u.ra = 1)"
_NEWEST_BEFORE = "max(u.pp) FILTER (WHERE u.rb = 1)"

# The wash check's hosts: ``rep_hosts`` (w, host), each wallet the check names a host for
# (rep_wash's ``host``: the wallet of its wash group it trades most with) and that host, made by
# the run (:func:`keep_hosts`).
HOSTS = "rep_hosts"


@dataclass(frozen=True)
class Hosts:
    """Where the rule finds a wallet's wash host: ``of``, an SQL expression with ``{}`` for the
    wallet (NULL: none), and ``grouped``, the set of every wallet with a host or hosting one
    (hashed once a statement: the rows of other wallets need no look-up), or None (every taker
    row looks its maker rows up)."""

    of: str
    grouped: str | None


# The run's (rep_hosts, an index probe by wallet) and one wallet's replay's: the hosts the last
# run stored (its primary key; the replay cannot find them: they need every other wallet's
# fills, as its counterparty figures do, orderflow.reputation.per_wallet).
RUN = Hosts(
    of=f"(SELECT h.host FROM {HOSTS} h WHERE h.w = {{}})",
    grouped=f"(SELECT w FROM {HOSTS} UNION ALL SELECT host FROM {HOSTS})",
)
STORED = Hosts(
    of="(SELECT s.factor_wash_host FROM orderflow_wallet_stats s WHERE s.wallet_address = {})",
    grouped=None,
)


def _together(a: str, b: str, hosts: Hosts) -> str:
    """Whether wallets ``a`` and ``b`` are in one wash group: one is the other's host, or they
    share a host."""
    ha, hb = hosts.of.format(a), hosts.of.format(b)
    return f"coalesce({ha} = {b} OR {hb} = {a} OR {ha} = {hb}, false)"


def wash_print(t: str, hosts: Hosts = RUN) -> str:
    """Whether the fill row ``t`` (of the gated trades) is a match inside one wash group: a maker
    row whose maker and taker are in one group, or a taker row of a transaction holding such a
    maker row naming it (its taker order matched a group partner's). With ``hosts.grouped``,
    looked up only for the rows of grouped wallets; a taker row's maker rows by the transaction
    index (``OFFSET 0``: not a hash of every maker row, which the planner would build once,
    reading them all). Reads through the as_of gate ($1)."""
    skip = (
        ""
        if hosts.grouped is None
        else f"WHEN {t}.wallet_address NOT IN {hosts.grouped} THEN false "
    )
    return (
        f"CASE {skip}WHEN NOT {t}.is_taker_aggregate"
        f" THEN {_together(f'{t}.wallet_address', f'{t}.taker_address', hosts)}"
        f" ELSE EXISTS (SELECT 1 FROM ({GATED_TRADES}) m"
        f" WHERE m.chain_id = {t}.chain_id AND m.tx_hash = {t}.tx_hash"
        f" AND NOT m.is_taker_aggregate AND m.taker_address = {t}.wallet_address"
        f" AND {_together('m.wallet_address', 'm.taker_address', hosts)} OFFSET 0) END"
    )


def _market(token: str, until: str, when: str, hosts: Hosts) -> str:
    """The token's market prints (not :func:`wash_print`) up to ``until`` (an SQL condition on
    ``t.timestamp``), newest first."""
    return f"""SELECT * FROM ({GATED_TRADES}) t
                WHERE {when} AND t.token_id = {token} AND {until} AND {PRICED.format(t="t")}
                  AND NOT ({wash_print("t", hosts)})
                ORDER BY t.timestamp DESC, t.log_index DESC, t.block_number DESC"""


# The window: the 6 hours up to the last market print (``e``).
_WINDOW = (
    f"t.timestamp <= e.timestamp AND t.timestamp > e.timestamp - interval '{WINDOW_SECS} seconds'"
)


def line(
    token: str, last: str, *, prev: bool = False, when: str = "true", hosts: Hosts = RUN
) -> str:
    """A subquery for a LATERAL join, one row: ``price`` (NUMERIC), the line of ``token`` at its
    print at ``last`` (an SQL expression of the outer row; NULL: no line): the rule over the
    window up to the token's last market print at or before ``last``; and with ``prev``,
    ``prev_price``, the rule over the window's rows before ``last`` (no such row: the newest
    market print before ``last``; without ``prev``: NULL). ``when``: a condition on the outer row
    alone, inside the reads (a one-time filter: no read for a row that needs no line);
    ``hosts``: where the wash hosts are read (:class:`Hosts`). Reads through the as_of gate
    ($1)."""
    before = _market(token, f"t.timestamp < {last}", when, hosts)
    fallback = f"({before.replace('SELECT *', 'SELECT t.price', 1)} LIMIT 1)"
    prev_price = (
        _pick(_median("u.pp", "u.rb"), "count(u.rb)", fallback, _NEWEST_BEFORE)
        if prev
        else "NULL::numeric"
    )
    return f"""
       SELECT {_pick(_median("u.price", "u.ra"), "count(*)", "NULL", _NEWEST)} AS price,
              {prev_price} AS prev_price
         FROM (SELECT v.*, row_number() OVER (ORDER BY v.a) AS ra,
                      CASE WHEN v.b IS NOT NULL THEN row_number() OVER (ORDER BY v.b) END AS rb
                 FROM (SELECT r.taker, max(r.n) AS n, min(r.rn) AS a,
                              (array_agg(r.price ORDER BY r.rn))[1] AS price,
                              min(r.rn) FILTER (WHERE r.timestamp < {last}) AS b,
                              (array_agg(r.price ORDER BY r.rn)
                                  FILTER (WHERE r.timestamp < {last}))[1] AS pp
                         FROM (SELECT coalesce(CASE WHEN NOT g.is_taker_aggregate
                                                    THEN g.taker_address END,
                                               g.wallet_address) AS taker,
                                      g.price, g.timestamp,
                                      row_number() OVER (ORDER BY g.timestamp DESC,
                                                         g.log_index DESC,
                                                         g.block_number DESC) AS rn,
                                      count(*) OVER () AS n
                                 FROM ({_market(token, f"t.timestamp <= {last}", when, hosts)}
                                       LIMIT 1) e
                                CROSS JOIN LATERAL ({_market(token, _WINDOW, "true", hosts)}
                                      LIMIT {ROWS}) g) r
                        GROUP BY r.taker) v) u"""


def hosts_sql(source: str) -> str:
    """:data:`HOSTS` from ``source``, a table of ``rep_wash``'s rows (the run's, or the stored
    ones an incremental run keeps up to date)."""
    return (
        f"CREATE TEMP TABLE {HOSTS} ON COMMIT DROP AS"
        f" SELECT wallet_address AS w, host FROM {source}"
        " WHERE token_id IS NULL AND host IS NOT NULL"
    )


async def keep_hosts(conn: asyncpg.Connection, source: str) -> None:
    """Make :data:`HOSTS` (for :data:`CLOSES <orderflow.reputation.evidence_sql.CLOSES>`) from
    ``source`` (:func:`hosts_sql`), indexed by wallet."""
    await conn.execute(hosts_sql(source))
    await conn.execute(f"CREATE INDEX ON {HOSTS} (w)")
    await conn.execute(f"ANALYZE {HOSTS}")
