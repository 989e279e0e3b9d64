"""The wallet tables' shared cells, for the console and the HTML report alike.

Each wallet's edge is shown twice: the posterior (what the tiers read) and, beside it, the
record's own measured edge with its standard error, before shrinkage — both as the score keeps
them in its factors JSON (:mod:`orderflow.reputation.posterior_block`), nothing recomputed here.
Under the table, one line on the population prior the records were shrunk toward, and what it
means when its spread sits at its floor.
"""

from __future__ import annotations

from collections.abc import Sequence

from orderflow.demo.pipeline import DemoResult
from orderflow.reputation import WalletScore
from orderflow.reputation.posterior_block import posterior_block, spread_at_floor
from orderflow.reputation.prior import Prior
from orderflow.sim import Truth

TOP_WALLETS = 15

EDGE_HEAD = ["posterior edge", "posterior sd", "measured edge", "measured se"]
WALLET_HEAD = [
    "wallet",
    "tier",
    "score",
    "resolved",
    "wins",
    *EDGE_HEAD,
    "hidden style",
    "hidden skill",
]


def _f(value: float | None, fmt: str) -> str:
    return "-" if value is None else format(value, fmt)


def edge_cells(
    edge: float | None, sd: float | None, measured: float | None, measured_se: float | None
) -> list[str]:
    """The posterior and the measured edge, each with its spread (EDGE_HEAD's columns)."""
    return [_f(edge, "+.3f"), _f(sd, ".3f"), _f(measured, "+.3f"), _f(measured_se, ".3f")]


def top_wallets(result: DemoResult, n: int = TOP_WALLETS) -> list[WalletScore]:
    return sorted(result.scores.values(), key=lambda s: (-s.score, s.wallet_address))[:n]


def wallet_rows(wallets: Sequence[WalletScore], truth: Truth) -> list[list[str]]:
    """WALLET_HEAD's cells for each wallet: the score's figures, the truth file's beside them."""
    tw = truth.wallet_map()
    rows = []
    for s in wallets:
        t = tw.get(s.wallet_address)
        post = posterior_block(s.factors)
        rows.append(
            [
                s.wallet_address,
                s.tier,
                f"{s.score:.2f}",
                str(s.resolved_positions),
                str(s.wins),
                *edge_cells(post.edge, post.sd, post.measured, post.measured_se),
                "?" if t is None else t.style,
                "-" if t is None or t.skill is None else f"{t.skill:.2f}",
            ]
        )
    return rows


def prior_line(prior: Prior | None, floor: float) -> str:
    """The population prior the posteriors were shrunk toward, and what it means."""
    if prior is None:
        return "Population prior: not estimated (no run kept one)."
    head = f"Population prior {prior.mean:+.3f} ± {prior.sd:.3f}"
    if spread_at_floor(prior, floor):
        return (
            f"{head}: its spread is at its floor ({floor:g}), so every record shrinks to the "
            "population's mean: the data cannot tell these wallets apart yet (the measured edge "
            "± se is each record's own, before shrinkage)."
        )
    tail = (
        f" and a skill tail of {prior.skill_share:.1%} at {prior.skill_mean:+.3f} ± "
        f"{prior.skill_sd:.3f}"
        if prior.skill_share > 0
        else ""
    )
    return (
        f"{head}{tail}: each posterior is the record's measured edge shrunk toward it, the more "
        "the larger the record's standard error."
    )
