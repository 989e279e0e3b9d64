"""What-if: keep a wallet whose recent record contradicts its past out of WHALE and SMART.

    .venv/bin/python benchmarks/recent_record.py dump control:1 third:2:act news:1:apart \
        --out /tmp/recent                 # one .npz per world in /tmp/recent
    .venv/bin/python benchmarks/recent_record.py show /tmp/recent/*.npz

``dump`` builds each world, imports it and runs the real pipeline (``run_reputation``, a full
run) with the WALLETS statement (:data:`orderflow.reputation.evidence_sql.WALLETS`) given eight
more sums: the closing line's figures of the late half of each wallet's judged events (its
events, stake, closing-line value and the sums of squares the ratio estimator reads, and the
two null variances) beside the ones the statement already has for it (``value_late``,
``var_late``). The halves are the consistency factor's: the wallet's judged events split at the
middle of its span of decisions; ``--split count``: at their median by decision time, halves of
equal counts (the consistency factor then reads those halves too; no tier reads it). Nothing
else the run scores reads the extra sums, so its tiers are main's. Worlds: ``control:SEED``
(the positive control, ``skilled_many_strong``, 60 days, 70 markets), ``third:SEED:SET``
(tests/reputation/thirdworld.py; SET: act = skill with activity, apart, nobody = nobody
skilled, bigact and bigapart = the larger version of docs/reputation.md), ``news:SEED:SET``
(tests/reputation/newsworld.py; act, against, apart, nobody).

``show`` scores each dump with the population step's own code (``factors.score``, COPIER as
the run found it) and measures each half the way the run measures the whole record
(``standing.yardsticks`` and ``factors.measurement``, the prior's closing-line miss spread; the
early half's sums are the wallet's less the late half's; the outcome's variance not clustered
by day). Rules, each applied to WHALE and SMART only (the FDR sets taken again over the wallets
left eligible):

* ``z>Z``: out when the late half's measured edge is below the early half's by more than Z
  standard errors of the difference, (m_early - m_late) / sqrt(se_early^2 + se_late^2) > Z;
* ``h=H``: the tiers read P(edge now > cost) under a change point: with prior probability H the
  edge was drawn again from the population prior at the middle, the late half weighing the two
  (its likelihood under the early half's posterior against under the prior); the changed
  edge's P is the late half's own posterior's;
* ``w=W``: the tiers read the posterior of the record with the early half's dollars counting W
  (its sums times W, its sums of squares times W squared; ``w=1.0``: the whole record measured
  this way, the baseline of the others: no day clustering).

Per world and rule: the top tiers' wallets by hidden truth (faded / skilled / other: a control
wallet is skilled when the simulator says truly skilled, a world's wallet when its hidden skill
is above 0; faded: skilled before the horizon's middle and random after it, hidden skill 0),
then the totals, and how far the halves separate faded from skilled wallets with at least 10
events (the z of the difference: mean, sd, share above 1.645 and 1.96; the late half's share of
the events).
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import os
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
import numpy.typing as npt  # noqa: E402
from what_if_worlds import CLASSES, TOP, dump_worlds, what_if_main  # noqa: E402

from orderflow.reputation import evidence_sql, factors, standing  # noqa: E402
from orderflow.reputation import prior as pr  # noqa: E402
from orderflow.reputation.flags import FLAGS, UNFADABLE  # noqa: E402
from orderflow.reputation.settings import ReputationSettings  # noqa: E402
from orderflow.reputation.tiers import tiers  # noqa: E402
from orderflow.reputation.wallet_inputs import WalletInputs  # noqa: E402

Array = npt.NDArray[Any]
# the late half's sums the statement gains (each over the wallet's judged events after the
# middle of its span of decisions), and the WalletInputs field each is the late half of
LATE = {
    "events": "count(*) FILTER (WHERE stake > 0 AND NOT early)::float8",
    "stake": "coalesce(sum(stake) FILTER (WHERE stake > 0 AND NOT early), 0)",
    "clv_value": "coalesce(sum(vc) FILTER (WHERE stake > 0 AND NOT early), 0)",
    "clv_sq": "coalesce(sum(vc * vc) FILTER (WHERE stake > 0 AND NOT early), 0)",
    "clv_stake": "coalesce(sum(vc * stake) FILTER (WHERE stake > 0 AND NOT early), 0)",
    "stake_sq": "coalesce(sum(stake * stake) FILTER (WHERE stake > 0 AND NOT early), 0)",
    "clv_null_var": "coalesce(sum(nvar_unclosed) FILTER (WHERE stake > 0 AND NOT early), 0)",
    "close_move_var": "coalesce(sum(nvar_close) FILTER (WHERE stake > 0 AND NOT early), 0)",
}
Z_RULES = (2.33, 1.96, 1.645, 1.28)
H_RULES = (0.05, 0.1, 0.25)
W_RULES = (1.0, 0.5, 0.25)


def with_late_sums(sql: str) -> str:
    """The WALLETS statement with the late half's sums (:data:`LATE`) as ``<field>_late``."""
    sums = "".join(f"       {expr} AS {f}_late,\n" for f, expr in LATE.items())
    anchor = "AS var_late,\n"
    out = "a.var_late,"
    if sql.count(anchor) != 1 or sql.count(out) != 1:
        raise SystemExit("evidence_sql.WALLETS changed: update with_late_sums")
    sql = sql.replace(anchor, anchor + sums)
    return sql.replace(out, out + "".join(f" a.{f}_late," for f in LATE))


