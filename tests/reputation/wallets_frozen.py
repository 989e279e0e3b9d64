"""Frozen copies of the wallets statement (``orderflow.reputation.evidence_sql.WALLETS``) as it
was before its sums were made order-independent, and the set-up that statement runs after.

* :data:`FROZEN_MAIN` -- the statement as rendered on main (commit eccb9b5), hash-aggregated: its
  float8 sums add rows in whatever order the hash tables give;
* :data:`FROZEN_ORDERED` -- the same statement with its two aggregations fed in a fixed order
  (positions by wallet, event, token; events by wallet, event), nothing else changed: the values
  the current statement must reproduce bit for bit.

Test helpers only: nothing in orderflow reads this module.
"""

from __future__ import annotations

import math
from datetime import datetime
from pathlib import Path
from typing import Any

import asyncpg

from orderflow.reputation.hedged_sql import HEDGED_CTES
from orderflow.reputation.run import build_evidence
from orderflow.reputation.settings import ReputationSettings


def _once(sql: str, old: str, new: str) -> str:
    assert sql.count(old) == 1, old
    return sql.replace(old, new)


# The complete sets' figure (migration 060) computed apart, as a pass of its own over the
# positions: the current statement folds a standard market's sets into its (wallet, event)
# aggregation (``set_u``), so the comparisons below check that fold too. Exact integer sums: no
# float order to freeze. $1 = hedged_leg_window_secs (a set's legs first bought within it).
_SETS_APART = (
    """binary_sets AS (
    SELECT p.wallet_address,
           CASE WHEN max(p.taker_first_at) FILTER (WHERE p.kept_u > 0)
                     - min(p.taker_first_at) FILTER (WHERE p.kept_u > 0)
                     <= make_interval(secs => $1::int)
                THEN least(sum(p.taker_buy_u),
                           coalesce(sum(p.kept_u) FILTER (WHERE p.outcome_index = 0), 0),
                           coalesce(sum(p.kept_u) FILTER (WHERE p.outcome_index = 1), 0))
                ELSE 0 END AS hedged_u
      FROM rep_positions p
     WHERE p.event_id = p.market_id
     GROUP BY p.wallet_address, p.market_id
), """
    + _once(HEDGED_CTES, "), hedged AS (", "), neg_risk_hedged AS (")
    + """, hedged AS (
    SELECT wallet_address, sum(hedged_u) AS hedged_u
      FROM (SELECT * FROM binary_sets UNION ALL SELECT * FROM neg_risk_sets) s
     GROUP BY wallet_address
)"""
)

# The UTC days a wallet's judged events resolved on (``resolution_days``, the tiers' units of
# evidence), added the same way: computed apart, as a pass of its own over the positions (an
# exact count, nothing to freeze; a DISTINCT among the frozen sums would have the planner sort
# their rows by day).
_DAYS_APART = (
    (
        "    SELECT p.wallet_address, p.token_id, p.event_id, p.fills,",
        "    SELECT p.wallet_address, p.token_id, p.event_id, p.resolved_at, p.fills,",
    ),
    (
        "), span AS (",
        """), days AS (
    SELECT wallet_address, count(DISTINCT day) AS n
      FROM (SELECT q.wallet_address, floor(extract(epoch FROM max(q.resolved_at)) / 86400) AS day
              FROM dec q
             WHERE q.judged
             GROUP BY q.wallet_address, q.event_id
            HAVING sum(q.stake) > 0) x
     GROUP BY wallet_address
), span AS (""",
    ),
    (
        "       count(*) FILTER (WHERE stake > 0)::float8 AS events,\n",
        "       count(*) FILTER (WHERE stake > 0)::float8 AS events,\n"
        "       coalesce((SELECT days.n FROM days WHERE days.wallet_address = ev.wallet_address),"
        " 0)::float8 AS resolution_days,\n",
    ),
)


