"""The worlds of the what-if benchmarks (``recent_record.py``, ``decayed_record.py``,
``change_point.py``): each built (``control:SEED``, the simulator's positive control;
``third:SEED:SET``, tests/reputation/thirdworld.py; ``news:SEED:SET``,
tests/reputation/newsworld.py), imported and scored by the real pipeline on a scratch server, and
every wallet's stored inputs saved beside its hidden truth (:func:`dump_worlds`, ``.npz``); the
classes of that truth the benchmarks count the top tiers' wallets by (:data:`CLASSES`)."""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
from collections.abc import Callable, Coroutine, Sequence
from pathlib import Path
from typing import Any

import asyncpg
import numpy as np
import numpy.typing as npt
from scratch_db import scratch_server

from orderflow import db
from orderflow.reputation import run_reputation
from orderflow.reputation.stored_inputs import INPUTS
from orderflow.reputation.tiers import TIERS

Array = npt.NDArray[Any]
TOP = (TIERS.index("WHALE"), TIERS.index("SMART"))
# the top tiers' wallets by hidden truth: faded (skilled, then random), skilled, other
CLASSES = ("faded", "skilled", "other")


def world_logs(kind: str, seed: int, name: str) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """A test world's logs and truth (address: style, hidden skill)."""
    if kind == "third":
        from tests.reputation import thirdworld as tw

        big = dict(
            wallets=1200, binary=180, negrisk=30, makers=10, snipers=12, copybots=12,
            sybil_clusters=4, insiders=10, pickers=6,
        )  # fmt: skip
        sets = {
            "act": tw.Params(act_corr=0.9),
            "apart": tw.Params(),
            "nobody": tw.Params(nobody_skilled=True),
            "bigact": tw.Params(act_corr=0.9, **big),  # type: ignore[arg-type]
            "bigapart": tw.Params(**big),  # type: ignore[arg-type]
        }
        third = tw.World(seed, sets[name])
        return third.logs(), third.truth
    from tests.reputation import newsworld as nw

    news_sets = {
        "act": nw.Params(act_corr=0.9, size_corr=1.0),
        "against": nw.Params(act_corr=-0.9, size_corr=-1.0),
        "apart": nw.Params(),
        "nobody": nw.Params(nobody_skilled=True),
    }
    news = nw.World(seed, news_sets[name])
    return news.logs(), news.truth


async def score_one(pool: Any, spec: str, work: Path) -> dict[str, tuple[str, float, bool]]:
    """Import and score world ``spec`` into ``pool``'s empty database: its truth (address:
    style, hidden skill, truly skilled)."""
    kind, seed, *rest = spec.split(":")
    if kind == "control":
        from score_extra_styles import _population
        from score_variants import score_world

        from orderflow.sim import SimConfig

        sim = SimConfig(
            seed=int(seed),
            days=60.0,
            markets=70,
            wallets=240,
            population=_population("skilled_many_strong", False),
        )
        sim_truth, _ = await score_world(pool, sim, work)
        return {
            a: (w.style, float(w.skill), bool(w.truly_skilled))
            for a, w in sim_truth.wallet_map().items()
        }
    from orderflow.chain.ingest import ingest_file
    from orderflow.config import POLYGON_CHAIN_ID

    logs, truth = world_logs(kind, int(seed), rest[0])
    path = work / "logs.jsonl"
    with path.open("w", encoding="utf-8") as fh:
        fh.writelines(json.dumps(log, separators=(",", ":")) + "\n" for log in logs)
    await ingest_file(pool, path, chain_id=POLYGON_CHAIN_ID)
    await run_reputation(pool, full=True)
    return {
        a: (str(v["style"]), float(v["skill"]), float(v["skill"]) > 0 and v["style"] != "faded")
        for a, v in truth.items()
    }


async def dump_worlds(args: argparse.Namespace, columns: list[str], prefix: str) -> None:
    """Build, import and score each of ``args.worlds`` on a scratch server and save every
    wallet's ``columns`` of the stored inputs beside its hidden truth (style, skill, skilled), its
    COPIER flag and its wash host's place, as ``<out>/<world>.npz`` (also decayed_record's)."""
    for spec in args.worlds:
        rows, truth = await world_rows(args.dsn, spec, columns, prefix)
        path = Path(args.out) / f"{spec.replace(':', '-')}.npz"
        np.savez(path, **world_data(rows, truth, columns))  # type: ignore[arg-type]  # numpy stubs
        print(f"{path}: {len(rows)} wallets", flush=True)