# the halves' split: the middle of the wallet's span of decisions (the statement's own), or
# (``--split count``) its judged events' median by decision time, halves of equal counts
SPAN_SPLIT = """\
           we.decided_at <= min(we.decided_at) OVER s
                            + (max(we.decided_last) OVER s - min(we.decided_at) OVER s) / 2
               AS early,
"""
COUNT_SPLIT = """\
           2 * row_number() OVER (PARTITION BY we.w ORDER BY we.decided_at NULLS LAST, we.e)
               <= count(we.decided_at) OVER s AS early,
"""


def split_by_count(sql: str) -> str:
    """The WALLETS statement with its halves of equal counts of judged events."""
    if sql.count(SPAN_SPLIT) != 1:
        raise SystemExit("evidence_sql.WALLETS changed: update SPAN_SPLIT")
    return sql.replace(SPAN_SPLIT, COUNT_SPLIT)


async def dump(args: argparse.Namespace) -> None:
    evidence_sql.WALLETS = with_late_sums(evidence_sql.WALLETS)
    if args.split == "count":
        evidence_sql.WALLETS = split_by_count(evidence_sql.WALLETS)
    columns = [c for c in WalletInputs.columns() if c != "wash_host"] + [f"{f}_late" for f in LATE]
    await dump_worlds(args, columns, "orderflow-recent-")


def halves(
    i: WalletInputs, w: dict[str, Array], s: ReputationSettings, miss_sd: float
) -> tuple[tuple[Array, Array], tuple[Array, Array]]:
    """Each half's measured edge and standard error, as the run measures the whole record."""
    late = {f: w[f"{f}_late"] for f in LATE}
    early = {f: getattr(i, f) - late[f] for f in LATE}
    early = {f: v if f == "clv_value" else np.maximum(v, 0.0) for f, v in early.items()}
    out = [
        measured(dataclasses.replace(i, value=value, null_var=null_var, **half), s, miss_sd)
        for half, value, null_var in (
            (early, i.value_early, i.var_early),
            (late, i.value_late, i.var_late),
        )
    ]
    return out[0], out[1]


def measured(h: WalletInputs, s: ReputationSettings, miss_sd: float) -> tuple[Array, Array]:
    """A record's measured edge and standard error, as the run measures it, the outcome's
    variance not clustered by day."""
    by_events = s.model_copy(update={"variance_by_day": False})
    o, o_se, clv, clv_se, r_se = standing.yardsticks(h, by_events)
    return factors.measurement(o, o_se, clv, clv_se, r_se, miss_sd)


def weighted(
    i: WalletInputs, w: dict[str, Array], s: ReputationSettings, miss_sd: float, weight: float
) -> tuple[Array, Array]:
    """The measured edge and its standard error of the record with the early half's events
    weighted by ``weight`` (each of its decisions' dollars counting ``weight``: its sums times
    ``weight``, its sums of squares times ``weight`` squared); the outcome's variance not
    clustered by day."""
    late = {f: w[f"{f}_late"] for f in LATE}
    late.update(value=i.value_late, null_var=i.var_late)
    early = {f: getattr(i, f) - late[f] for f in LATE}
    early.update(value=i.value_early, null_var=i.var_early)
    squared = {"clv_sq", "clv_stake", "stake_sq", "clv_null_var", "close_move_var", "null_var"}
    mixed = {
        f: (weight**2 if f in squared else weight) * np.maximum(early[f], 0.0) + late[f]
        if f != "clv_value" and f != "value"
        else weight * early[f] + late[f]
        for f in late
    }
    mixed["events"] = i.events  # the pooling's count of events: the record's own
    return measured(dataclasses.replace(i, **mixed), s, miss_sd)


def _npdf(x: Array, var: Array) -> Array:
    return np.asarray(np.exp(-0.5 * x * x / var) / np.sqrt(2 * math.pi * var))


