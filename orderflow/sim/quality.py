"""Score quality against the hidden truth: does the reputation score find skill?

Each figure is honest about its sample:

* AUC: the probability that a truly skilled wallet scores above an unskilled one (Mann-Whitney;
  0.5 is a coin, 1 a perfect ranking), with its Hanley-McNeil standard error;
* Spearman rank correlation between each scored wallet's score and its hidden skill (wallets the
  truth gives no skill, e.g. market makers of the first simulator, excluded);
* precision of the top tiers (WHALE, SMART): the share of those wallets that are truly skilled,
  and recall: the share of skilled wallets that got there;
* who else got there: market makers, wash-ring wallets, penny pickers, lucky wallets,
  complete-set arbitrageurs, partisans, copiers and lucky whales in the top tiers, whatever
  their skill, and late favourite buyers without it (following none of them pays: one earns a
  spread, one trades with itself, one buys favourites at their price, one hit a few long shots,
  one buys every outcome at once and each leg alone is a coin flip, one leans one way on a
  common factor that happened to go its way this time, one trades a leader's trades later at a
  worse price, one made one or two huge bets);
* sybil wallets in the top tiers (``top_tier_sybils``): one operator's skill counted as many
  wallets. Not a trap (a skilled operator's wallets are truly skilled, and precision counts them
  so), but a list of eight wallets of one operator is one forecast, not eight;
* partisans in DEGEN: half of them lean against the factor's draw and lose with it, and fading
  them pays no better than following the other half (``partisans_in_degen``).

The forward test (scores as of a date against the edge realised after it) needs the ledger, not
the truth: :mod:`orderflow.backtest.forward`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from orderflow.sim.truth import Truth, TruthWallet

TOP_TIERS = frozenset({"WHALE", "SMART"})


def ranks(values: Sequence[float]) -> list[float]:
    """1-based ranks, ties sharing their average rank."""
    order = sorted(range(len(values)), key=lambda i: values[i])
    out = [0.0] * len(values)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        for k in range(i, j + 1):
            out[order[k]] = (i + j) / 2 + 1
        i = j + 1
    return out


def spearman(xs: Sequence[float], ys: Sequence[float]) -> float | None:
    """Spearman's rho (Pearson on ranks); None when undefined (n < 3 or a constant side)."""
    if len(xs) != len(ys):
        raise ValueError("spearman needs two sequences of the same length")
    if len(xs) < 3:
        return None
    rx, ry = ranks(xs), ranks(ys)
    mx, my = sum(rx) / len(rx), sum(ry) / len(ry)
    sxy = sum((a - mx) * (b - my) for a, b in zip(rx, ry, strict=True))
    sxx = sum((a - mx) ** 2 for a in rx)
    syy = sum((b - my) ** 2 for b in ry)
    if sxx == 0 or syy == 0:
        return None
    return sxy / math.sqrt(sxx * syy)


def auc(positives: Sequence[float], negatives: Sequence[float]) -> tuple[float, float] | None:
    """Mann-Whitney AUC of ``positives`` above ``negatives`` (ties count half) and its
    Hanley-McNeil (1982) standard error; None when either side is empty."""
    n1, n0 = len(positives), len(negatives)
    if n1 == 0 or n0 == 0:
        return None
    r = ranks([*positives, *negatives])
    u = sum(r[:n1]) - n1 * (n1 + 1) / 2
    a = u / (n1 * n0)
    q1, q2 = a / (2 - a), 2 * a * a / (1 + a)
    var = (a * (1 - a) + (n1 - 1) * (q1 - a * a) + (n0 - 1) * (q2 - a * a)) / (n1 * n0)
    return a, math.sqrt(max(var, 0.0))


MARKET_MAKER_STYLES = frozenset({"market_maker"})
WASH_STYLES = frozenset({"wash"})


def is_sybil(wallet: TruthWallet) -> bool:
    """A sybil wallet: one of an operator's group (its style is retail; its group says so)."""
    return wallet.sybil_group is not None


def is_wash(wallet: object) -> bool:
    """A wash-ring member (the second simulator's truth names its ring; its style says so)."""
    return getattr(wallet, "wash_ring", None) is not None or getattr(wallet, "style", "") in (
        WASH_STYLES
    )


@dataclass(frozen=True, slots=True)
class Trap:
    """A kind of wallet whose record looks like skill a follower cannot copy."""

    label: str
    why: str
    member: Callable[[TruthWallet], bool]


TRAPS: tuple[Trap, ...] = (
    Trap(
        "market makers",
        "they earn a spread, not a forecast: not copyable",
        lambda t: t.style in MARKET_MAKER_STYLES,
    ),
    Trap("wash wallets", "wash-ring members: their record is made with themselves", is_wash),
    Trap(
        "penny pickers",
        "favourites bought at their price: one loss wipes out twenty wins",
        lambda t: t.style == "penny_picker",
    ),
    Trap("lucky wallets", "a few long shots that hit: no forecast", lambda t: t.style == "lucky"),
    Trap(
        "complete-set arbitrageurs",
        "every outcome bought at once: each leg alone is a coin flip",
        lambda t: t.style == "arbitrageur",
    ),
    Trap(
        "partisans",
        "one side of a common factor that went their way this time",
        lambda t: t.style == "partisan",
    ),
    Trap(
        "copiers",
        "a leader's trades seconds later at a worse price: follow the leader instead",
        lambda t: t.style == "copier",
    ),
    Trap(
        "late favourite buyers",
        "favourites bought in their last hours at their price, without skill",
        lambda t: t.style == "late_buyer" and not t.truly_skilled,
    ),
    Trap("lucky whales", "one or two huge bets that came in", lambda t: t.style == "lucky_whale"),
)


