"""``orderflow operator``: run the Kubernetes operator for TradingStrategy resources.

The operator itself lives in the ``orderflow_operator`` package (the only code that imports kopf);
this module parses arguments, loads settings, resolves the database and hands over. It is
imported lazily so ``orderflow --help`` does not pay for kopf.
"""

from __future__ import annotations

import argparse
import math

from orderflow import db
from orderflow.cli._common import add_log_format, settings_for
from orderflow.errors import ConfigError
from orderflow_operator.config import MAX_PRIORITY, MIN_PRIORITY, OperatorSettings


class _OptionalAction(argparse.HelpFormatter):
    """Shows an optional subcommand as one (``[ACTION ...]``; argparse writes ``ACTION ...``
    whether it is required or not)."""

    def _format_args(self, action: argparse.Action, default_metavar: str) -> str:
        text = super()._format_args(action, default_metavar)
        if action.nargs == argparse.PARSER and not action.required:
            return f"[{text}]"
        return text


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "operator",
        help="reconcile TradingStrategy custom resources into the strategy table (kopf)",
        description="Without ACTION: runs the operator. It watches TradingStrategy resources "
        "(orderflow.io/v1alpha1) and writes them to orderflow_strategies; pause/kill reach the "
        "executor within a second. Serves /healthz on HEALTH_PORT. Replicas coordinate through "
        "kopf peering: one works, the others wait.",
        formatter_class=_OptionalAction,
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
    p.set_defaults(handler=run, settings=(OperatorSettings,))
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
    # Its own dests: a scope given before `retire` (`operator -n NS retire`) is not replaced
    # by these defaults (every namespace), and one given on both sides can be compared.
    retire_group = r.add_mutually_exclusive_group()
    retire_group.add_argument(
        "-n", "--namespace", action="append", default=[], metavar="NS", dest="retire_namespace",
        help="the operator's namespace, as the operator takes it (repeatable; kopf patterns "
        "allowed, e.g. '!research,!lab': every namespace but those); may also come before "
        "retire",
    )  # fmt: skip
    retire_group.add_argument(
        "-A", "--all-namespaces", action="store_true", dest="retire_all_namespaces",
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
    add_log_format(r, inherit=True)
    r.set_defaults(handler=retire)


async def run(args: argparse.Namespace) -> int:
    from orderflow_operator import runner

    overrides: dict[str, object] = {}
    if args.priority is not None:
        if not MIN_PRIORITY <= args.priority <= MAX_PRIORITY:
            raise ConfigError(
                f"--priority: between {MIN_PRIORITY} and {MAX_PRIORITY} (a 64-bit integer), "
                f"got {args.priority}"
            )
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


def retire_scope(args: argparse.Namespace) -> None:
    """The retire's scope into ``namespace``/``all_namespaces``, from before or after ``retire``;
    both given and different: refused (which one was meant?)."""
    before = (args.namespace, args.all_namespaces)
    after = (args.retire_namespace, args.retire_all_namespaces)
    if any(before) and any(after) and before != after:
        raise ConfigError(
            "operator retire: --namespace/--all-namespaces given before and after retire, "
            "differently: give the scope once"
        )
    if any(after):
        args.namespace, args.all_namespaces = after


async def retire(args: argparse.Namespace) -> int:
    from orderflow_operator import retire as retiring

    retire_scope(args)
    if not 0 < args.timeout < math.inf:
        raise ConfigError(f"--timeout: must be a positive number of seconds, got {args.timeout:g}")
    settings = settings_for(OperatorSettings, args)
    namespaces = _namespaces(args)
    dsn = await db.resolve_dsn(settings)
    api = retiring.connect()
    await retiring.retire(api, dsn, namespaces, within=args.timeout, kill=args.kill_strategy)
    return 0
