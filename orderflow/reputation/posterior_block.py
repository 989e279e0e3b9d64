"""The posterior block of a wallet's factors JSON, typed: the posterior and the record before it.

Every factors JSON carries a ``posterior`` block (:func:`orderflow.reputation.explain.factors_json`
for one wallet's replay, ``orderflow_factors()`` for a stored row as read, migrations 020 and
022, and the factors of :func:`orderflow.reputation.compute_scores`): the posterior mean and sd of
the wallet's edge, its own measured edge and that measurement's standard error (the record
before shrinkage), and the population prior it was shrunk toward. A reader that shows those
figures takes them from here, never recomputes them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict

from orderflow.reputation.prior import Prior


class PosteriorBlock(BaseModel):
    """A wallet's edge as its score holds it (None: not in the JSON)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    edge: float | None = None  # posterior mean fee-net edge per dollar on taker decisions
    sd: float | None = None  # posterior sd
    measured: float | None = None  # the record's own estimate, before shrinkage
    measured_se: float | None = None  # its standard error
    prior_mean: float | None = None
    prior_sd: float | None = None


def posterior_of(factors: Any) -> Mapping[str, Any]:
    """The ``posterior`` block of a factors JSON (a mapping or its text) as it stands; empty when
    there is none."""
    if isinstance(factors, str):
        factors = json.loads(factors)
    if not isinstance(factors, Mapping):
        return {}
    posterior = factors.get("posterior")
    return posterior if isinstance(posterior, Mapping) else {}


def posterior_block(factors: Mapping[str, Any] | str | None) -> PosteriorBlock:
    """The ``posterior`` block of a factors JSON (a mapping or its text; None: an empty block)."""
    return PosteriorBlock.model_validate(posterior_of(factors))


def spread_at_floor(prior: Prior, floor: float) -> bool:
    """Whether the prior shrinks every record to its mean: the bulk's spread at its floor
    (``prior_sd_floor``: the data measured no spread of true edges beyond their noise) and no
    skill tail beside it. Then every posterior is the population's mean, whatever the record."""
    return prior.skill_share <= 0 and prior.sd <= floor * (1 + 1e-6)
