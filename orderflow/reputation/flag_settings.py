"""The behaviour flags' settings (``orderflow.reputation.flags``): MARKET_MAKER, PENNY_PICKER,
HEDGED, WASH, WASH_COUNTERPARTY, COPIER and the volume below which no flag is set.

A part of :class:`~orderflow.reputation.settings.ReputationSettings` (environment names
``REPUTATION_<FIELD>``); docs/reputation.md explains each rule with an example.
"""

from __future__ import annotations

from pydantic import Field

from orderflow.config import CommonSettings


class FlagSettings(CommonSettings):
    """How a wallet's behaviour is flagged: the shares, windows and tests each flag reads."""

    maker_share_flag: float = Field(
        default=0.5, ge=0, le=1, description="MARKET_MAKER: maker share of volume above this."
    )
    penny_share_flag: float = Field(
        default=0.5,
        ge=0,
        le=1,
        description="PENNY_PICKER: share of buy stake at prices above penny_price above this.",
    )
    hedged_share_flag: float = Field(
        default=0.5,
        ge=0,
        le=1,
        description="HEDGED: share of buy stake in complete sets (holdings that pay the same "
        "whatever the outcome) above this.",
    )
    hedged_leg_window_secs: int = Field(
        default=60,
        ge=0,
        description="HEDGED: a complete set counts only if its legs were bought together: the "
        "tokens a wallet kept in an event part where one's first taker fill comes more than "
        "this many seconds after the previous one's, and each part is valued alone. An "
        "arbitrageur takes every leg in one block or a few (Polygon: 2 s a block); a trader "
        "who exits by buying the complement after the price moved does so hours later.",
    )
    wash_min_share: float = Field(
        default=0.5,
        gt=0,
        le=1,
        description="WASH (concentration): at least this share of the wallet's volume against "
        "its top wash_top_k counterparties, and at least this share of those partners' own "
        "volume against the group (a closed ring, not the few makers of a thin market).",
    )
    wash_top_k: int = Field(
        default=3, ge=1, le=10, description="WASH: counterparties that make a wallet's group."
    )
    wash_min_round_trip: float = Field(
        default=0.2,
        ge=0,
        le=1,
        description="WASH (concentration): at least this share of the wallet's shares traded "
        "were traded back (per market, one minus |shares bought less sold, one outcome less "
        "the other| over the shares traded): a ring churns volume and holds nothing, a thin "
        "market's traders are a closed group too but buy their views and hold them.",
    )
    wash_min_fills: int = Field(
        default=3, ge=1, description="WASH: fills with the group (or off-market fills) needed."
    )
    wash_deviation: float = Field(
        default=0.10,
        gt=0,
        lt=1,
        description="WASH (off-market): a fill this far or farther from every prevailing price "
        "around it (set by other wallets) is off-market.",
    )
    wash_off_share: float = Field(
        default=0.25,
        gt=0,
        le=1,
        description="WASH (off-market): at least this share of the wallet's judged volume (its "
        "fills with a prevailing price to compare against; wash_min_judged_share) in off-market "
        "fills (and at least wash_min_fills of them).",
    )
    wash_min_judged_share: float = Field(
        default=0.5,
        gt=0,
        le=1,
        description="WASH (off-market): the off-market share's denominator is the wallet's "
        "judged volume but never less than this share of its whole volume (a wallet with "
        "little that can be judged is not flagged on a few fills).",
    )
    wash_window_secs: float = Field(
        default=3600.0,
        gt=0,
        description="WASH: the prevailing price is the volume-weighted price of other wallets' "
        "trades of the market in this many seconds' bucket, the one before or the one after.",
    )
    wash_counterparty_min_share: float = Field(
        default=0.2,
        gt=0,
        le=1,
        description="WASH_COUNTERPARTY: a wallet with at least this share of a WASH wallet's "
        "volume (as one of its top wash_top_k group members, or on the other side of its "
        "off-market fills, over wash_min_fills fills) is never DEGEN, WHALE or SMART.",
    )
    copy_window_secs: int = Field(
        default=1800,
        gt=0,
        description="COPIER: a buy trails another wallet's buy of the same token when that one "
        "came at most this many seconds before it (strictly before: not the same block time) at "
        "a price no higher. Copy-trading services poll the data API every 1-10 minutes and "
        "copy what they find: 30 minutes is three times the slowest poll (at 120 s bots 3-20 "
        "minutes behind were not seen and reached WHALE). Two wallets reacting to one piece of "
        "news buy within the window too, in either order, which the sign test tells apart.",
    )
    copy_look_back: int = Field(
        default=32,
        ge=1,
        description="COPIER: a buy is paired only with the last this many buys of its token "
        "before it (by block time, then wallet), those within copy_window_secs: a buy's pairs "
        "are bounded however densely its token trades. A copy whose token saw more buys "
        "between its leader's fill and it is not seen there; the bound cuts either order of "
        "two buys alike, so the sign test's null holds.",
    )
    copy_min_share: float = Field(
        default=0.5,
        gt=0,
        le=1,
        description="COPIER: at least this share of the wallet's taker buys trail the leaders "
        "it copies (one, or a list of wallets), together.",
    )
    copy_min_markets: int = Field(
        default=5,
        ge=1,
        description="COPIER: its buys trail the leader in at least this many tokens.",
    )
    copy_alpha: float = Field(
        default=0.001,
        gt=0,
        lt=1,
        description="COPIER: the sign test's level for a wallet, shared among the leaders it "
        "is tested against (those it trails in copy_min_markets tokens: Bonferroni). Of the "
        "wallet's buys within copy_window_secs (and copy_look_back buys) "
        "of one of the leader's in the same token (the later at a price no lower), the trailing "
        "ones are at least as many as the leading ones would be under chance: if the wallets' "
        "timings were independent, each such pair is as likely in one order as in the other, "
        "P(X >= trailing) for X ~ Binomial(trailing + leading, 1/2) is at most this divided by "
        "the number of leaders tested.",
    )
    flag_min_volume: float = Field(
        default=100.0, ge=0, description="USDC of volume before any behaviour flag is set."
    )
