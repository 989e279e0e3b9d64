"""What-if: evidence that decays -- each resolved decision weighted by its age.

    .venv/bin/python benchmarks/decayed_record.py dump control:1 third:2:act --out /tmp/decay
    .venv/bin/python benchmarks/decayed_record.py show /tmp/decay/*.npz

``dump`` builds each world, imports it and runs the real pipeline (a full run, as
``benchmarks/recent_record.py`` does) with the WALLETS statement
(:data:`orderflow.reputation.evidence_sql.WALLETS`) given, for each half-life H of
:data:`HALF_LIVES` (days), the sums the measured edge reads with each event weighted by
w = 2^(-age / H), age = the days from the event's first taker decision to the latest decision
of the whole dump (the run's "now"), and the sums of squares once more with w^2; the same for
each half-life ``nN`` of :data:`DECISION_HALF_LIVES`, age = the wallet's judged events decided
after this one (a weight that moves only when the wallet's own record does). Nothing the
run scores reads them, so its tiers are main's.

``show`` scores each dump with the population step's own code (``factors.score``: the prior
fitted again, the flags, the FDR sets, COPIER as the run found it) on the record as it is and
on the decayed record, the outcome's variance not clustered by day in both (its day sums are
not decayed), under two readings of the weights:

* ``p=H`` (power): each event's likelihood raised to w -- every sum, its sums of squares too,
  times w, so a record whose evidence is all old has a wider standard error (precision times
  w): P(edge > cost) falls for a wallet whose evidence is old without calling it bad;
* ``c=H`` (the control of ``p=H``): every wallet's sums times one figure, the population's
  mean weight at H (its decayed stake over its stake): as much precision lost on average, not
  by age -- what ``p=H`` does beyond it is the age's doing;
* ``f=H``: ``p=H``'s records under the prior fitted on the records as they are (the
  population's spread of edges is what it is whether its evidence is old or new; only each
  wallet's own evidence fades);
* ``k=H`` (relative): the dollars weighted by w, the sums of squares by w^2 (the w rule of
  ``recent_record.py``): only the old evidence's share falls, a uniformly old record reads as
  it did.

The tiers' minimums count the record's events and days as they are. Per world and rule: the
top tiers' wallets by hidden truth (faded / skilled / other, as in ``recent_record.py``), and
the totals.
"""

from __future__ import annotations

import argparse
import dataclasses
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

from orderflow.reputation import evidence_sql, factors  # noqa: E402
from orderflow.reputation.settings import ReputationSettings  # noqa: E402
from orderflow.reputation.wallet_inputs import WalletInputs  # noqa: E402

Array = npt.NDArray[Any]
HALF_LIVES = (60, 120, 240, 480)
# half-lives in the wallet's own later judged decisions (``n10``: a decision followed by ten
# more of the wallet's weighs a half)
DECISION_HALF_LIVES = (20, 40)
# each decay's age, in its half-lives
DECAYS = {
    **{str(h): f"age_days / {h}" for h in HALF_LIVES},
    **{f"n{n}": f"later / {n}" for n in DECISION_HALF_LIVES},
}
# the sums the measured edge reads (WalletInputs field: the event's term), and which of them
# are sums of squares
TERMS = {
    "value": "vo",
    "stake": "stake",
    "null_var": "nvar",
    "clv_value": "vc",
    "clv_sq": "vc * vc",
    "clv_stake": "vc * stake",
    "stake_sq": "stake * stake",
    "clv_null_var": "nvar_unclosed",
    "close_move_var": "nvar_close",
}
SQUARED = ("null_var", "clv_sq", "clv_stake", "stake_sq", "clv_null_var", "close_move_var")
AGE = (
    "           extract(epoch FROM max(we.decided_last) OVER () - we.decided_at) / 86400"
    " AS age_days,\n"
    "           (row_number() OVER (PARTITION BY we.w ORDER BY we.decided_at DESC NULLS LAST,"
    " we.e DESC) - 1)::float8 AS later,\n"
)


def columns() -> list[str]:
    names = [f"{f}_d{h}" for h in DECAYS for f in TERMS]
    return names + [f"{f}_d{h}q" for h in DECAYS for f in SQUARED]


