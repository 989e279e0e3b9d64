"""What-if: a change point in a wallet's record -- keep a wallet whose edge is gone out of WHALE
and SMART.

    .venv/bin/python benchmarks/change_point.py dump control:1 third:2:act --out /tmp/cp
    .venv/bin/python benchmarks/change_point.py show /tmp/cp/*.npz

``dump`` builds each world, imports it and runs the real pipeline (a full run, as
``benchmarks/recent_record.py`` does) with the WALLETS statement
(:data:`orderflow.reputation.evidence_sql.WALLETS`) given each wallet's judged events (stake
above 0) in the order of their first taker decision, as arrays: the decision time, the
closing-line value, the stake, the value against the outcome and the three null variances.
Nothing the run scores reads them, so its tiers are main's. Saved beside the stored inputs and
the hidden truth (``what_if_worlds.dump_worlds``' columns).

``show`` scores each dump with the population step's own code (``factors.score``) and reads
each wallet's record for a change point, on the per-event closing-line edge (``--on clv``; or
the value against the outcome, ``--on outcome``): for each split k (at least ``--least`` events
either side), the early segment's stake-weighted edge less the late one's over the standard
error of the difference (each segment's ratio-estimator variance around the whole record's
edge); the statistic is the largest such z over the splits (a fall: one-sided). Calibrated by
permutation: the wallet's own events in ``--perms`` random orders (a constant edge makes every
order as likely), p = (1 + #{T_perm >= T}) / (1 + perms). The rule, on WHALE and SMART only
(the FDR sets taken again): out when p < alpha and the late segment (after the best split)
alone, measured as the run measures a record and read under the population prior, has P(edge >
cost) below ``smart_probability``.

Per world: the top tiers' wallets by hidden truth (faded / skilled / other, as in
``recent_record.py``) on main and under each alpha; the false-alarm rate (p < alpha) over the
steady skilled wallets with at least ``--min-events`` events, and over the faded ones (the
rule's power), and the p of every faded wallet on top.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import pickle
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
import numpy.typing as npt  # noqa: E402
from recent_record import measured  # noqa: E402
from what_if_worlds import CLASSES, TOP, what_if_main, world_data, world_rows  # noqa: E402

from orderflow.reputation import evidence_sql, factors  # noqa: E402
from orderflow.reputation import prior as pr  # noqa: E402
from orderflow.reputation.flags import FLAGS, UNFADABLE  # noqa: E402
from orderflow.reputation.settings import ReputationSettings  # noqa: E402
from orderflow.reputation.tiers import tiers  # noqa: E402
from orderflow.reputation.wallet_inputs import WalletInputs  # noqa: E402

Array = npt.NDArray[Any]
# each judged event's figures, as arrays in decision order (cp_<name>)
EVENT = {
    "t": "extract(epoch FROM decided_at)::float8",
    "vc": "vc",
    "stake": "stake",
    "vo": "vo",
    "nvar": "nvar",
    "nvu": "nvar_unclosed",
    "nvc": "nvar_close",
}
ALPHAS = (0.01, 0.05, 0.10, 0.25, 0.40, 1.01)


def with_events(sql: str) -> str:
    """The WALLETS statement with each wallet's judged events as arrays ``cp_<name>``."""
    anchor = "       sum(volume_u)::float8 / 1000000 AS volume,\n"
    out = "a.var_late,"
    if sql.count(anchor) != 1 or sql.count(out) != 1:
        raise SystemExit("evidence_sql.WALLETS changed: update with_events")
    arrays = "".join(
        f"       array_agg(coalesce(({e})::float8, 'NaN') ORDER BY decided_at, e)"
        f" FILTER (WHERE stake > 0) AS cp_{n},\n"
        for n, e in EVENT.items()
    )
    sql = sql.replace(anchor, arrays + anchor)
    return sql.replace(out, out + "".join(f" a.cp_{n}," for n in EVENT))


async def dump(args: argparse.Namespace) -> None:
    evidence_sql.WALLETS = with_events(evidence_sql.WALLETS)
    columns = [c for c in WalletInputs.columns() if c != "wash_host"]
    extra = [f"cp_{n}" for n in EVENT]
    for spec in args.worlds:
        rows, truth = await world_rows(args.dsn, spec, columns, "orderflow-cp-", extra)
        data: dict[str, Any] = world_data(rows, truth, columns)
        data["events_of"] = [
            {n: np.array(r[f"cp_{n}"] or [], dtype=np.float64) for n in EVENT} for r in rows
        ]
        path = Path(args.out) / f"{spec.replace(':', '-')}.pkl"
        path.write_bytes(pickle.dumps(data))
        print(f"{path}: {len(rows)} wallets", flush=True)


