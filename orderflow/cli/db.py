"""``orderflow db``: the embedded database (url, stop) and the block-range partitions.

``url`` and ``stop`` act on the embedded server of ORDERFLOW_DATA_DIR, also when DATABASE_URL is
that server's own URL (``export DATABASE_URL=$(orderflow db url)``); another server's URL is
named and left alone.

``orderflow db partitions [list]`` lists the partitions of ``orderflow_trades`` and
``orderflow_matches`` (block range, rows, size, attached or not); ``detach N`` detaches partition
N of both (``CONCURRENTLY``: readers and writers carry on), leaving plain tables to archive with
``pg_dump -t`` and then drop; ``attach N`` puts them back. N is a number (61) or a partition's
name (orderflow_trades_p0061). ``refresh`` recomputes every attached partition's time and id
range (migration 018) from its rows: after rows were loaded without the table's triggers.
``index`` builds the deferrable indexes a bulk import left out of a trades partition and did
not build back (it was killed; migration 072): the list shows such a partition as
``attached, UNINDEXED``.
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from orderflow import db
from orderflow.chain import partition_indexes, partitions
from orderflow.cli._common import add_log_format, settings_for
from orderflow.config import CommonSettings
from orderflow.embedded import (
    ensure_server,
    is_embedded,
    pgdata_dir,
    running_address,
    stop_server,
    url_address,
)
from orderflow.errors import ConfigError
from orderflow.migrate import migrate


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "db", help="the embedded PostgreSQL (url, stop) and the trades/matches partitions"
    )
    p.add_argument(
        "action",
        choices=("url", "stop", "partitions"),
        help="print the embedded database's URL (starting it), stop it, or manage partitions",
    )
    p.add_argument(
        "what",
        nargs="?",
        choices=("list", "detach", "attach", "refresh", "index"),
        default="list",
        help=(
            "partitions: list (default), detach N, attach N, refresh (recompute the time "
            "and id ranges the readers prune by, after a load without triggers), or index "
            "(build the indexes a killed bulk import left out)"
        ),
    )
    p.add_argument("name", nargs="?", help="the partition: 61, or orderflow_trades_p0061")
    p.add_argument(
        "--blocking",
        action="store_true",
        help="detach without CONCURRENTLY (briefly blocks readers and writers)",
    )
    add_log_format(p)
    p.set_defaults(handler=run, settings=(CommonSettings,))


def run(args: argparse.Namespace) -> int:
    settings = settings_for(CommonSettings, args)
    if args.action == "partitions":
        return asyncio.run(_partitions(args, settings))
    url = settings.database_url.get_secret_value() if settings.database_url else None
    if url is not None and not is_embedded(settings.data_dir, url):
        print(_elsewhere(url, settings.data_dir))
        return 0
    if args.action == "url":
        print(ensure_server(settings.data_dir))
    else:
        print("stopped" if stop_server(settings.data_dir) else "not running")
    return 0


def _elsewhere(url: str, data_dir: Path) -> str:
    """What DATABASE_URL points at, and the embedded server it is not."""
    target = url_address(url)
    where = "a server given as a keyword DSN" if target is None else f"{target[0]}:{target[1]}"
    ours = running_address(data_dir)
    embedded = f"running on {ours[0]}:{ours[1]}" if ours is not None and ours[0] else "not running"
    return (
        f"DATABASE_URL points at {where}, not the embedded database in "
        f"{pgdata_dir(data_dir)} ({embedded}): nothing done; unset DATABASE_URL to manage "
        "the embedded one"
    )


def _size(n: int) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1024:
            return f"{n} {unit}"
        n //= 1024
    return f"{n} TB"


async def _partitions(args: argparse.Namespace, settings: CommonSettings) -> int:
    if args.what in ("detach", "attach") and not args.name:
        raise ConfigError(
            f"orderflow db partitions {args.what} needs a partition: a number (61) or a name"
            " (orderflow_trades_p0061), see `orderflow db partitions`"
        )
    async with db.open_pool(settings, min_size=1, max_size=1) as pool, pool.acquire() as conn:
        await migrate(conn)
        if args.what == "detach":
            done = await partitions.detach(conn, args.name, concurrently=not args.blocking)
            p = done[0]
            names = " ".join(f"-t {d.name}" for d in done)
            print(
                f"detached partition {p.number} (blocks {p.first_block:,} to {p.last_block:,}):"
                f" {', '.join(d.name for d in done)}. Archive: `pg_dump -Fc {names}"
                f" -f partition_{p.number:04d}.dump <database>`, then DROP TABLE them; or put"
                f" them back: `orderflow db partitions attach {p.number}`"
            )
            return 0
        if args.what == "attach":
            done = await partitions.attach(conn, args.name)
            p = done[0]
            print(
                f"attached partition {p.number} (blocks {p.first_block:,} to {p.last_block:,}):"
                f" {', '.join(d.name for d in done)}; the next reputation run is a full one"
            )
            return 0
        if args.what == "refresh":
            count = await partitions.refresh_ranges(conn)
            print(f"recomputed the time and id ranges of {count} trades partition(s)")
            return 0
        if args.what == "index":
            built = await partition_indexes.build_missing(conn)
            print(f"built the deferred indexes of {len(built)} trades partition(s)")
            return 0
        unindexed = set(await partition_indexes.missing(conn))
        print(f"{'partition':<26} {'blocks':>27} {'rows (est.)':>12} {'size':>9}  state")
        for p in await partitions.partitions(conn):
            blocks = f"{p.first_block:,}-{p.last_block:,}"
            state = "attached" if p.attached else "DETACHED"
            if p.name in unindexed:  # a bulk import's, killed before it built them
                state += ", UNINDEXED (orderflow db partitions index)"
            print(f"{p.name:<26} {blocks:>27} {p.rows_estimate:>12,} {_size(p.bytes):>9}  {state}")
    return 0
