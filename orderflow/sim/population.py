"""Population: the mix of simulated wallets, to score worlds the score was not tuned on.

The defaults are the simulator's own population (docs/simulator.md): every field left at its
default gives the same bytes as before the knob existed. Each field changes one plausible
feature of a real market: more or fewer wallets of a style, penny pickers at dearer favourites,
lucky wallets with a few large bets, smaller or larger skill, market makers that also take
directional positions, wash pairs or larger rings, showcase trades at the market's price rather
than at 0.50, complete-set arbitrageurs (none unless ``shares`` names them), a common factor
(a theme of standard markets whose outcomes share one latent draw) and partisans who always buy
one side of it (none unless ``theme_share`` and ``shares`` name them). Style and skill stay
independent unless ``skilled_activity`` says otherwise.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    model_serializer,
    model_validator,
)

TakerStyle = Literal[
    "retail",
    "whale",
    "panic_seller",
    "penny_picker",
    "lucky",
    "wash",
    "arbitrageur",
    "partisan",
    "copier",
    "late_buyer",
    "leg_trader",
    "lucky_whale",
]
Range = tuple[float, float]


def _listed(value: object) -> object:
    """A tuple default as a JSON dump writes it (a list); anything else as it is."""
    return list(value) if isinstance(value, tuple) else value


class ThemeFieldsOmitted(BaseModel):
    """Dumps without ``_theme_fields`` while the first of them holds its default (no common
    factor), and without any of ``_later_fields`` that holds its default: a population, truth
    file or wallet dumps as it did before the knobs it does not use existed, byte for byte."""

    _theme_fields: ClassVar[tuple[str, ...]] = ()
    _later_fields: ClassVar[tuple[str, ...]] = ()

    @model_serializer(mode="wrap")
    def _dump(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        out: dict[str, Any] = handler(self)
        fields = type(self).model_fields
        first = self._theme_fields[:1]
        if first and out.get(first[0]) == fields[first[0]].default:
            for name in self._theme_fields:
                out.pop(name, None)
        for name in self._later_fields:
            default = fields[name].default
            if name in out and out[name] in (default, _listed(default)):
                out.pop(name)
        return out


class Population(ThemeFieldsOmitted):
    """The mix of wallets and how the trap archetypes behave."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    _theme_fields = ("theme_share", "theme_correlation")
    _later_fields = ("theme_window_hours", "late_skill", "sybil_groups", "copy_list")

    shares: dict[TakerStyle, float] = Field(
        default_factory=dict,
        description="Share of the trading wallets per style, replacing the defaults "
        "(agents.PROFILES) for the styles named; shortfalls are filled with retail.",
    )
    penny_prices: Range | None = Field(
        default=None, description="Prices penny pickers buy at (default 0.95-0.99)."
    )
    penny_activity: Range | None = Field(
        default=None, description="Penny pickers' decisions per day (default 2-8)."
    )
    lucky_activity: Range | None = Field(
        default=None, description="Lucky wallets' decisions per day (default 0.05-0.25)."
    )
    lucky_bet: Range | None = Field(
        default=None, description="Lucky wallets' stake, a share of the bankroll (0.15-0.40)."
    )
    skilled_share: float = Field(
        default=0.05, ge=0, le=1, description="Share of every style drawn skilled."
    )
    skilled_range: Range = Field(
        default=(0.03, 0.10), description="Skill of the skilled, uniform (probability units)."
    )
    skilled_activity: float = Field(
        default=1.0,
        gt=0,
        description="Decisions per day of a truly skilled taker, times its style's (1: style "
        "and skill independent; 3: the skilled trade three times as often).",
    )
    maker_activity: Range = Field(
        default=(0.0, 0.0),
        description="Market makers' own taker decisions per day (directional bets besides "
        "their quotes; default none).",
    )
    maker_bet: Range = Field(
        default=(0.0005, 0.003),
        description="A market maker's directional stake, a share of its 2M USDC bankroll.",
    )
    ring_size: tuple[int, int] = Field(
        default=(3, 5), description="Members of a wash ring, drawn uniformly (2 = pairs)."
    )
    showcase_price: Literal["half", "market"] = Field(
        default="half",
        description="half: the showcase buys favourites at 0.50 (off-market); market: at the "
        "book's price (a staged record of favourites that looks like a penny picker's).",
    )

    theme_share: float = Field(
        default=0.0,
        ge=0,
        le=1,
        description="Share of the standard (non-neg-risk) markets that belong to one theme "
        "whose outcomes share one latent factor (a one-factor Gaussian copula: each market's "
        "own P(YES) unchanged) and that resolve within a few hours of each other (default "
        "none).",
    )
    theme_correlation: float = Field(
        default=0.9,
        ge=0,
        lt=1,
        description="Correlation of the theme markets' latent draws with the factor (0.9: "
        "nearly every theme market resolves the way the factor went).",
    )
    theme_window_hours: float = Field(
        default=6.0,
        gt=0,
        le=24 * 90,
        description="The theme's markets resolve at uniform times within this many hours after "
        "the factor is revealed (6: at once, one night's count; 336: an election's races "
        "called over two weeks).",
    )

    late_skill: Range | None = Field(
        default=None,
        description="Late buyers' skill, uniform (probability units): (0.2, 0.5) makes them "
        "insiders who know the outcome's direction hours before it is called; default: the "
        "skill every style draws.",
    )
    sybil_groups: tuple[int, int] = Field(
        default=(0, 0),
        description="Skilled operators each split over sybil wallets: (operators, wallets "
        "each). A group's retail wallets share one skill from skilled_range and one opinion "
        "of every market (default none).",
    )

    copy_list: int = Field(
        default=1,
        ge=1,
        description="How many leaders each copier mirrors (a copy service polling a list of "
        "wallets): its own leader and the next ones of the skilled takers, then of the retail "
        "wallets; default one.",
    )

    def share(self, style: str, default: float) -> float:
        """The share of ``style``: the one named here, else ``default``."""
        return next((v for k, v in self.shares.items() if k == style), default)

    @model_validator(mode="after")
    def _check(self) -> Self:
        for name in (
            "penny_prices",
            "penny_activity",
            "lucky_activity",
            "lucky_bet",
            "skilled_range",
            "late_skill",
        ):
            r = getattr(self, name)
            if r is not None and not 0 <= r[0] <= r[1]:
                raise ValueError(f"{name} must be a range low <= high, both >= 0")
        if not 2 <= self.ring_size[0] <= self.ring_size[1]:
            raise ValueError("ring_size must be a range of at least 2 members")
        if sum(self.shares.values()) > 1:
            raise ValueError("shares must sum to at most 1")
        if min(self.sybil_groups) < 0 or (min(self.sybil_groups) == 0 < max(self.sybil_groups)):
            raise ValueError("sybil_groups must be (0, 0) or (operators >= 1, wallets >= 1)")
        if self.shares.get("partisan", 0) > 0 and self.theme_share == 0:
            raise ValueError("partisans need a theme: set theme_share above 0")
        return self