async def world_rows(
    dsn: str | None, spec: str, columns: list[str], prefix: str, extra: Sequence[str] = ()
) -> tuple[list[asyncpg.Record], dict[str, tuple[str, float, bool]]]:
    """One world built, imported and scored on a scratch server: every wallet's ``columns`` of
    the stored inputs (as float8) and ``extra`` ones (as stored), with its wash host's place and
    flags, in the inputs' order; and the hidden truth by wallet (change_point's too)."""
    with tempfile.TemporaryDirectory(prefix=prefix) as work:
        async with scratch_server(dsn) as scratch:
            pool = await db.create_pool(await scratch.fresh(), min_size=1, max_size=4)
            try:
                truth = await score_one(pool, spec, Path(work))
                rows = await pool.fetch(
                    "SELECT w.wallet_address, h.idx AS host, w.idx, s.flags, "
                    + ", ".join(
                        [f"coalesce(w.{c}::float8, 'NaN') AS {c}" for c in columns]
                        + [f"w.{c}" for c in extra]
                    )
                    + f" FROM {INPUTS} w LEFT JOIN {INPUTS} h"
                    " ON h.wallet_address = w.wash_host_address"
                    " JOIN orderflow_wallet_scores s ON s.wallet_address = w.wallet_address"
                    " ORDER BY w.idx"
                )
            finally:
                await pool.close()
    return rows, truth


def world_data(
    rows: list[asyncpg.Record], truth: dict[str, tuple[str, float, bool]], columns: list[str]
) -> dict[str, Array]:
    """:func:`world_rows`' rows as arrays: the truth, the COPIER flag, the wash host's place
    and ``columns``."""
    place = {int(r["idx"]): k for k, r in enumerate(rows)}
    addr = [r["wallet_address"] for r in rows]
    none = ("", 0.0, False)
    return dict(
        style=np.array([truth.get(a, none)[0] for a in addr]),
        skill=np.array([truth.get(a, none)[1] for a in addr]),
        skilled=np.array([truth.get(a, none)[2] for a in addr]),
        copier=np.array(["COPIER" in (r["flags"] or []) for r in rows]),
        wash_host=np.array([np.nan if r["host"] is None else place[int(r["host"])] for r in rows]),
        **{c: np.array([r[c] for r in rows], dtype=np.float64) for c in columns},
    )


def what_if_main(
    argv: list[str] | None,
    doc: str | None,
    dump: Callable[[argparse.Namespace], Coroutine[Any, Any, None]],
    show: Callable[[argparse.Namespace], None],
    saves: str,
    shows: str,
    dump_args: Callable[[argparse.ArgumentParser], None] | None = None,
    show_args: Callable[[argparse.ArgumentParser], None] | None = None,
) -> None:
    """The command line of a what-if benchmark: ``dump`` (the worlds, ``--out``, ``--dsn``, and
    what ``dump_args`` adds) builds, scores and saves each world, ``saves`` saying what;
    ``show`` (the dumps, and what ``show_args`` adds) reads them, ``shows`` saying how."""
    p = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawTextHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    d = sub.add_parser("dump", help=f"build, import and score worlds; {saves}")
    d.add_argument("worlds", nargs="+", help="control:SEED, third:SEED:SET, news:SEED:SET")
    d.add_argument("--out", required=True, help="a directory")
    d.add_argument("--dsn", help="an admin DSN (default: DATABASE_URL, else an embedded server)")
    if dump_args is not None:
        dump_args(d)
    s = sub.add_parser("show", help=shows)
    s.add_argument("paths", nargs="+")
    if show_args is not None:
        show_args(s)
    args = p.parse_args(argv)
    if args.cmd == "dump":
        Path(args.out).mkdir(parents=True, exist_ok=True)
        asyncio.run(dump(args))
    else:
        show(args)
