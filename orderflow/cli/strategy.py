"""``orderflow strategy``: create, change, pause, resume, kill, inspect and watch named strategies.

Writes ``orderflow_strategies``; a running executor applies the change within a second (the
table's trigger notifies it). The operator writes the same rows from TradingStrategy resources.
"""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime
from typing import Any

from orderflow import db
from orderflow.cli import strategy_status
from orderflow.cli._common import add_log_format, settings_for
from orderflow.cli.strategy_settings import build_settings
from orderflow.config import CommonSettings
from orderflow.errors import ConfigError
from orderflow.execution import status as execution_status
from orderflow.execution import strategy_queries
from orderflow.migrate import migrate
from orderflow.strategy.names import name_problem

_FLAGS = {
    "pause": ("paused", True),
    "resume": ("paused", False),
    "kill": ("killed", True),
    "unkill": ("killed", False),
}


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("strategy", help="manage named strategies (settings, pause, kill)")
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    s = actions.add_parser("set", help="create or update a strategy's settings")
    s.add_argument("name")
    s.add_argument(
        "--from-env",
        action="store_true",
        help="start from the seed's environment variables (MAX_POSITION_USD …)",
    )
    s.add_argument(
        "--set",
        dest="assignments",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="set one field (snake_case or camelCase), e.g. --set kelly_fraction=0.1",
    )
    s.add_argument(
        "--force",
        action="store_true",
        help="also overwrite a strategy managed by a TradingStrategy resource",
    )
    add_log_format(s)
    for action, (flag, value) in _FLAGS.items():
        a = actions.add_parser(action, help=f"set {flag}={str(value).lower()} (survives restarts)")
        a.add_argument("name")
        add_log_format(a)
    add_log_format(actions.add_parser("list", help="list strategies"))
    show = actions.add_parser("show", help="print a strategy as JSON")
    show.add_argument("name")
    add_log_format(show)
    status = actions.add_parser(
        "status", help="what a strategy holds, rests and made: P&L, positions, orders, signals"
    )
    status.add_argument("name")
    status.add_argument("--json", action="store_true", help="one JSON document, exact decimals")
    status.add_argument(
        "--since",
        default="24h",
        help="window of the order and signal counts: a duration (30m, 24h, 7d) or a timestamp"
        " (default 24h)",
    )
    add_log_format(status)
    p.set_defaults(handler=run, settings=(CommonSettings,))


async def run(args: argparse.Namespace) -> int:
    settings = settings_for(CommonSettings, args)
    name = getattr(args, "name", None)
    # A new name is a DNS label (orderflow.strategy.names); one that stops or reads a strategy
    # only has its alphabet checked: a longer one stored before 6 Dec 2026 can still be killed.
    problem = None if name is None else name_problem(name, new=args.action == "set")
    if problem is not None:
        raise ConfigError(problem)
    async with db.open_pool(settings, max_size=2) as pool, pool.acquire() as conn:
        await migrate(conn)
        if args.action == "list":
            for row in await strategy_queries.strategy_rows(conn):
                state = "killed" if row["killed"] else "paused" if row["paused"] else "active"
                mode = row["settings"].get("mode", "paper")
                print(f"{row['name']}\t{mode}\t{state}\tgeneration {row['generation']}")
            return 0
        if args.action == "status":
            return await _status(conn, args)
        row = await strategy_queries.strategy_row(conn, args.name)
        if args.action == "show":
            if row is None:
                raise ConfigError(f"no strategy named {args.name!r}")
            out = {
                "name": row["name"],
                "paused": row["paused"],
                "killed": row["killed"],
                # stops set here on a strategy a resource owns, kept against its spec
                "held": [f for f, held in strategy_queries.HELD.items() if row[held]],
                "generation": row["generation"],
                "source": row["source"],
                "settings": row["settings"],
            }
            print(json.dumps(out, indent=2, default=str))
            return 0
        managed_by = _kubernetes_owner(row)
        if args.action == "set":
            if managed_by and not args.force:
                raise ConfigError(
                    f"strategy {args.name!r} is managed by the TradingStrategy {managed_by}: "
                    "change the resource (kubectl edit/patch), or pass --force"
                )
            base = None if row is None or row["deleted_at"] is not None else row["settings"]
            new = build_settings(base, from_env=args.from_env, assignments=args.assignments)
            await strategy_queries.upsert_strategy(
                conn, args.name, new.model_dump(mode="json"), source="cli"
            )
            print(f"strategy {args.name} saved")
            return 0
        flag, value = _FLAGS[args.action]
        if managed_by and not value:
            # Stopping always works from here; releasing the brakes is the resource's job (a
            # stop made here holds against it until it takes the stop over and lets it go).
            raise ConfigError(
                f"strategy {args.name!r} is managed by the TradingStrategy {managed_by}: "
                f"set spec.{flag}=true on the resource (it takes the stop over), then "
                f"spec.{flag}=false"
            )
        held = managed_by is not None
        if not await strategy_queries.set_strategy_flag(conn, args.name, flag, value, hold=held):
            raise ConfigError(f"no strategy named {args.name!r}")
        print(f"strategy {args.name}: {flag}={str(value).lower()}")
        if held:
            print(
                f"note: managed by the TradingStrategy {managed_by}; this stop holds against it"
                f" (its operator keeps it) until the resource sets spec.{flag}=true, then"
                f" spec.{flag}=false"
            )
    return 0


async def _status(conn: Any, args: argparse.Namespace) -> int:
    now = datetime.now(UTC)
    since = strategy_status.parse_since(args.since, now)
    status = await execution_status.strategy_status(conn, args.name, now, since)
    if status is None:
        raise ConfigError(f"no strategy named {args.name!r}")
    print(strategy_status.to_json(status) if args.json else strategy_status.to_text(status))
    return 0


def _kubernetes_owner(row: Any) -> str | None:
    """``namespace/name`` of the TradingStrategy that owns a live strategy row, if any."""
    if row is None or row["deleted_at"] is not None:
        return None
    source = str(row["source"] or "")
    return source.removeprefix("k8s:") if source.startswith("k8s:") else None