# Populations that differ from the default in plausible ways (docs/reputation.md "Populations
# the score was not tuned on"): the score is measured on each, seed after seed.
VARIANTS: dict[str, Population] = {
    "default": Population(),
    "penny_pickers_0.97": Population(
        shares={"penny_picker": 0.2}, penny_prices=(0.97, 0.99), penny_activity=(4.0, 12.0)
    ),
    "makers_directional": Population(maker_activity=(2.0, 8.0)),
    "wash_pairs_at_market": Population(
        shares={"wash": 0.25}, ring_size=(2, 2), showcase_price="market"
    ),
    "wash_rings_of_5_at_market": Population(ring_size=(5, 5), showcase_price="market"),
    "lucky_few_big_bets": Population(
        shares={"lucky": 0.25}, lucky_activity=(0.02, 0.1), lucky_bet=(0.5, 0.9)
    ),
    "skilled_small_edge_busy": Population(
        skilled_share=0.03, skilled_range=(0.03, 0.05), skilled_activity=3.0
    ),
    "skilled_strong": Population(skilled_range=(0.08, 0.2)),
    # a market where skill pays: 15 % of every style skilled at 0.10-0.20, trading twice as often
    # (a positive control: the top tiers must find them, and still no trap)
    "skilled_many_strong": Population(
        skilled_share=0.15, skilled_range=(0.1, 0.2), skilled_activity=2.0
    ),
    # complete-set arbitrageurs: 10 % of the wallets buy every outcome of a market when the asks
    # (fees included) sum to at most its payout, and hold to resolution
    "arbitrageurs": Population(shares={"arbitrageur": 0.1}),
    # a common factor: 70 % of the standard markets are one theme (one party's races, one
    # crypto rally) resolving together the way one latent draw went; 10 % of the wallets are
    # partisans, half leaning each way, buying their side of every theme market they reach
    "common_factor": Population(shares={"partisan": 0.1}, theme_share=0.7),
    # the same theme called over two weeks (an election's races one by one): a partisan's
    # events resolve on many days, so the days alone do not make them one unit of evidence
    "common_factor_two_weeks": Population(
        shares={"partisan": 0.1}, theme_share=0.7, theme_window_hours=14 * 24.0
    ),
    # Populations real Polymarket has and the ones above lack (orderflow.sim.extra_styles):
    # 10 % copy-trading bots, each mirroring one leader's taker trades 4-60 s later at the book
    "copy_traders": Population(shares={"copier": 0.1}),
    # the same bots, each mirroring a list of four leaders (most copy services poll a list)
    "copy_list_traders": Population(shares={"copier": 0.1}, copy_list=4),
    # 10 % wallets buying the favourite at 0.80-0.97 in a market's last 12 hours (no view
    # but the skill every style draws: the timing alone)
    "late_favourite_buyers": Population(shares={"late_buyer": 0.1}),
    # 5 % late buyers who know: skill 0.2-0.5, hours before the outcome is called
    "late_insiders": Population(shares={"late_buyer": 0.05}, late_skill=(0.2, 0.5)),
    # 15 % wallets trading only neg-risk events' legs: YES on the leg they like and NO on its
    # rivals (one view on several legs), or YES on their two favourite legs (a dutch book)
    "neg_risk_leg_traders": Population(shares={"leg_trader": 0.15}),
    # 2 % whales of 0.3-2M USDC with one or two bets of 20-50 % of it at 0.15-0.60
    "lucky_whales": Population(shares={"lucky_whale": 0.02}),
    # three skilled operators (skill 0.03-0.10) each split over eight retail wallets sharing one
    # view of every market
    "sybil_skilled": Population(sybil_groups=(3, 8)),
}
