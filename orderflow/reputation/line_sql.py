"""A token's price at a time that one wash pair (or a ring of three) cannot set: the rule behind
reputation's closing lines and marks, one SQL fragment for the run (:data:`CLOSES
<orderflow.reputation.evidence_sql.CLOSES>`) and the per-wallet reads
(:mod:`orderflow.reputation.wallet_sql`).

The line at a time is the median of the last prints of the token's last :data:`TAKERS` distinct
takers in the :data:`WINDOW_SECS` up to its last print by that time: each fill row's taker (the
wallet of a taker row, the ``taker_address`` of a maker row: the order that crossed the book)
counts once, by its last print there. A pair printing between themselves is one taker of seven
(two when its wallets take turns crossing), however often it prints; a market that really moved
(many wallets trading at the new price) fills the seven with the new price; a thin token gets
the median of the few takers of its last hours, never an older print. A median needs
:data:`FEW` voices: with one or two takers in the window the line is its last print (a median
of two is their mean, so a pair beside one honest taker would move the line half way whichever
printed last: tests/reputation/test_close_line.py). The median of an even count is the mean of
its two middle prices (exact NUMERIC). At
most :data:`ROWS` rows are read, newest first; where they are that many and hold fewer than
:data:`TAKERS` takers (a few wallets flooding the window), there is no line (NULL), never theirs.

The window ends at the token's last print, not at the line's time: the line is a function of the
token's fills alone (a mark at ``as_of`` does not move as time passes without trades, so an
incremental run, which recomputes the lines of the tokens with new fills only, keeps what a full
run makes).

``prev_price`` is the same rule over the window's rows before the last print: the line for a
wallet that took part in that print, whose own trade does not make its closing line
(evidence_sql.CLOSES).
"""

from __future__ import annotations

from orderflow.reputation.gate import GATED_TRADES

__all__ = ["FEW", "ROWS", "TAKERS", "WINDOW_SECS", "line"]

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


def line(token: str, last: str, prev_fallback: str = "NULL", when: str = "true") -> str:
    """A subquery for a LATERAL join, one row: ``price`` (NUMERIC), the line of ``token`` in the
    window up to ``last``, the time of its last print by the line's time (SQL expressions of the
    outer row; NULL ``last``: no line), and ``prev_price``, the line over the window's rows
    before ``last`` (``prev_fallback``: the print before ``last``, for a window with no other
    row). ``when``: a condition on the outer row alone, inside the read (a one-time filter: no
    read for a row that needs no line). Reads through the as_of gate ($1)."""
    return f"""
       SELECT {_pick(_median("u.price", "u.ra"), "count(*)", "NULL", _NEWEST)} AS price,
              {_pick(_median("u.pp", "u.rb"), "count(u.rb)", prev_fallback, _NEWEST_BEFORE)}
                  AS prev_price
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
                                 FROM (SELECT * FROM ({GATED_TRADES}) t
                                        WHERE {when} AND t.token_id = {token}
                                          AND t.timestamp <= {last}
                                          AND t.timestamp > {last}
                                                            - interval '{WINDOW_SECS} seconds'
                                        ORDER BY t.timestamp DESC, t.log_index DESC,
                                                 t.block_number DESC
                                        LIMIT {ROWS}) g) r
                        GROUP BY r.taker) v) u"""