@dataclass(frozen=True, slots=True)
class TrapCount:
    """How many wallets of one trap were scored, and how many of them reached WHALE/SMART."""

    label: str
    why: str
    scored: int
    top_tier: int


@dataclass(frozen=True, slots=True)
class ScoredWallet:
    address: str
    score: float
    tier: str | None


@dataclass(frozen=True, slots=True)
class ScoreQuality:
    wallets_scored: int
    spearman: float | None
    top_tier_wallets: int
    top_tier_truly_skilled: int
    skilled_wallets: int
    skilled_in_top_tier: int
    auc: float | None = None
    auc_se: float | None = None
    top_tier_market_makers: int = 0
    top_tier_wash: int = 0
    top_tier_penny_pickers: int = 0
    top_tier_lucky: int = 0
    top_tier_arbitrageurs: int = 0
    top_tier_partisans: int = 0
    top_tier_copiers: int = 0
    top_tier_late_buyers: int = 0
    top_tier_lucky_whales: int = 0
    top_tier_sybils: int = 0
    partisans_in_degen: int = 0
    traps: tuple[TrapCount, ...] = ()

    @property
    def top_tier_traps(self) -> int:
        """Every trap of ``TRAPS`` in WHALE/SMART (market makers, wash-ring members, penny
        pickers, lucky wallets, complete-set arbitrageurs, partisans, copiers, late favourite
        buyers without skill, lucky whales); not sybils (``top_tier_sybils``)."""
        return sum(c.top_tier for c in self.traps)

    def traps_text(self) -> str:
        """ "market makers 0 of 12, wash wallets 1 of 30": each trap the world holds, its wallets
        in WHALE/SMART of those scored."""
        return ", ".join(f"{c.label} {c.top_tier} of {c.scored}" for c in self.traps if c.scored)

    @property
    def top_tier_precision(self) -> float | None:
        """Share of WHALE/SMART wallets that are truly skilled."""
        return (
            self.top_tier_truly_skilled / self.top_tier_wallets if self.top_tier_wallets else None
        )

    @property
    def skilled_recall(self) -> float | None:
        """Share of truly skilled (scored) wallets that reached WHALE/SMART."""
        return self.skilled_in_top_tier / self.skilled_wallets if self.skilled_wallets else None


def score_quality(scores: Sequence[ScoredWallet], truth: Truth) -> ScoreQuality:
    """Compare scores with hidden skill; wallets the truth does not know are ignored."""
    tw = truth.wallet_map()
    pairs = [(s, tw[s.address]) for s in scores if s.address in tw]
    with_skill = [(s.score, t.skill) for s, t in pairs if t.skill is not None]
    top = [(s, t) for s, t in pairs if s.tier in TOP_TIERS]
    skilled = [(s, t) for s, t in pairs if t.truly_skilled]
    roc = auc([s.score for s, _ in skilled], [s.score for s, t in pairs if not t.truly_skilled])
    traps = tuple(
        TrapCount(
            trap.label,
            trap.why,
            scored=sum(1 for _, t in pairs if trap.member(t)),
            top_tier=sum(1 for _, t in top if trap.member(t)),
        )
        for trap in TRAPS
    )
    in_top = {c.label: c.top_tier for c in traps}
    return ScoreQuality(
        wallets_scored=len(pairs),
        spearman=spearman([a for a, _ in with_skill], [b for _, b in with_skill]),
        top_tier_wallets=len(top),
        top_tier_truly_skilled=sum(1 for _, t in top if t.truly_skilled),
        skilled_wallets=len(skilled),
        skilled_in_top_tier=sum(1 for s, _ in skilled if s.tier in TOP_TIERS),
        auc=None if roc is None else roc[0],
        auc_se=None if roc is None else roc[1],
        top_tier_market_makers=in_top["market makers"],
        top_tier_wash=in_top["wash wallets"],
        top_tier_penny_pickers=in_top["penny pickers"],
        top_tier_lucky=in_top["lucky wallets"],
        top_tier_arbitrageurs=in_top["complete-set arbitrageurs"],
        top_tier_partisans=in_top["partisans"],
        top_tier_copiers=in_top["copiers"],
        top_tier_late_buyers=in_top["late favourite buyers"],
        top_tier_lucky_whales=in_top["lucky whales"],
        top_tier_sybils=sum(1 for _, t in top if is_sybil(t)),
        partisans_in_degen=sum(1 for s, t in pairs if t.style == "partisan" and s.tier == "DEGEN"),
        traps=traps,
    )