# The outcome's variance clustered by those days (``day_var``, ``resid_day_var``,
# ``wins_day_var``: docs/reputation.md "The edge and its posterior"), added the same way, as a
# pass of its own, each float sum in an order of its own making: an event's positions by token
# (as the ordered aggregation adds them), a day's events by event, a wallet's days by their
# first event (as the current statement's window and its sums over the events in (wallet,
# event) order do).
_DAY_VARS_APART = (
    (
        "), span AS (",
        """), day_sums AS (
    SELECT wallet_address,
           sum(dv * dv ORDER BY first_e) AS day_var,
           sum(dr * dr ORDER BY first_e) AS resid_day_var,
           sum(dw * dw ORDER BY first_e) AS wins_day_var
      FROM (SELECT wallet_address, min(e) AS first_e, sum(vo ORDER BY e) AS dv,
                   sum(vo - vc ORDER BY e) AS dr,
                   sum((vo > 0)::int::float8 - least(0.99, greatest(0.01, stake / nullif(x, 0)))
                       ORDER BY e) AS dw
              FROM (SELECT q.wallet_address, q.event_id COLLATE "C" AS e,
                           floor(extract(epoch FROM max(q.resolved_at)) / 86400) AS day,
                           sum(q.vo ORDER BY q.token_id) AS vo, sum(q.vc ORDER BY q.token_id) AS vc,
                           sum(q.stake ORDER BY q.token_id) AS stake,
                           sum(q.x ORDER BY q.token_id) AS x
                      FROM dec q
                     WHERE q.judged
                     GROUP BY q.wallet_address, q.event_id
                    HAVING sum(q.stake) > 0) x
             GROUP BY wallet_address, day) y
     GROUP BY wallet_address
), span AS (""",
    ),
    (
        " 0)::float8 AS resolution_days,\n",
        " 0)::float8 AS resolution_days,\n"
        + "".join(
            f"       coalesce((SELECT d.{c} FROM day_sums d"
            f" WHERE d.wallet_address = ev.wallet_address), 0) AS {c},\n"
            for c in ("day_var", "resid_day_var", "wins_day_var")
        ),
    ),
)


# The covariance of a neg-risk event's legs (docs/reputation.md "The edge and its posterior":
# exactly one leg wins), added to the events' null variance the same way: each position's part
# in YES terms from the ordered positions, the event's sum a^2 - (sum a)^2 where positive.
_LEGS_APART = (
    (
        "           p.exited, p.exit_price,\n",
        "           p.exited, p.exit_price, p.market_id, p.outcome_index, p.kept_u,\n",
    ),
    (
        "END AS nvar_unclosed\n      FROM pos p\n",
        """END AS nvar_unclosed,
           CASE WHEN p.judged AND p.event_id <> p.market_id AND p.kept_u > 0
                THEN p.kept_u::float8 / 1000000 * CASE WHEN p.outcome_index = 0 THEN p.qbar
                                                       ELSE p.qbar - 1 END END AS leg_a
      FROM pos p
""",
    ),
    (
        "sum(p.nvar) AS nvar, sum(p.nvar_unclosed)",
        "sum(p.nvar) + coalesce(greatest(0.0, sum(p.leg_a * p.leg_a)"
        " - sum(p.leg_a) * sum(p.leg_a)), 0.0) AS nvar, sum(p.nvar_unclosed)",
    ),
)


# The closed decisions' closing-line null variance (``close_move_var``, docs/reputation.md "The
# edge and its posterior"), added the same way: a position's term beside ``nvar_unclosed``,
# summed with the event's and the wallet's other sums.
_CLOSE_MOVE_APART = (
    (
        "END AS nvar_unclosed,\n",
        "END AS nvar_unclosed,\n"
        "           CASE WHEN p.judged AND p.close_y IS NOT NULL\n"
        "                THEN p.tb * p.tb * (p.qbar * (1 - p.qbar) - {h} * (1 - {h}))\n"
        "                     + p.short * p.short * (p.qbar * (1 - p.qbar)"
        " - p.close_y * (1 - p.close_y))\n"
        "           END AS nvar_close,\n".format(
            h="(p.exited * p.exit_price + (1.0 - p.exited) * (p.close_y))"
        ),
    ),
    (
        "sum(p.nvar_unclosed) AS nvar_unclosed,",
        "sum(p.nvar_unclosed) AS nvar_unclosed, sum(p.nvar_close) AS nvar_close,",
    ),
    (
        " AS clv_null_var,\n",
        " AS clv_null_var,\n"
        "       coalesce(sum(nvar_close) FILTER (WHERE stake > 0), 0) AS close_move_var,\n",
    ),
)


