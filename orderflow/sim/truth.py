"""The hidden truth of a simulated run, written beside the logs and read back by the reports.

The chain data shows fills only. This file says what the simulator knew: each wallet's style and
skill, every wash ring, each market's true probability, closing price and how it resolved. The
demo and the backtest use it to judge the reputation score (:mod:`orderflow.sim.quality`);
nothing in the trading path reads it.

``skill`` is the wallet's information edge in probability units, the same scale for every style:
when the wallet forms its view of a market, the view is the public price moved ``skill`` toward
the hidden current probability (at most the whole gap), plus opinion noise independent of the
truth. +0.04 means its view is 4 cents closer to the truth than the market's; 0 knows nothing
the market does not; a negative skill is misinformed. Skill is drawn from one distribution for
every style, so nothing but the edge of its trades reveals it (see docs/simulator.md).

A world with a common factor (``Population.theme_share``) also says which markets belong to the
theme and which side its "up" favours, the factor's draw, and each partisan's lean; those fields
are left out of a file without a theme, so every earlier population's truth file is unchanged.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from orderflow.errors import ConfigError
from orderflow.sim.agents import SKILLED_THRESHOLD, Style
from orderflow.sim.config import SimConfig
from orderflow.sim.population import ThemeFieldsOmitted
from orderflow.sim.world import World


class TruthWallet(ThemeFieldsOmitted):
    model_config = ConfigDict(frozen=True)
    _theme_fields = ("lean",)
    _later_fields = ("leader", "sybil_group")

    address: str
    style: Style
    skill: float = Field(
        description="Information edge in probability units (e.g. 0.04: its view is 4 cents "
        "closer to the truth than the market's). Every wallet has one, market makers included."
    )
    truly_skilled: bool = Field(description=f"skill >= skilled_threshold ({SKILLED_THRESHOLD})")
    bankroll_usdc: int
    activity_per_day: float
    wash_ring: int | None = Field(default=None, description="Its wash ring's number, if any.")
    showcase: bool = Field(
        default=False, description="The ring's showcase wallet (buys winners cheap from partners)."
    )
    lean: int = Field(
        default=0, description="A partisan's side of the theme: +1 its 'up', -1 its 'down'."
    )
    leader: str | None = Field(
        default=None, description="A copier: the wallet whose taker trades it mirrors."
    )
    sybil_group: int | None = Field(
        default=None, description="A sybil wallet: its operator's group (one view per group)."
    )


class TruthMarket(ThemeFieldsOmitted):
    model_config = ConfigDict(frozen=True)
    _theme_fields = ("theme_side",)

    condition_id: str
    question_id: str
    event: int = Field(description="Conditions of one neg-risk event share this number.")
    neg_risk: bool
    true_probability: float = Field(description="Hidden P(YES) the outcome was drawn from.")
    payout_numerators: tuple[int, int]
    token_ids: tuple[str, str] = Field(description="YES, NO token ids (decimal strings).")
    created_at: datetime
    resolves_at: datetime
    resolved_in_run: bool
    close_price: float = Field(
        description="Last traded YES price before resolution (or before the end of the run)."
    )
    theme_side: int = Field(
        default=-1, description="A theme market: the outcome the factor's 'up' favours; else -1."
    )


class WashRing(BaseModel):
    model_config = ConfigDict(frozen=True)

    ring: int
    wallets: list[str]
    showcase: str | None = None


class Truth(ThemeFieldsOmitted):
    model_config = ConfigDict(frozen=True)
    _theme_fields = ("theme_factor",)

    config: SimConfig
    skilled_threshold: float = SKILLED_THRESHOLD
    wallets: list[TruthWallet]
    markets: list[TruthMarket]
    wash_rings: list[WashRing] = Field(default_factory=list)
    theme_factor: float | None = Field(
        default=None, description="The common factor's draw (> 0: the 'up' side won mostly)."
    )

    def wallet_map(self) -> dict[str, TruthWallet]:
        return {w.address: w for w in self.wallets}


def truth_of(world: World) -> Truth:
    end = world.config.start_time.timestamp() + world.config.days * 86_400
    return Truth(
        config=world.config,
        wallets=[
            TruthWallet(
                address=w.address,
                style=w.style,
                skill=round(w.skill, 6),
                truly_skilled=w.skill >= SKILLED_THRESHOLD,
                bankroll_usdc=w.bankroll // 1_000_000,
                activity_per_day=round(w.activity, 6),
                wash_ring=w.wash_ring,
                showcase=w.showcase,
                lean=w.lean,
                leader=None if w.leader is None else world.wallets[w.leader].address,
                sybil_group=w.sybil,
            )
            for w in world.wallets
        ],
        markets=[
            TruthMarket(
                condition_id=c.condition_id,
                question_id=c.question_id,
                event=c.event,
                neg_risk=c.neg_risk,
                true_probability=round(c.true_p, 6),
                payout_numerators=c.payouts,
                token_ids=(str(c.token_ids[0]), str(c.token_ids[1])),
                created_at=datetime.fromtimestamp(int(c.created_at), tz=UTC),
                resolves_at=datetime.fromtimestamp(int(c.resolves_at), tz=UTC),
                resolved_in_run=c.resolves_at <= end,
                close_price=c.close_price(min(end, c.resolves_at)),
                theme_side=c.theme_side,
            )
            for c in world.conditions
        ],
        wash_rings=[
            WashRing(
                ring=r.ring,
                wallets=[world.wallets[i].address for i in r.members],
                showcase=None if r.showcase is None else world.wallets[r.showcase].address,
            )
            for r in world.rings
        ],
        theme_factor=None if world.theme is None else round(world.theme.factor, 6),
    )


def population_summary(truth: Truth) -> str:
    """One line: wallets per style, how many are truly skilled, the wash rings."""
    counts: dict[str, list[int]] = {}
    for w in truth.wallets:
        n = counts.setdefault(w.style, [0, 0])
        n[0] += 1
        n[1] += w.truly_skilled
    styles = ", ".join(
        f"{n} {style} ({k} skilled)" if k else f"{n} {style}"
        for style, (n, k) in sorted(counts.items(), key=lambda kv: -kv[1][0])
    )
    showcases = sum(r.showcase is not None for r in truth.wash_rings)
    skilled = sum(w.truly_skilled for w in truth.wallets)
    return (
        f"{len(truth.wallets)} wallets: {styles}; {skilled} truly skilled "
        f"(skill >= {truth.skilled_threshold}); {len(truth.wash_rings)} wash rings "
        f"({showcases} with a showcase wallet)"
    )


def write_truth(truth: Truth, path: Path) -> None:
    path.write_text(truth.model_dump_json(indent=1) + "\n", encoding="utf-8")


def read_truth(path: Path) -> Truth:
    """Load a truth file, with a ConfigError naming the file when it is missing or malformed."""
    try:
        return Truth.model_validate_json(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"--truth {path}: cannot read: {exc.strerror}") from None
    except ValidationError as exc:
        raise ConfigError(
            f"--truth {path}: not a simulator truth file ({exc.error_count()} "
            f"problems, first: {exc.errors()[0]['msg']})"
        ) from None
