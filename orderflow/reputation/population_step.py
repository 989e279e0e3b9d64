"""The population step of a run: every wallet's inputs out of ``rep_wallets`` (or an incremental
run's stored inputs) by binary COPY, numpy's scores (:func:`orderflow.reputation.factors.score`)
back as ``rep_scores``, and the ``rep_final`` view the run persists."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import asyncpg
import numpy as np

from orderflow.reputation import binary_copy, copy_sql, scores_sql
from orderflow.reputation.factors import Judged, judge, scores
from orderflow.reputation.flags import copier_rows
from orderflow.reputation.prior import Prior
from orderflow.reputation.settings import ReputationSettings, weights
from orderflow.reputation.standing import Own, Standing, join, own, take
from orderflow.reputation.tiers import TIERS
from orderflow.reputation.wallet_inputs import WalletInputs

Array = np.ndarray[Any, np.dtype[np.float64]]


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


def _may_change(
    changed: np.ndarray[Any, np.dtype[np.bool_]], arrays: dict[str, Any], result: Judged
) -> np.ndarray[Any, np.dtype[np.bool_]]:
    """The wallets whose stored row an incremental run may change: inputs changed (rescored, or
    the row written by something else), no row yet, or a score, tier or flags that differ from
    the row's (a mark that moved changes no row: the unrealized P&L is computed when read)."""
    stored = arrays["stored_score"]
    with np.errstate(invalid="ignore"):
        moved = ~(np.abs(result.score - stored) < 0.005)  # both on the 0.01 grid; NaN: no row
    return np.asarray(
        changed
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


async def _hosts(conn: asyncpg.Connection, wallets: str, idx: np.ndarray[Any, Any]) -> Array:
    """``wash_host`` (the host's place in the arrays, ``idx`` their ``idx``; NaN: none) from
    the few wallets with one (:func:`orderflow.reputation.scores_sql.hosts`)."""
    host = np.full(idx.shape, np.nan)
    rows = await conn.fetch(scores_sql.hosts(wallets)) if idx.size else []
    if rows:
        pairs = np.array([tuple(r) for r in rows], dtype=np.int64).reshape(len(rows), 2)
        at, found = _places(idx, pairs[:, 0])
        host[at] = pairs[found, 1]
    return _host_places(idx, host)


def _inputs(arrays: dict[str, Any], columns: tuple[str, ...]) -> WalletInputs:
    """The inputs of :func:`orderflow.reputation.scores_sql.stored_copy`'s rows (its packed
    column, one array per input; no wash host: a wallet's own figures do not read it)."""
    packed = arrays[scores_sql.PACKED_COLUMN]
    values = dict(zip(scores_sql.packed_columns(columns), packed.T, strict=True))
    values["wash_host"] = np.full(len(packed), np.nan)
    return WalletInputs(**{c: np.ascontiguousarray(values[c], dtype=np.float64) for c in columns})


async def _stored_own(
    conn: asyncpg.Connection, wallets: str, s: ReputationSettings, where: str, *args: object
) -> tuple[np.ndarray[Any, Any], Own]:
    """The ``idx`` and own figures of the stored inputs' rows ``where`` picks."""
    columns = WalletInputs.columns()
    arrays = await binary_copy.read(
        conn, scores_sql.stored_copy(wallets, where), scores_sql.stored_layout(columns), *args
    )
    return np.asarray(arrays["idx"]), own(_inputs(arrays, columns), s)


async def _write_standing(
    conn: asyncpg.Connection, idx: np.ndarray[Any, Any], standing: Standing
) -> None:
    """These wallets' standings (by ``idx``) into a new ``rep_standing``."""
    await conn.execute(scores_sql.STANDING_IN)
    await binary_copy.write(
        conn,
        "rep_standing",
        scores_sql.STANDING_LAYOUT,
        {"idx": idx, "standing": standing.matrix()},
    )


async def _refresh(
    conn: asyncpg.Connection, wallets: str, s: ReputationSettings
) -> tuple[np.ndarray[Any, Any], Own]:
    """An incremental run's standings (:data:`orderflow.reputation.scores_sql.STANDING`) of
    the wallets of ``rep_changed`` (inputs replaced, or stored row written by something else)
    computed from their stored inputs and written: every standing is then its wallet's."""
    idx, figures = await _stored_own(
        conn, wallets, s, "w.wallet_address IN (SELECT wallet_address FROM rep_changed)"
    )
    await _write_standing(conn, idx, figures.standing)
    await conn.execute(scores_sql.STANDING_UPSERT)
    await conn.execute("DROP TABLE rep_standing")
    return idx, figures


async def _sent_own(
    conn: asyncpg.Connection,
    wallets: str,
    s: ReputationSettings,
    idx: np.ndarray[Any, Any],
    send: np.ndarray[Any, np.dtype[np.bool_]],
    changed: tuple[np.ndarray[Any, Any], Own],
) -> tuple[np.ndarray[Any, Any], Own]:
    """The places in the arrays of the rows an incremental run sends and their own figures:
    the changed wallets' as just computed, the others' (whose score, tier or flags moved) from
    their stored inputs."""
    changed_idx, changed_own = changed
    at, found = _places(idx, changed_idx)
    assert found.all(), "a changed wallet without its standing"
    others = np.flatnonzero(send)
    others = others[~np.isin(idx[others], changed_idx)]
    if others.size == 0:
        return at, changed_own
    moved_idx, moved_own = await _stored_own(
        conn, wallets, s, "w.idx = ANY($1::int4[])", idx[others].tolist()
    )
    moved_at, _ = _places(idx, moved_idx)
    return np.concatenate([at, moved_at]), join(changed_own, moved_own)


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


async def _read(
    conn: asyncpg.Connection, wallets: str, s: ReputationSettings, *, only_changed: bool
) -> tuple[dict[str, Any], Standing, Own | tuple[np.ndarray[Any, Any], Own]]:
    """Every wallet's ``idx`` and standing (an incremental run: with its stored row's score,
    tier and flags), and the own figures computed: every wallet's, or (an incremental run) the
    changed wallets' with their ``idx``."""
    if only_changed:
        changed = await _refresh(conn, wallets, s)
        arrays = await binary_copy.read(
            conn, scores_sql.STANDING_COPY, (*scores_sql.STANDING_LAYOUT, *scores_sql.STORED_LAYOUT)
        )
        return arrays, Standing.of_matrix(arrays.pop("standing")), changed
    columns = WalletInputs.columns()
    arrays = await binary_copy.read(
        conn, scores_sql.inputs_copy(columns, wallets), scores_sql.inputs_layout(columns)
    )
    figures = own(WalletInputs(**{c: np.asarray(arrays[c], np.float64) for c in columns}), s)
    return {"idx": arrays["idx"]}, figures.standing, figures


async def population_step(
    conn: asyncpg.Connection,
    settings: ReputationSettings,
    watch: Laps,
    *,
    only_changed: bool = False,
    wallets: str = "rep_wallets",
    keep_standing: bool = False,
) -> Population:
    """The population step over ``wallets``: ``rep_scores`` and the ``rep_final`` view. Rows
    travel both ways as binary COPY (:mod:`orderflow.reputation.binary_copy`), in no order
    (the step's figures do not depend on it). Each wallet's own figures
    (:func:`orderflow.reputation.standing.own`), then the population's judgement of every
    wallet (:func:`orderflow.reputation.factors.judge`: the prior is the population's).

    ``only_changed`` (an incremental run: ``wallets`` its stored inputs, ``rep_changed`` from
    its build): the own figures of the changed wallets only, from their stored inputs, written
    to their standings (:data:`orderflow.reputation.scores_sql.STANDING`); every wallet judged
    from its standing; ``rep_final`` holds only the wallets whose stored row may change
    (:func:`_may_change`; the upsert would skip the others' rows as unchanged), their own
    figures computed again from their stored inputs where they did not change.
    ``keep_standing`` (a full run that keeps its inputs for the incremental runs): every
    wallet's standing in ``rep_standing`` as well (orderflow.reputation.stored_inputs.save)."""
    arrays, standing, figures = await _read(conn, wallets, settings, only_changed=only_changed)
    idx = np.asarray(arrays["idx"])
    host = await _hosts(conn, wallets, idx)
    copying = await _copying(conn, wallets, idx, settings)
    watch.lap("score_inputs")
    judged = judge(standing, host, settings, copying=copying)
    if isinstance(figures, tuple):
        send = _may_change(np.isin(idx, figures[0]), arrays, judged)
        at, sent_own = await _sent_own(conn, wallets, settings, idx, send, figures)
        result = scores(sent_own, take(at, judged))
        sent_idx = idx[at]
    else:
        result, sent_idx = scores(figures, judged), idx
    watch.lap("score")
    values: dict[str, Any] = {
        c: _finite_or_nan(getattr(result, _SCORE_ATTRS.get(c, c))) for c in scores_sql.SCORE_COLUMNS
    }
    values.update(idx=sent_idx, tier=result.tier, flags=result.flags)
    tiers = np.bincount(judged.tier.astype(np.intp), minlength=len(TIERS))
    population = Population(
        wallets=idx.size,
        prior=judged.prior,
        tiers={t: int(c) for t, c in zip(TIERS, tiers.tolist(), strict=True) if c},
        sent=len(sent_idx),
    )
    await conn.execute(scores_sql.SCORES_IN)
    await binary_copy.write(conn, "rep_scores_in", scores_sql.SCORES_IN_COLUMNS, values)
    await conn.execute(scores_sql.SCORES_TABLE)
    # its size for the planner: after an incremental run's few rows, rep_final is joined from
    # them (not every wallet's row to the stored rows first, then sorted: docs/benchmarks.md)
    await conn.execute("ANALYZE rep_scores (idx)")
    await conn.execute("DROP TABLE rep_scores_in")
    if keep_standing:
        await _write_standing(conn, idx, standing)
    await conn.execute(
        scores_sql.final_view(weights(settings), settings.follower_cost, judged.prior, wallets)
    )
    watch.lap("score_table")
    return population