def split_z(y: Array, stake: Array, least: int) -> Array:
    """For each row of ``y`` (per-event values, rows = orders of one wallet's events), the
    largest z over the splits of the early segment's edge (sum y / sum stake) less the late
    one's, each segment's variance the ratio estimator's around the whole record's edge."""
    n = y.shape[1]
    m = y.sum(axis=1, keepdims=True) / stake.sum(axis=1, keepdims=True)
    r2 = (y - m * stake) ** 2
    cy, cs, cr = (np.cumsum(a, axis=1) for a in (y, stake, r2))
    ty, ts, tr = cy[:, -1:], cs[:, -1:], cr[:, -1:]
    k = np.arange(least, n - least + 1) - 1  # the early segment is events 0..k
    ey, es, er = cy[:, k], cs[:, k], cr[:, k]
    ly, ls, lr = ty - ey, ts - es, tr - er
    with np.errstate(divide="ignore", invalid="ignore"):
        z = (ey / es - ly / ls) / np.sqrt(er / es**2 + lr / ls**2)
    z = np.where(np.isfinite(z), z, -np.inf)
    return np.asarray(z)


def cusum_z(y: Array, stake: Array, least: int) -> Array:
    """For each row of ``y`` (as :func:`split_z`), at each split the CUSUM of the per-event
    residuals around the whole record's edge (y - edge x stake) over its standard error given
    the record's residual variance (the early events' share f of it: sqrt(V f (1 - f)))."""
    n = y.shape[1]
    m = y.sum(axis=1, keepdims=True) / stake.sum(axis=1, keepdims=True)
    r = y - m * stake
    c, c2 = np.cumsum(r, axis=1), np.cumsum(r * r, axis=1)
    v = c2[:, -1:]
    k = np.arange(least, n - least + 1) - 1
    f = c2[:, k] / v
    with np.errstate(divide="ignore", invalid="ignore"):
        z = c[:, k] / np.sqrt(v * f * (1.0 - f))
    return np.asarray(np.where(np.isfinite(z), z, -np.inf))


STATS = {"split": split_z, "cusum": cusum_z}


def change_point(
    ev: dict[str, Array],
    on: str,
    least: int,
    perms: int,
    rng: np.random.Generator,
    stat: str = "split",
) -> tuple[float, float, int]:
    """A wallet's change-point statistic (``stat``: :data:`STATS`), its permutation p and the
    best split (the early segment's count of events); (nan, nan, 0) when the record is too
    short."""
    reading = STATS[stat]
    stake = ev["stake"]
    n = stake.size
    if n < 2 * least:
        return float("nan"), float("nan"), 0
    y = ev["vc"] if on == "clv" else ev["vo"]
    z = reading(y[None, :], stake[None, :], least)[0]
    best = int(np.argmax(z))
    t = float(z[best])
    order = np.argsort(rng.random((perms, n)), axis=1)
    zp = reading(y[order], stake[order], least).max(axis=1)
    p = (1.0 + float(np.sum(zp >= t - 1e-12))) / (1.0 + perms)
    return t, p, best + least


def late_inputs(i: WalletInputs, events_of: list[dict[str, Array]], split: Array) -> WalletInputs:
    """Each wallet's record of its events after ``split`` (its count of early events), summed as
    the WALLETS statement sums a record (the day clustering left out)."""
    sums: dict[str, list[float]] = {
        f: []
        for f in (
            "events", "stake", "value", "null_var", "clv_value", "clv_sq", "clv_stake",
            "stake_sq", "clv_null_var", "close_move_var",
        )
    }  # fmt: skip
    for ev, k in zip(events_of, split.tolist(), strict=True):
        late = {n: a[int(k) :] for n, a in ev.items()}
        vc = np.nan_to_num(late["vc"])
        sums["events"].append(float(late["stake"].size))
        sums["stake"].append(float(late["stake"].sum()))
        sums["value"].append(float(late["vo"].sum()))
        sums["null_var"].append(float(late["nvar"].sum()))
        sums["clv_value"].append(float(vc.sum()))
        sums["clv_sq"].append(float((vc * vc).sum()))
        sums["clv_stake"].append(float((vc * late["stake"]).sum()))
        sums["stake_sq"].append(float((late["stake"] ** 2).sum()))
        sums["clv_null_var"].append(float(np.nan_to_num(late["nvu"]).sum()))
        sums["close_move_var"].append(float(np.nan_to_num(late["nvc"]).sum()))
    arrays = {f: np.array(v, dtype=np.float64) for f, v in sums.items()}
    return dataclasses.replace(i, **arrays)