def _days_apart(sql: str) -> str:
    for old, new in _DAYS_APART + _DAY_VARS_APART + _LEGS_APART + _CLOSE_MOVE_APART:
        sql = _once(sql, old, new)
    return sql


# The statement as rendered on main at eccb9b5 (its SQL fragments included), verbatim, with the
# complete sets' figure added since (``hedged_volume``: :data:`_SETS_APART`), the resolution
# days (:data:`_DAYS_APART`), the variances clustered by them (:data:`_DAY_VARS_APART`) and the
# covariance of a neg-risk event's legs (:data:`_LEGS_APART`).
FROZEN_MAIN = _once(
    _once(
        _once(
            _days_apart((Path(__file__).parent / "wallets_frozen_main.sql").read_text()),
            "WITH adj AS (",
            f"WITH {_SETS_APART}, adj AS (",
        ),
        "       coalesce(min(w.host_own_share), 0.0) AS wash_host_own_share\n",
        "       coalesce(min(w.host_own_share), 0.0) AS wash_host_own_share,\n"
        "       coalesce(min(h.hedged_u), 0)::float8 / 1000000 AS hedged_volume\n",
    ),
    "  LEFT JOIN rep_wash w ON w.wallet_address = ev.wallet_address AND w.token_id IS NULL\n"
    " GROUP BY ev.wallet_address\n",
    "  LEFT JOIN rep_wash w ON w.wallet_address = ev.wallet_address AND w.token_id IS NULL\n"
    "  LEFT JOIN hedged h ON h.wallet_address = ev.wallet_address\n"
    " GROUP BY ev.wallet_address\n",
)


# Its two aggregations fed in a fixed order, and nothing else changed.
# The round trips (session 28: wash_round_trip, the last column), per wallet from its positions
# by market: integer sums, no order to freeze.
FROZEN_MAIN = _once(
    FROZEN_MAIN,
    "       coalesce(min(h.hedged_u), 0)::float8 / 1000000 AS hedged_volume\n",
    "       coalesce(min(h.hedged_u), 0)::float8 / 1000000 AS hedged_volume,\n"
    "       (SELECT coalesce((sum(x.gross) - sum(abs(x.net)))::float8\n"
    "                        / nullif(sum(x.gross), 0)::float8, 0.0)\n"
    "          FROM (SELECT sum(p.shares_u) AS gross,\n"
    "                       sum(CASE WHEN p.outcome_index = 1 THEN -p.net_u ELSE p.net_u END)\n"
    "                           AS net\n"
    "                  FROM rep_positions p WHERE p.wallet_address = ev.wallet_address\n"
    "                 GROUP BY coalesce(p.market_id::text, p.token_id::text)) x)\n"
    "           AS wash_round_trip\n",
)

# The unrealized P&L left out of the columns (session 43): it is computed when read, from the open
# positions and the marks a run keeps (migration 098, orderflow.reputation.unrealized), and the
# stored inputs dropped the two columns; the statement no longer computes them. Every other
# column is compared as before.
FROZEN_MAIN = _once(
    FROZEN_MAIN,
    "       sum(unrealized_u) / 1000000 AS unrealized_pnl,\n"
    "       sum(unrealized_u) AS unrealized_u,  -- kept: the incremental run moves it by a"
    " mark delta\n",
    "",
)