def with_decayed_sums(sql: str) -> str:
    """The WALLETS statement with the decayed sums (:func:`columns`)."""
    split = "               AS early,\n"
    anchor = "AS var_late,\n"
    out = "a.var_late,"
    if any(sql.count(x) != 1 for x in (split, anchor, out)):
        raise SystemExit("evidence_sql.WALLETS changed: update with_decayed_sums")
    sums = []
    for h, age in DECAYS.items():
        w = f"power(2.0::float8, -{age})"
        for f, term in TERMS.items():
            sums.append(f"coalesce(sum(({term}) * {w}) FILTER (WHERE stake > 0), 0) AS {f}_d{h}")
        for f in SQUARED:
            sums.append(
                f"coalesce(sum(({TERMS[f]}) * {w} * {w}) FILTER (WHERE stake > 0), 0) AS {f}_d{h}q"
            )
    sql = sql.replace(split, split + AGE)
    sql = sql.replace(anchor, anchor + "".join(f"       {x},\n" for x in sums))
    return sql.replace(out, out + "".join(f" a.{c}," for c in columns()))


async def dump(args: argparse.Namespace) -> None:
    evidence_sql.WALLETS = with_decayed_sums(evidence_sql.WALLETS)
    cols = [c for c in WalletInputs.columns() if c != "wash_host"] + columns()
    await dump_worlds(args, cols, "orderflow-decay-")


def decayed(i: WalletInputs, w: dict[str, Array], h: str, power: bool) -> WalletInputs:
    """The record with each event weighted by 2^(-age / h): power, every sum times w; else
    the sums of squares times w^2."""
    sums = {f: w[f"{f}_d{h}" if power or f not in SQUARED else f"{f}_d{h}q"] for f in TERMS}
    return dataclasses.replace(i, **sums)


def uniform(i: WalletInputs, w: dict[str, Array], h: str) -> WalletInputs:
    """The control of ``p=h``: every wallet's sums times one figure, the population's mean
    weight (its decayed stake over its stake), so precision shrinks as much on average but
    not by the age of the evidence."""
    c = float(np.nansum(w[f"stake_d{h}"]) / np.nansum(i.stake))
    return dataclasses.replace(i, **{f: c * getattr(i, f) for f in TERMS})


def first_keys(paths: list[str]) -> set[str]:
    """The columns every dump has (dumps made before a decay was added lack it)."""
    keys: set[str] | None = None
    for path in paths:
        with np.load(path) as d:
            keys = set(d.files) if keys is None else keys & set(d.files)
    return keys or set()


def show(args: argparse.Namespace) -> None:
    s = ReputationSettings()
    flat = s.model_copy(update={"variance_by_day": False})
    have = [h for h in DECAYS if f"stake_d{h}" in first_keys(args.paths)]
    rules = ["main", "flat", *(f"{r}={h}" for r in "pfkc" for h in have)]
    totals = {r: dict.fromkeys(CLASSES, 0) for r in rules}
    for path in args.paths:
        with np.load(path) as d:
            w = {k: d[k] for k in d.files}
        i = WalletInputs(**{c: w[c] for c in WalletInputs.columns()})
        cls = np.where(w["style"] == "faded", "faded", np.where(w["skilled"], "skilled", "other"))
        base = factors.score(i, flat, copying=w["copier"]).prior
        cells = []
        for rule in rules:
            if rule == "main":
                sc = factors.score(i, s, copying=w["copier"])
            elif rule == "flat":
                sc = factors.score(i, flat, copying=w["copier"])
            elif rule[0] == "f":
                rec = decayed(i, w, rule[2:], power=True)
                sc = factors.score(rec, flat, prior=base, copying=w["copier"])
            else:
                rec = (
                    uniform(i, w, rule[2:])
                    if rule[0] == "c"
                    else decayed(i, w, rule[2:], power=rule[0] == "p")
                )
                sc = factors.score(rec, flat, copying=w["copier"])
            top = np.isin(sc.tier, TOP)
            got = {c: int((top & (cls == c)).sum()) for c in CLASSES}
            for c, n in got.items():
                totals[rule][c] += n
            cells.append(f"{rule} {'/'.join(str(got[c]) for c in CLASSES)}")
        print(f"{Path(path).stem:22} " + "  ".join(cells))
    print(f"top tiers, {'/'.join(CLASSES)}, in all:")
    for rule, got in totals.items():
        print(f"  {rule:8} " + " / ".join(str(got[c]) for c in CLASSES))
    print(f"load: {os.getloadavg()}")


def main(argv: list[str] | None = None) -> None:
    what_if_main(
        argv, __doc__, dump, show, "save inputs and truth", "the top tiers under each rule"
    )


if __name__ == "__main__":
    main()
