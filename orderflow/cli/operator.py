"""``orderflow operator``: run the Kubernetes operator for TradingStrategy resources.

The operator itself lives in the ``orderflow_operator`` package (the only code that imports kopf);
this module parses arguments, loads settings, resolves the database and hands over. It is
imported lazily so ``orderflow --help`` does not pay for kopf.
"""

from __future__ import annotations

import argparse

from orderflow import db
from orderflow.cli._common import add_log_format, settings_for
from orderflow.errors import ConfigError


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "operator",
        help="reconcile TradingStrategy custom resources into the strategy table (kopf)",
        description="Watches TradingStrategy resources (orderflow.io/v1alpha1) and writes them to "
        "orderflow_strategies; pause/kill reach the executor within a second. Serves /healthz "
        "on HEALTH_PORT. Replicas coordinate through kopf peering: one works, the others wait.",
    )
    scope = p.add_mutually_exclusive_group()
    scope.add_argument(
        "-n",
        "--namespace",
        action="append",
        default=[],
        metavar="NS",
        help="watch this namespace (repeatable; globs allowed)",
    )
    scope.add_argument(
        "-A",
        "--all-namespaces",
        action="store_true",
        help="watch every namespace (the default when no --namespace is given)",
    )
    p.add_argument(
        "--standalone",
        action="store_true",
        help="no peering: for a single replica, or a cluster without kopf's peering CRDs",
    )
    p.add_argument("--priority", type=int, help="peering priority (default: random per process)")
    p.add_argument("--peering", help="peering object name (default OPERATOR_PEERING_NAME)")
    add_log_format(p)
    p.set_defaults(handler=run)
    actions = p.add_subparsers(dest="action", metavar="ACTION")
    r = actions.add_parser(
        "retire",
        help="delete every TradingStrategy and wait until the operator retired them "
        "(the chart's pre-delete hook)",
        description="Deletes every TradingStrategy in the operator's scope, waits until the "
        "operator's finalizer has killed each strategy and marked it deleted, then until the "
        "executor has cancelled their live orders. Fails, naming what is left, when that takes "
        "longer than --timeout. Run while the operator and the executor still run (helm "
        "uninstall runs it first).",
    )
    retire_scope = r.add_mutually_exclusive_group()
    retire_scope.add_argument(
        "-n", "--namespace", action="append", default=[], metavar="NS",
        help="the operator's namespace, as the operator takes it (repeatable; kopf patterns "
        "allowed, e.g. '!research,!lab': every namespace but those)",
    )  # fmt: skip
    retire_scope.add_argument(
        "-A", "--all-namespaces", action="store_true",
        help="every namespace (the default when no --namespace is given)",
    )  # fmt: skip
    r.add_argument(
        "--kill-strategy", action="append", default=[], metavar="NAME",
        help="also kill this strategy and wait for its live orders' cancels (repeatable): the "
        "executor's own one (STRATEGY_NAME), which no TradingStrategy owns",
    )  # fmt: skip
    r.add_argument(
        "--timeout", type=float, default=240.0, metavar="SECS",
        help="fail when not done within this many seconds (default 240)",
    )  # fmt: skip
    add_log_format(r)
    r.set_defaults(handler=retire)


async def run(args: argparse.Namespace) -> int:
    from orderflow_operator import runner
    from orderflow_operator.config import OperatorSettings

    overrides: dict[str, object] = {}
    if args.priority is not None:
        overrides["priority"] = args.priority
    if args.peering:
        overrides["peering_name"] = args.peering
    settings = settings_for(OperatorSettings, args, **overrides)
    namespaces = _namespaces(args)
    dsn = await db.resolve_dsn(settings)
    await runner.run(
        settings,
        dsn,
        namespaces=namespaces,
        clusterwide=not namespaces,
        standalone=args.standalone,
    )
    return 0


def _namespaces(args: argparse.Namespace) -> list[str]:
    namespaces = [ns for ns in args.namespace if ns]
    if args.namespace and not namespaces:
        raise ConfigError("--namespace needs a namespace name")
    return namespaces


async def retire(args: argparse.Namespace) -> int:
    from orderflow_operator import retire as retiring
    from orderflow_operator.config import OperatorSettings

    settings = settings_for(OperatorSettings, args)
    namespaces = _namespaces(args)
    dsn = await db.resolve_dsn(settings)
    api = retiring.connect()
    await retiring.retire(api, dsn, namespaces, within=args.timeout, kill=args.kill_strategy)
    return 0
