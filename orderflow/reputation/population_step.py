"""The population step of a run: every wallet's inputs out of ``rep_wallets`` (or an incremental
run's stored inputs) by binary COPY, numpy's scores (:func:`orderflow.reputation.factors.score`)
back as ``rep_scores``, and the ``rep_final`` view the run persists."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import asyncpg
import numpy as np

from orderflow.reputation import binary_copy, copy_sql, scores_sql
from orderflow.reputation.factors import Scores, score
from orderflow.reputation.flags import copier_rows
from orderflow.reputation.prior import Prior
from orderflow.reputation.settings import ReputationSettings, weights
from orderflow.reputation.tiers import TIERS
from orderflow.reputation.wallet_inputs import WalletInputs


class Laps(Protocol):
    def lap(self, name: str) -> None: ...


def _finite_or_nan(values: np.ndarray[Any, Any]) -> np.ndarray[Any, np.dtype[np.float64]]:
    return np.where(np.isfinite(values), values, np.nan).astype(np.float64)


# rep_scores column -> Scores attribute where the names differ.
_SCORE_ATTRS = {
    "f_win": "win_rate",
    "f_pf": "profit_factor",
    "f_cons": "consistency",
    "f_vol": "volume",
    "f_timing": "timing",
}


@dataclass(frozen=True, slots=True)
class Population:
    """What the population step found besides ``rep_final``."""

    wallets: int  # every wallet scored
    prior: Prior
    tiers: dict[str, int]  # wallets per tier, every wallet
    sent: int  # rows in rep_final (every wallet, or those an incremental run may change)


def _may_change(arrays: dict[str, Any], result: Scores) -> np.ndarray[Any, np.dtype[np.bool_]]:
    """The wallets whose stored row an incremental run may change: inputs changed (rescored, or
    the row written by something else), no row yet, or a score, tier or flags that differ from
    the row's (a mark that moved changes no row: the unrealized P&L is computed when read)."""
    stored = arrays["stored_score"]
    with np.errstate(invalid="ignore"):
        moved = ~(np.abs(result.score - stored) < 0.005)  # both on the 0.01 grid; NaN: no row
    return np.asarray(
        (arrays["changed"] != 0)
        | moved
        | (result.tier != arrays["stored_tier"])
        | (result.flags != arrays["stored_flags"]),
        dtype=np.bool_,
    )


def _places(
    idx: np.ndarray[Any, Any], wanted: np.ndarray[Any, Any]
) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, np.dtype[np.bool_]]]:
    """The places in the arrays (``idx`` their ``idx``) of the ``wanted`` idx values found among
    them, and which of ``wanted`` were found."""
    sorter = np.argsort(idx, kind="stable")
    at = np.minimum(np.searchsorted(idx, wanted, sorter=sorter), idx.size - 1)
    found = idx[sorter[at]] == wanted
    return sorter[at[found]], found


