"""``orderflow listen``: follow Polygon live (with backfill), or import a file of logs.

* ``orderflow listen`` — backfill from the checkpoint, then stream logs and newHeads over
  POLYGON_RPC_URL until SIGTERM/SIGINT; serves /healthz, /readyz, /metrics on HEALTH_PORT.
* ``orderflow listen --from-file PATH`` — store the raw eth_getLogs objects of a JSON-lines
  file through the same decode + store path, print what was stored, exit.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

from orderflow import db
from orderflow.chain.file_lines import no_json_head
from orderflow.chain.ingest import ingest_file, start_decoders
from orderflow.chain.settings import ListenerSettings
from orderflow.cli._common import add_log_format, readable, settings_for
from orderflow.errors import ConfigError
from orderflow.migrate import migrate
from orderflow.progress import Progress
from orderflow.telemetry import setup_telemetry

log = logging.getLogger("orderflow.listen")

_MAX_WORKERS = 64  # decoding processes: more only contend for the cores with the one storing


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "listen",
        help="ingest Polymarket fills from Polygon (live + backfill), or from a file",
        description=(
            "Without --from-file: backfill from the stored checkpoint to the head, then follow "
            "the chain over the WebSocket in POLYGON_RPC_URL (reconnecting as needed) until "
            "stopped. With --from-file: import raw logs and exit."
        ),
    )
    p.add_argument(
        "--from-file",
        metavar="PATH",
        type=Path,
        help="JSON lines of raw eth_getLogs log objects to store (then exit)",
    )
    p.add_argument(
        "--batch-size",
        type=int,
        default=5000,
        help="logs per transaction for --from-file (default 5000)",
    )
    p.add_argument(
        "--workers",
        type=int,
        default=2,
        help=(
            "processes that parse and decode --from-file's lines while this one stores them "
            "(default 2; 0: decode in a thread of this process)"
        ),
    )
    p.add_argument(
        "--no-bulk",
        action="store_true",
        help=(
            "keep the per-(wallet, token) sums current batch by batch during --from-file "
            "(default: bulk mode, the sums are added once at the end; docs/listener.md)"
        ),
    )
    add_log_format(p)
    p.set_defaults(handler=run, settings=(ListenerSettings,))


def run(args: argparse.Namespace) -> Coroutine[Any, Any, int]:
    """Validate arguments and settings here (synchronously), then hand back the coroutine."""
    settings = settings_for(ListenerSettings, args)
    setup_telemetry("listener")
    if args.from_file is None:
        return _live(settings)
    readable(args.from_file, "--from-file: ")
    _refuse_not_json_lines(args.from_file)
    if args.batch_size < 1:
        raise ConfigError("--batch-size must be at least 1")
    if not 0 <= args.workers <= _MAX_WORKERS:
        raise ConfigError(
            f"--workers must be 0 (decode in this process) to {_MAX_WORKERS}, got {args.workers}"
        )
    size = args.from_file.stat().st_size
    return _from_file(
        settings, args.from_file, args.batch_size, size, args.workers, bulk=not args.no_bulk
    )


async def _from_file(
    settings: ListenerSettings, path: Path, batch_size: int, size: int, workers: int, *, bulk: bool
) -> int:
    # the decoding processes start while this one connects and migrates
    decoders = await start_decoders(
        path, workers, chain_id=settings.chain_id, addresses=settings.addresses, one_file=True
    )
    try:
        async with db.open_pool(settings) as pool:
            async with pool.acquire() as conn:
                await migrate(conn)
            report = await ingest_file(
                pool,
                path,
                chain_id=settings.chain_id,
                batch_size=batch_size,
                addresses=settings.addresses,
                progress=Progress(
                    f"import {path.name}", unit="bytes", total=size, count_unit="lines"
                ),
                bulk=bulk,
                decoders=decoders,
            )
    finally:
        await asyncio.to_thread(decoders.close)
    print(report.summary())
    return 0


async def _live(settings: ListenerSettings) -> int:
    # Imported here: the live listener's clients and health server are no part of a file import.
    from orderflow.chain.listener import Listener, run_with_health

    async with db.open_pool(settings) as pool:
        async with pool.acquire() as conn:
            await migrate(conn)
        listener = Listener(pool, settings)
        log.info(
            "listening",
            extra={
                "endpoint": listener.endpoint,
                "confirmations": settings.confirmations,
                "health_port": settings.health_port,
            },
        )
        task = asyncio.create_task(run_with_health(listener, settings.health_port))
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, task.cancel)
        try:
            await task
        except asyncio.CancelledError:
            log.info("stopped", extra={"checkpoint": listener.state.checkpoint})
        finally:
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.remove_signal_handler(sig)
    return 0


_PACKED = {b"\x1f\x8b": "gzip-compressed", b"PAR1": "a Parquet file"}
_JUDGED_LINES = 20  # none of a file's first lines JSON: it is no JSON lines at all


def _refuse_not_json_lines(path: Path) -> None:
    """--from-file reads plain JSON lines: a compressed or Parquet file, or a text file none of
    whose first lines is JSON (a CSV dump), would be a dead letter per line. ``orderflow
    import`` reads those (raw logs, dumps), so say so instead. A JSON-lines file with damaged
    lines is imported, each of them a dead letter."""
    with path.open("rb") as fh:
        head = fh.read(4)
    for magic, what in _PACKED.items():
        if head.startswith(magic):
            raise ConfigError(
                f"--from-file: {path} is {what}; listen --from-file reads plain JSON lines of "
                f"raw logs: use `orderflow import {path}` (raw logs and dumps, .gz accepted)"
            )
    if judged := no_json_head(path, _JUDGED_LINES):
        raise ConfigError(
            f"--from-file: {path} is not JSON lines (no JSON in its first {judged} non-blank "
            "lines); listen --from-file reads raw eth_getLogs objects, one a line: for a CSV, "
            f"JSON or Parquet dump use `orderflow import {path}`"
        )
