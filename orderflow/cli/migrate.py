"""``orderflow migrate``: apply pending schema migrations."""

from __future__ import annotations

import argparse

from orderflow import db
from orderflow.cli._common import add_log_format, settings_for
from orderflow.config import CommonSettings
from orderflow.migrate import migrate


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "migrate", help="apply database migrations (safe to run twice, concurrently)"
    )
    add_log_format(p)
    p.set_defaults(handler=run, settings=(CommonSettings,))


async def run(args: argparse.Namespace) -> int:
    settings = settings_for(CommonSettings, args)
    conn = await db.connect(await db.resolve_dsn(settings))
    try:
        applied = await migrate(conn)
    finally:
        await conn.close()
    print(f"applied {len(applied)} migration(s)" + (": " + ", ".join(applied) if applied else ""))
    return 0