def _host_places(idx: np.ndarray[Any, Any], host: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """``wash_host`` as read (the host's ``idx``, NaN: none) turned into the host's place in the
    arrays (NaN: none, or a host not among them)."""
    places = np.full(host.shape, np.nan)
    has = np.flatnonzero(np.isfinite(host))
    if has.size == 0:
        return places
    at, found = _places(idx, host[has].astype(np.int64))
    places[has[found]] = at
    return places


async def _set_apart(
    conn: asyncpg.Connection, wallets: str, arrays: dict[str, Any], *, stored: bool
) -> None:
    """The columns the COPY sends blank (:func:`orderflow.reputation.scores_sql.inputs_copy`):
    ``wash_host`` (the host's ``idx``, NaN: none) from the few wallets with one, and for the
    stored inputs ``changed`` from ``rep_changed``."""
    idx = np.asarray(arrays["idx"])
    if idx.size == 0:
        return
    rows = await conn.fetch(scores_sql.hosts(wallets))
    if rows:
        pairs = np.array([tuple(r) for r in rows], dtype=np.int64).reshape(len(rows), 2)
        at, found = _places(idx, pairs[:, 0])
        arrays["wash_host"][at] = pairs[found, 1]
    if stored:
        rows = await conn.fetch(scores_sql.changed(wallets))
        if rows:
            at, _ = _places(idx, np.array([r[0] for r in rows], dtype=np.int64))
            arrays["changed"][at] = 1


async def _copying(
    conn: asyncpg.Connection, wallets: str, idx: np.ndarray[Any, Any], s: ReputationSettings
) -> np.ndarray[Any, np.dtype[np.bool_]]:
    """The wallets (by place in the arrays, ``idx`` their ``idx``) whose buys trail a leader's:
    :mod:`orderflow.reputation.copy_sql`'s rows judged by the COPIER rule."""
    out = np.zeros(idx.shape, dtype=bool)
    rows = await conn.fetch(copy_sql.copy_rows(wallets))
    if not rows or idx.size == 0:
        return out
    cols = np.array([tuple(r) for r in rows], dtype=np.int64).reshape(len(rows), 5)
    copies = copier_rows(cols[:, 0], cols[:, 1], cols[:, 2], cols[:, 3], cols[:, 4], s)
    if not copies.any():
        return out
    at, _ = _places(idx, cols[copies, 0])
    out[at] = True
    return out


async def population_step(
    conn: asyncpg.Connection,
    settings: ReputationSettings,
    watch: Laps,
    *,
    only_changed: bool = False,
    wallets: str = "rep_wallets",
) -> Population:
    """The population step over ``wallets``: ``rep_scores`` and the ``rep_final`` view. Rows
    travel both ways as binary COPY (:mod:`orderflow.reputation.binary_copy`), in no order
    (the step's figures do not depend on it).

    ``only_changed`` (an incremental run: ``wallets`` its stored inputs, with the stored rows'
    score, tier and flags, and ``rep_changed`` from its build): every wallet is scored (the prior
    is the population's), but ``rep_final`` holds only the wallets whose stored row may change
    (:func:`_may_change`); the upsert would skip the others' rows as unchanged."""
    columns = WalletInputs.columns()
    layout = scores_sql.inputs_layout(columns, stored=only_changed)
    arrays = await binary_copy.read(
        conn, scores_sql.inputs_copy(columns, wallets, stored=only_changed), layout
    )
    if only_changed:  # the stored inputs' packed column, one array per input
        inputs = arrays.pop(scores_sql.PACKED_COLUMN)
        arrays.update(zip(scores_sql.packed_columns(columns), inputs.T, strict=True))
    await _set_apart(conn, wallets, arrays, stored=only_changed)
    arrays["wash_host"] = _host_places(arrays["idx"], arrays["wash_host"])
    n = len(arrays["idx"])
    copying = await _copying(conn, wallets, np.asarray(arrays["idx"]), settings)
    watch.lap("score_inputs")
    result = score(
        WalletInputs(**{c: np.asarray(arrays[c], dtype=np.float64) for c in columns}),
        settings,
        copying=copying,
    )
    watch.lap("score")
    values: dict[str, Any] = {
        c: _finite_or_nan(getattr(result, _SCORE_ATTRS.get(c, c))) for c in scores_sql.SCORE_COLUMNS
    }
    values.update(idx=arrays["idx"], tier=result.tier, flags=result.flags)
    if only_changed:
        send = _may_change(arrays, result)
        values = {k: np.asarray(v)[send] for k, v in values.items()}
    tiers = np.bincount(result.tier.astype(np.intp), minlength=len(TIERS))
    population = Population(
        wallets=n,
        prior=result.prior,
        tiers={t: int(c) for t, c in zip(TIERS, tiers.tolist(), strict=True) if c},
        sent=len(values["idx"]),
    )
    await conn.execute(scores_sql.SCORES_IN)
    await binary_copy.write(conn, "rep_scores_in", scores_sql.SCORES_IN_COLUMNS, values)
    await conn.execute(scores_sql.SCORES_TABLE)
    # its size for the planner: after an incremental run's few rows, rep_final is joined from
    # them (not every wallet's row to the stored rows first, then sorted: docs/benchmarks.md)
    await conn.execute("ANALYZE rep_scores (idx)")
    await conn.execute("DROP TABLE rep_scores_in")
    await conn.execute(
        scores_sql.final_view(weights(settings), settings.follower_cost, result.prior, wallets)
    )
    watch.lap("score_table")
    return population
