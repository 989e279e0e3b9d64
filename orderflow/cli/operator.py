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


async def run(args: argparse.Namespace) -> int:
    from orderflow_operator import runner
    from orderflow_operator.config import OperatorSettings

    overrides: dict[str, object] = {}
    if args.priority is not None:
        overrides["priority"] = args.priority
    if args.peering:
        overrides["peering_name"] = args.peering
    settings = settings_for(OperatorSettings, args, **overrides)
    namespaces = [ns for ns in args.namespace if ns]
    if args.namespace and not namespaces:
        raise ConfigError("--namespace needs a namespace name")
    dsn = await db.resolve_dsn(settings)
    await runner.run(
        settings,
        dsn,
        namespaces=namespaces,
        clusterwide=not namespaces,
        standalone=args.standalone,
    )
    return 0
