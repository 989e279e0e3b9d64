"""``orderflow db``: the embedded database (url, stop) and the trades partitions.

``orderflow db partitions [list]`` lists ``orderflow_trades``' partitions (block range, rows,
size, attached or not); ``detach NAME`` detaches an old one (``CONCURRENTLY``: readers and
writers carry on), leaving a plain table to archive with ``pg_dump -t NAME`` and then drop;
``attach NAME`` puts a detached one back.
"""

from __future__ import annotations

import argparse
import asyncio

from orderflow import db
from orderflow.chain import partitions
from orderflow.cli._common import add_log_format, settings_for
from orderflow.config import CommonSettings
from orderflow.embedded import ensure_server, stop_server
from orderflow.migrate import migrate


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "db", help="the embedded PostgreSQL (url, stop) and orderflow_trades' partitions"
    )
    p.add_argument(
        "action",
        choices=("url", "stop", "partitions"),
        help="print the embedded database's URL (starting it), stop it, or manage partitions",
    )
    p.add_argument(
        "what",
        nargs="?",
        choices=("list", "detach", "attach"),
        default="list",
        help="partitions: list (default), detach NAME or attach NAME",
    )
    p.add_argument("name", nargs="?", help="the partition, e.g. orderflow_trades_p0042")
    p.add_argument(
        "--blocking",
        action="store_true",
        help="detach without CONCURRENTLY (briefly blocks readers and writers; can run in a "
        "transaction)",
    )
    add_log_format(p)
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    settings = settings_for(CommonSettings, args)
    if args.action == "partitions":
        return asyncio.run(_partitions(args, settings))
    if settings.database_url is not None:
        print("DATABASE_URL is set: the embedded database is not used")
        return 0
    if args.action == "url":
        print(ensure_server(settings.data_dir))
    else:
        print("stopped" if stop_server(settings.data_dir) else "not running")
    return 0


def _size(n: int) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1024:
            return f"{n} {unit}"
        n //= 1024
    return f"{n} TB"


async def _partitions(args: argparse.Namespace, settings: CommonSettings) -> int:
    if args.what != "list" and not args.name:
        print(f"orderflow db partitions {args.what} needs a partition name (see the list)")
        return 2
    async with db.open_pool(settings, min_size=1, max_size=1) as pool, pool.acquire() as conn:
        await migrate(conn)
        if args.what == "detach":
            part = await partitions.detach(conn, args.name, concurrently=not args.blocking)
            print(
                f"detached {part.name} (blocks {part.first_block:,} to {part.last_block:,}):"
                f" archive it with `pg_dump -Fc -t {part.name} -f {part.name}.dump <database>`,"
                f" then `DROP TABLE {part.name}`; or put it back with"
                f" `orderflow db partitions attach {part.name}`"
            )
            return 0
        if args.what == "attach":
            part = await partitions.attach(conn, args.name)
            print(f"attached {part.name} (blocks {part.first_block:,} to {part.last_block:,})")
            return 0
        print(f"{'partition':<24} {'blocks':>27} {'rows (est.)':>12} {'size':>9}  state")
        for p in await partitions.partitions(conn):
            blocks = f"{p.first_block:,}-{p.last_block:,}"
            state = "attached" if p.attached else "DETACHED"
            print(f"{p.name:<24} {blocks:>27} {p.rows_estimate:>12,} {_size(p.bytes):>9}  {state}")
    return 0