def show(args: argparse.Namespace) -> None:
    s = ReputationSettings()
    rng = np.random.default_rng(args.seed)
    rules = ["main", *(f"a={a}" for a in ALPHAS)]
    totals = {r: dict.fromkeys(CLASSES, 0) for r in rules}
    alarms: dict[str, list[float]] = {"faded": [], "skilled": []}
    per_world: list[str] = []
    for path in args.paths:
        w = pickle.loads(Path(path).read_bytes())
        i = WalletInputs(**{c: w[c] for c in WalletInputs.columns()})
        sc = factors.score(i, s, copying=w["copier"])
        cls = np.where(w["style"] == "faded", "faded", np.where(w["skilled"], "skilled", "other"))
        clean = sc.flags == 0
        got = [
            change_point(ev, args.on, args.least, args.perms, rng, args.stat)
            for ev in w["events_of"]
        ]
        stat = np.array([g[0] for g in got])
        p = np.array([g[1] for g in got])
        split = np.array([g[2] for g in got])
        li = late_inputs(i, w["events_of"], split)
        m, se = measured(li, s, sc.prior.miss_sd)
        p_late = pr.posterior(m, se, sc.prior, s.follower_cost).p_above
        nothing = pr.posterior(np.array([np.nan]), np.array([np.nan]), sc.prior, s.follower_cost)
        p_late = np.where(np.isfinite(p_late), p_late, nothing.p_above[0])
        unfadable = (sc.flags & sum(1 << FLAGS.index(f) for f in UNFADABLE)) != 0
        units = np.minimum(i.events, i.resolution_days) if s.min_events_by_day else i.events
        p_fade = pr.fade_probability(
            sc.edge_raw, sc.edge_raw_se, sc.prior.mean, sc.prior.mean_se, s.follower_cost
        )
        cells = []
        main_top = np.isin(sc.tier, TOP)
        for rule in rules:
            keep = clean
            if rule.startswith("a="):
                gone = (np.nan_to_num(p, nan=1.0) < float(rule[2:])) & (
                    p_late < s.smart_probability
                )
                keep = clean & ~(gone & main_top)
            t = tiers(i.events, units, sc.p_above_cost, sc.p_below_zero, p_fade, keep, unfadable, s)
            top = np.isin(t, TOP)
            n = {c: int((top & (cls == c)).sum()) for c in CLASSES}
            for c, k in n.items():
                totals[rule][c] += k
            cells.append(f"{rule} {'/'.join(str(n[c]) for c in CLASSES)}")
        print(f"{Path(path).stem:22} " + "  ".join(cells), flush=True)
        ok = np.isfinite(p) & clean & (i.events >= args.min_events)
        rates = []
        for c in alarms:
            sel = ok & (cls == c)
            alarms[c] += p[sel].tolist()
            if sel.any():
                rates.append(
                    f"{c} n {int(sel.sum())} p<0.05 {np.mean(p[sel] < 0.05):.3f}"
                    f" p<0.10 {np.mean(p[sel] < 0.10):.3f}"
                )
        per_world.append(f"{Path(path).stem:22} " + "; ".join(rates))
        for j in np.flatnonzero(main_top & ((cls == "faded") | (p < 0.1))):
            print(
                f"    {cls[j]:8} tier {sc.tier[j]} events {int(i.events[j])}"
                f" P {sc.p_above_cost[j]:.3f}"
                f" z {stat[j]:+.2f} p {p[j]:.3f} split {split[j]} late P {p_late[j]:.3f}"
                f" late m {m[j]:+.3f} +- {se[j]:.3f}",
                flush=True,
            )
    print(f"top tiers, {'/'.join(CLASSES)}, in all:")
    for rule, n in totals.items():
        print(f"  {rule:8} " + " / ".join(str(n[c]) for c in CLASSES))
    print(f"p of the change point, unflagged wallets with at least {args.min_events} events:")
    for line in per_world:
        print("  " + line)
    for c, v in alarms.items():
        a = np.array(v)
        if a.size:
            print(
                f"  {c:8} n {a.size} p<0.01 {np.mean(a < 0.01):.3f} p<0.05 {np.mean(a < 0.05):.3f}"
                f" p<0.10 {np.mean(a < 0.10):.3f}"
            )
    print(f"load: {os.getloadavg()}")


def _show_args(s: argparse.ArgumentParser) -> None:
    s.add_argument("--on", choices=("clv", "outcome"), default="clv")
    s.add_argument("--stat", choices=tuple(STATS), default="split")
    s.add_argument("--least", type=int, default=3, help="events either side of a split")
    s.add_argument("--perms", type=int, default=999)
    s.add_argument("--min-events", type=int, default=10)
    s.add_argument("--seed", type=int, default=0)


def main(argv: list[str] | None = None) -> None:
    what_if_main(
        argv,
        __doc__,
        dump,
        show,
        "save inputs, events, truth",
        "the top tiers and the false alarms under the rule",
        show_args=_show_args,
    )


if __name__ == "__main__":
    main()
