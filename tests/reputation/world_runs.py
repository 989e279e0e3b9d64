"""What the independent worlds' checks share (tests/reputation/test_newsworld.py,
test_thirdworld.py): a world's logs imported with the real CLI (``orderflow listen
--from-file``) and scored (``orderflow reputation run``), and the calibration figures read from
the scores against the world's hidden truth."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from tests.cli_env import orderflow_env, run_orderflow

TOP = ("WHALE", "SMART")
THRESHOLDS = (1, 5, 20)  # "active": at least this many fills (taker or maker)


@dataclass
class Figures:
    active: int
    whale: float
    top: float
    rho: float | None


def spearman(x: np.ndarray, y: np.ndarray) -> float:
    def ranks(v: np.ndarray) -> np.ndarray:
        order = np.argsort(v, kind="stable")
        r = np.empty(len(v))
        r[order] = np.arange(len(v))
        for value in np.unique(v):
            tie = v == value
            r[tie] = r[tie].mean()
        return r

    return float(np.corrcoef(ranks(x), ranks(y))[0, 1])


def cli(dsn: str, data_dir: Path, *args: str) -> None:
    done = run_orderflow(orderflow_env(dsn, data_dir), *args, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]


def import_and_score(dsn: str, tmp: Path, name: str, logs: list[dict[str, Any]]) -> None:
    """The world's logs written as ``orderflow listen --from-file`` reads them, imported, scored."""
    path = tmp / f"{name}.jsonl"
    with path.open("w", encoding="utf-8") as fh:
        fh.writelines(json.dumps(log, separators=(",", ":")) + "\n" for log in logs)
    cli(dsn, tmp, "listen", "--from-file", str(path))
    cli(dsn, tmp, "reputation", "run")


def figures_of(
    truth: Mapping[str, Mapping[str, Any]], by: Mapping[str, Mapping[str, Any]]
) -> dict[int, Figures]:
    """Per activity threshold: the active wallets, their WHALE and top-tier shares, and
    Spearman(score, hidden skill) (None where everyone's skill is the same)."""
    assert set(truth) == set(by), "every wallet of the world scored, no other"
    figures = {}
    for least in THRESHOLDS:
        active = [a for a, v in truth.items() if v["fills"] >= least]
        tiers = [by[a]["trader_tier"] for a in active]
        skill = np.array([truth[a]["skill"] for a in active])
        score = np.array([float(by[a]["reputation_score"]) for a in active])
        figures[least] = Figures(
            active=len(active),
            whale=sum(t == "WHALE" for t in tiers) / len(active),
            top=sum(t in TOP for t in tiers) / len(active),
            rho=spearman(score, skill) if skill.std() > 0 else None,
        )
    return figures
