"""``orderflow import FILE...``: bootstrap the history from published dumps, then ``listen``.

Each file's layout is recognised from its column names (docs/history.md): OrderFilled /
OrdersMatched exports, raw logs, Gamma /markets rows, blocks. Files are imported in the order
given; a refused layout stops with a message naming what it lacks.
"""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

from orderflow import db
from orderflow.chain.settings import ListenerSettings
from orderflow.cli._common import add_log_format, readable, settings_for
from orderflow.errors import ConfigError
from orderflow.health import HealthServer
from orderflow.history import import_file
from orderflow.history.rows import RowError, exchange_of
from orderflow.migrate import migrate
from orderflow.telemetry import setup_metrics

KINDS = ("fills", "matches", "logs", "markets", "blocks")


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "import",
        help="import published history files (fills, matches, raw logs, Gamma markets, blocks)",
        description=(
            "Import CSV, JSON-lines or Parquet files (gzip accepted) in the published layouts: "
            "OrderFilled / OrdersMatched exports with their log identity, raw logs, Gamma "
            "/markets rows, blocks. Fills go through the listener's decode and store path; "
            "the last block covered becomes the listener's checkpoint, so `orderflow listen` "
            "continues from there. See docs/history.md."
        ),
    )
    p.add_argument("paths", metavar="FILE", nargs="+", type=Path, help="files, in this order")
    p.add_argument("--kind", choices=KINDS, help="refuse a file whose layout is another kind")
    p.add_argument(
        "--batch-size", type=int, default=10_000, help="rows per transaction (default 10000)"
    )
    p.add_argument(
        "--workers",
        type=int,
        default=None,
        help=(
            "processes parsing a fill or match file's batches (0: in this process; default:"
            " the cores to spare, for files of 64 MB and more)"
        ),
    )
    p.add_argument(
        "--exchange",
        metavar="ADDRESS",
        help=(
            "the exchange (an address or a name: CTF_EXCHANGE, …) of fill and match rows that "
            "have none, as a Graph scaffold's dump of one exchange's events; a file naming "
            "another is refused"
        ),
    )
    p.add_argument(
        "--no-hand-over",
        action="store_true",
        help="do not move the listener's checkpoint to the last imported block",
    )
    p.add_argument(
        "--no-bulk",
        action="store_true",
        help=(
            "keep the per-(wallet, token) sums current batch by batch (default: bulk mode, "
            "the sums are added once at the end of each file; docs/history.md)"
        ),
    )
    p.add_argument(
        "--metrics-port",
        type=int,
        default=0,
        help="serve /metrics (Prometheus) on this port while importing (default: off)",
    )
    add_log_format(p)
    p.set_defaults(handler=run, settings=(ListenerSettings,))


def run(args: argparse.Namespace) -> Coroutine[Any, Any, int]:
    settings = settings_for(ListenerSettings, args)
    for path in args.paths:
        readable(path)
    if args.batch_size < 1:
        raise ConfigError("--batch-size must be at least 1")
    if args.workers is not None and args.workers < 0:
        raise ConfigError("--workers must be 0 or more")
    if args.exchange is not None:
        try:
            args.exchange = exchange_of(args.exchange, settings.addresses)
        except RowError as exc:
            raise ConfigError(f"--exchange: {exc}") from None
    if not 0 <= args.metrics_port <= 65535:
        raise ConfigError(f"--metrics-port must be 0 (off) to 65535, got {args.metrics_port}")
    return _import(settings, args)


async def _import(settings: ListenerSettings, args: argparse.Namespace) -> int:
    setup_metrics("import")
    health = (
        HealthServer(args.metrics_port, setting="--metrics-port") if args.metrics_port else None
    )
    if health is not None:
        await health.start()
    try:
        async with db.open_pool(settings) as pool:
            async with pool.acquire() as conn:
                await migrate(conn)
            for path in args.paths:
                report = await import_file(
                    pool,
                    path,
                    chain_id=settings.chain_id,
                    addresses=settings.addresses,
                    batch_size=args.batch_size,
                    kind=args.kind,
                    hand_over=not args.no_hand_over,
                    workers=args.workers,
                    bulk=not args.no_bulk,
                    exchange=args.exchange,
                )
                print(report.summary(), flush=True)
    finally:
        if health is not None:
            with contextlib.suppress(Exception):
                await health.stop()
    return 0
