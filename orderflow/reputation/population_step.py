"""The population step of a run: every wallet's inputs out of ``rep_wallets`` by binary COPY,
numpy's scores (:func:`orderflow.reputation.factors.score`) back as ``rep_scores``, and the
``rep_final`` view the run persists."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import asyncpg
import numpy as np

from orderflow.reputation import binary_copy, scores_sql
from orderflow.reputation.factors import TIERS, Prior, Scores, WalletInputs, score
from orderflow.reputation.settings import ReputationSettings, weights


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
    a mark moved their unrealized P&L), no row yet, or a score, tier or flags that differ from
    the row's."""
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


async def population_step(
    conn: asyncpg.Connection,
    settings: ReputationSettings,
    watch: Laps,
    *,
    only_changed: bool = False,
) -> Population:
    """The population step over ``rep_wallets``: ``rep_scores`` and the ``rep_final`` view.
    Rows travel both ways as binary COPY (:mod:`orderflow.reputation.binary_copy`).

    ``only_changed`` (an incremental run: ``rep_changed`` from its build): every wallet is
    scored (the prior is the population's), but ``rep_final`` holds only the wallets whose
    stored row may change (:func:`_may_change`); the upsert would skip the others' rows as
    unchanged."""
    columns = WalletInputs.columns()
    layout = scores_sql.inputs_layout(columns)
    if only_changed:
        layout = (*layout, *scores_sql.STORED_LAYOUT)
    unordered = await binary_copy.read(
        conn, scores_sql.inputs_copy(columns, stored=only_changed), layout
    )
    in_order = np.argsort(unordered["pos"], kind="stable")  # address order (see inputs_copy)
    arrays = {k: v[in_order] for k, v in unordered.items()}
    n = len(arrays["idx"])
    watch.lap("score_inputs")
    result = score(
        WalletInputs(**{c: np.asarray(arrays[c], dtype=np.float64) for c in columns}), settings
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
    # them (not the whole rep_wallets to the stored rows first, then sorted: docs/benchmarks.md)
    await conn.execute("ANALYZE rep_scores (idx)")
    await conn.execute("DROP TABLE rep_scores_in")
    await conn.execute(
        scores_sql.final_view(weights(settings), settings.follower_cost, result.prior)
    )
    watch.lap("score_table")
    return population