def p_now(
    h: float,
    scores: factors.Scores,
    early: tuple[Array, Array],
    late: tuple[Array, Array],
    s: ReputationSettings,
) -> Array:
    """P(edge now > cost) when the edge was drawn again from the prior at the middle with
    probability ``h``: the whole record's P and the late half's own, weighed by the late half's
    likelihood under the early half's posterior and under the prior."""
    p = scores.prior
    before = pr.posterior(early[0], early[1], p, s.follower_cost)
    m, se = late
    same = _npdf(m - before.mean, before.sd**2 + se**2)
    fresh = (1 - p.skill_share) * _npdf(m - p.mean, p.sd**2 + p.mean_se**2 + se**2)
    if p.skill_share > 0:
        fresh = fresh + p.skill_share * _npdf(
            m - p.skill_mean, p.skill_sd**2 + p.skill_mean_se**2 + se**2
        )
    with np.errstate(invalid="ignore", divide="ignore"):
        changed = h * fresh / (h * fresh + (1 - h) * same)
    changed = np.where(np.isfinite(changed), changed, h)  # no late half: the prior's odds
    alone = pr.posterior(m, se, p, s.follower_cost).p_above
    nothing = pr.posterior(np.array([np.nan]), np.array([np.nan]), p, s.follower_cost).p_above
    alone = np.where(np.isfinite(alone), alone, np.nan_to_num(nothing[0]))
    return np.asarray((1 - changed) * scores.p_above_cost + changed * alone)


def show(args: argparse.Namespace) -> None:
    s = ReputationSettings()
    rules = [
        "main",
        *(f"z>{z}" for z in Z_RULES),
        *(f"h={h}" for h in H_RULES),
        *(f"w={x}" for x in W_RULES),
    ]
    totals = {r: dict.fromkeys(CLASSES, 0) for r in rules}
    zs: dict[str, list[float]] = {"faded": [], "skilled": []}
    late_share: dict[str, list[float]] = {"faded": [], "skilled": []}
    for path in args.paths:
        with np.load(path) as d:
            w = {k: d[k] for k in d.files}
        i = WalletInputs(**{c: w[c] for c in WalletInputs.columns()})
        sc = factors.score(i, s, copying=w["copier"])
        early, late = halves(i, w, s, sc.prior.miss_sd)
        with np.errstate(invalid="ignore", divide="ignore"):
            z = (early[0] - late[0]) / np.sqrt(early[1] ** 2 + late[1] ** 2)
        cls = np.where(w["style"] == "faded", "faded", np.where(w["skilled"], "skilled", "other"))
        clean = sc.flags == 0
        unfadable = (sc.flags & sum(1 << FLAGS.index(f) for f in UNFADABLE)) != 0
        units = np.minimum(i.events, i.resolution_days) if s.min_events_by_day else i.events
        p_fade = pr.fade_probability(
            sc.edge_raw, sc.edge_raw_se, sc.prior.mean, sc.prior.mean_se, s.follower_cost
        )
        cells = []
        for rule in rules:
            keep, p_above = clean, sc.p_above_cost
            if rule.startswith("z>"):
                keep = clean & ~(np.nan_to_num(z, nan=-np.inf) > float(rule[2:]))
            elif rule.startswith("h="):
                p_above = p_now(float(rule[2:]), sc, early, late, s)
            elif rule.startswith("w="):
                m, se = weighted(i, w, s, sc.prior.miss_sd, float(rule[2:]))
                p_above = pr.posterior(m, se, sc.prior, s.follower_cost).p_above
            t = tiers(i.events, units, p_above, sc.p_below_zero, p_fade, keep, unfadable, s)
            top = np.isin(t, TOP)
            got = {c: int((top & (cls == c)).sum()) for c in CLASSES}
            for c, n in got.items():
                totals[rule][c] += n
            cells.append(f"{rule} {'/'.join(str(got[c]) for c in CLASSES)}")
        print(f"{Path(path).stem:22} " + "  ".join(cells))
        ok = np.isfinite(z) & clean & (i.events >= 10)
        for c in zs:
            zs[c] += z[ok & (cls == c)].tolist()
            late_share[c] += (
                w["events_late"][ok & (cls == c)] / i.events[ok & (cls == c)]
            ).tolist()
    print(f"top tiers, {'/'.join(CLASSES)}, in all:")
    for rule, got in totals.items():
        print(f"  {rule:8} " + " / ".join(str(got[c]) for c in CLASSES))
    print("(m_early - m_late) / se, unflagged wallets with at least 10 events:")
    for c, v in zs.items():
        a = np.array(v)
        if a.size:
            print(
                f"  {c:8} n {a.size} mean {a.mean():+.2f} sd {a.std():.2f} above 1.645"
                f" {np.mean(a > 1.645):.2f} above 1.96 {np.mean(a > 1.96):.2f}; late half's"
                f" share of events {np.mean(late_share[c]):.2f}"
            )
    print(f"load: {os.getloadavg()}")


def _dump_args(d: argparse.ArgumentParser) -> None:
    d.add_argument(
        "--split",
        choices=("span", "count"),
        default="span",
        help="halves at the middle of the span of decisions (the run's) or of equal counts",
    )


def main(argv: list[str] | None = None) -> None:
    what_if_main(
        argv,
        __doc__,
        dump,
        show,
        "save inputs and truth",
        "the top tiers under each rule",
        dump_args=_dump_args,
    )


if __name__ == "__main__":
    main()
