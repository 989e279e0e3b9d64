"""``orderflow db``: the embedded database (url, stop)."""

from __future__ import annotations

import argparse

from orderflow.cli._common import settings_for
from orderflow.config import CommonSettings
from orderflow.embedded import ensure_server, stop_server


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("db", help="manage the embedded PostgreSQL (when DATABASE_URL is unset)")
    p.add_argument("action", choices=("url", "stop"), help="print its URL (starting it) or stop it")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    settings = settings_for(CommonSettings, args)
    if settings.database_url is not None:
        print("DATABASE_URL is set: the embedded database is not used")
        return 0
    if args.action == "url":
        print(ensure_server(settings.data_dir))
    else:
        print("stopped" if stop_server(settings.data_dir) else "not running")
    return 0