FROZEN_ORDERED = _once(
    _once(
        FROZEN_MAIN,
        "      FROM dec p\n",
        "      FROM (SELECT * FROM dec\n"
        '             ORDER BY wallet_address COLLATE "C", event_id COLLATE "C", token_id) p\n',
    ),
    "  FROM ev\n"
    "  LEFT JOIN rep_wash w ON w.wallet_address = ev.wallet_address AND w.token_id IS NULL\n",
    "  FROM (SELECT ev.*, w AS wash FROM ev\n"
    "          LEFT JOIN rep_wash w\n"
    "            ON w.wallet_address = ev.wallet_address AND w.token_id IS NULL\n"
    '         ORDER BY ev.wallet_address COLLATE "C", ev.event_id COLLATE "C") ev\n',
).replace("min(w.", "min((ev.wash).")


async def prepare(conn: asyncpg.Connection, as_of: datetime) -> None:
    """``rep_positions``, ``rep_close`` and ``rep_wash`` as a full run builds them before its
    wallets statement, from a scan of the trades."""
    await build_evidence(conn, as_of, ReputationSettings())


def _bits(v: Any) -> Any:
    """A value compared to the last bit (a float by its hex form: NaN equals NaN)."""
    return v.hex() if isinstance(v, float) else v


async def wallets(conn: asyncpg.Connection, sql: str) -> dict[str, tuple[Any, ...]]:
    """``rep_wallets`` made by ``sql`` (its $1: the default hedged_leg_window_secs; its $2, if
    any: the neg-risk legs' cut-off, NULL: every stored leg, as a run at the present): each
    wallet's row without ``idx``, floats as bits."""
    await conn.execute("DROP TABLE IF EXISTS rep_wallets")
    params: tuple[Any, ...] = (ReputationSettings().hedged_leg_window_secs,)
    await conn.execute(sql, *params, *((None,) if "$2" in sql else ()))
    rows = await conn.fetch("SELECT * FROM rep_wallets")
    return {r["wallet_address"]: tuple(_bits(v) for k, v in r.items() if k != "idx") for r in rows}


async def columns(conn: asyncpg.Connection) -> list[tuple[str, str, int]]:
    """``rep_wallets``' columns: name, type and collation, in order."""
    rows = await conn.fetch(
        "SELECT attname, atttypid::regtype::text, attcollation::int FROM pg_attribute"
        " WHERE attrelid = 'rep_wallets'::regclass AND attnum > 0 AND NOT attisdropped"
        " ORDER BY attnum"
    )
    return [tuple(r) for r in rows]


async def differing_rows(conn: asyncpg.Connection, a: str, b: str) -> int:
    """Rows of table ``a`` not in ``b`` plus rows of ``b`` not in ``a`` (EXCEPT ALL both ways,
    ``idx`` left out)."""
    names = [
        r[0]
        for r in await conn.fetch(
            "SELECT quote_ident(attname) FROM pg_attribute WHERE attrelid = $1::regclass"
            " AND attnum > 0 AND NOT attisdropped AND attname <> 'idx' ORDER BY attnum",
            a,
        )
    ]
    cols = ", ".join(names)
    return int(
        await conn.fetchval(
            f"""SELECT count(*) FROM ((SELECT {cols} FROM {a} EXCEPT ALL SELECT {cols} FROM {b})
                UNION ALL (SELECT {cols} FROM {b} EXCEPT ALL SELECT {cols} FROM {a})) d"""
        )
    )


def largest_relative_difference(
    a: dict[str, tuple[Any, ...]], b: dict[str, tuple[Any, ...]]
) -> float:
    """The largest |x - y| / max(|x|, |y|) over the float columns of two wallets' rows (other
    columns must be equal); 0.0 when every value is the same."""
    assert a.keys() == b.keys()
    worst = 0.0
    for who, row in a.items():
        for x, y in zip(row, b[who], strict=True):
            if x == y:
                continue
            assert isinstance(x, str) and isinstance(y, str), (who, x, y)
            fx, fy = float.fromhex(x), float.fromhex(y)
            assert not (math.isnan(fx) or math.isnan(fy)), (who, x, y)
            worst = max(worst, abs(fx - fy) / max(abs(fx), abs(fy)))
    return worst
