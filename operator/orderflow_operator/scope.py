"""Which namespaces an operator started with ``-n``/``-A`` watches, in kopf's own terms.

Each ``-n`` value is a kopf namespace pattern: a name, or comma-separated globs where ``!``
excludes (``"!research,!lab"``: every namespace but those two). The uninstall hook
(``retire``) and the orphan check (``orphans``) use :func:`watches` so they cover exactly the
namespaces the operator's watch does.
"""

from __future__ import annotations

from collections.abc import Sequence

from kopf._cogs.structs.references import NamespaceName, match_namespace  # kopf's -n patterns

# What makes a kopf namespace argument a pattern rather than one namespace's name.
_PATTERN_CHARS = frozenset("!*?,")


def needs_scanning(namespaces: Sequence[str]) -> bool:
    """Whether kopf must observe the cluster: only namespace patterns (globs, negations) need it.

    kopf's "scanning" lists and watches Namespaces (to match patterns, when not cluster-wide)
    and CustomResourceDefinitions (to notice resources added after start). Exact namespaces and
    ``-A`` need neither: the TradingStrategy CRD is there before the operator starts (the chart
    installs it first), and kopf's discovery of it at start-up reads the API's discovery
    endpoints, which every account may read. Without scanning, the operator needs no
    cluster-wide read of Namespaces or CRDs (docs/operator.md, "Kubernetes permissions").
    """
    return any(_PATTERN_CHARS & set(ns) for ns in namespaces)


def watches(namespaces: Sequence[str], namespace: str) -> bool:
    """Whether an operator started with these ``-n`` values (none: ``-A``) watches
    ``namespace``."""
    name = NamespaceName(namespace)
    return not namespaces or any(match_namespace(name, p) for p in namespaces)
