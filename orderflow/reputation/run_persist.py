"""A live run's writes (:func:`persist`): split from :mod:`orderflow.reputation.run`, which
computes; the same statements in the same order."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

import asyncpg

from orderflow.reputation import persist_sql, stored_inputs, unrealized
from orderflow.reputation.population_step import Population
from orderflow.reputation.settings import ReputationSettings


class Laps(Protocol):
    """The run's stopwatch (seconds per stage)."""

    def lap(self, name: str) -> None: ...


async def persist(
    conn: asyncpg.Connection,
    population: Population,
    settings: ReputationSettings,
    watch: Laps,
    computed_at: datetime,
    *,
    incremental: bool,
    stored: bool,
) -> tuple[int, dict[str, int]]:
    """A live run's writes: the rows, their history, the population they are read against, the
    next incremental run's inputs and the issues; the history rows written and the positions per
    problem."""
    await conn.execute(persist_sql.changed_rows(incremental=incremental), computed_at, computed_at)
    await conn.execute(persist_sql.UPSERT_STATS)
    # the rows of wallets left without fills reset, each with its history row
    reset = await conn.execute(
        persist_sql.reset_without_fills(incremental=incremental), computed_at
    )
    prior = population.prior
    await conn.execute(
        persist_sql.POPULATION,
        prior.mean,
        prior.sd,
        prior.mean_se,
        prior.miss_sd,
        settings.follower_cost,
        settings.factor_z_scale,
        computed_at,
        computed_at,
        prior.skill_share,
        prior.skill_mean,
        prior.skill_sd,
        prior.skill_mean_se,
    )
    watch.lap("upsert")
    await unrealized.save(conn, incremental=incremental)  # what the unrealized P&L is read from
    watch.lap("unrealized")
    history = await conn.execute(persist_sql.history(incremental=incremental), computed_at)
    watch.lap("history")
    if incremental:
        await stored_inputs.mirror(conn)
    else:  # after the upsert: the stored inputs keep the rows' scores as written
        await (
            stored_inputs.save(conn, settings, computed_at)
            if stored
            else stored_inputs.invalidate(conn)
        )
    watch.lap("saved")
    if not incremental:  # the incremental build replaced the dirty tokens' issues
        await conn.execute(persist_sql.CLEAR_ISSUES)
        await conn.execute(persist_sql.ISSUES, computed_at, computed_at)
    # from the issues as now stored (a full run has just rewritten them all): no scan of the
    # positions
    issues = {r["problem"]: r["positions"] for r in await conn.fetch(persist_sql.ISSUE_COUNTS)}
    return int(history.split()[-1]) + int(reset.split()[-1]), issues
