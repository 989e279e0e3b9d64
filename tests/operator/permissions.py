"""The Kubernetes permissions the operator needs, as RBAC grants ``(apiGroup, resource, verb)``.

One list, two checks (and the same for the chart's pre-delete hook, :func:`retire_needed`, with
``tests/operator/test_retire.py`` and ``tests/chart/test_uninstall.py``):
``tests/operator/test_permissions.py`` runs kopf on kmock and compares the
API calls it really makes with :func:`needed`; ``tests/chart/test_rbac.py`` renders the chart's
Role/ClusterRole with helm and compares their rules with the same list. Discovery (``/api``,
``/apis/...``, ``/version``) is not in it: those are non-resource URLs every authenticated
account may read (Kubernetes' ``system:discovery`` role).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import kmock

Grant = tuple[str, str, str]  # (apiGroup, resource[/subresource], verb)

# HTTP method -> RBAC verb (GET is get, list or watch, told apart below).
_VERBS = {"POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}


def needed(*, clusterwide: bool, peering: bool, scanning: bool = False) -> frozenset[Grant]:
    """What ``orderflow operator`` (kopf, exact namespaces or ``-A``) calls.

    * TradingStrategies: list + watch (kopf's watch stream starts with a list), patch
      (finalizer, kopf's progress annotations); never get (kopf reads objects from the stream)
      nor update (kopf merge- or JSON-patches);
    * their status subresource: patch;
    * core Events: create (kopf posts ``v1`` Events, never ``events.k8s.io``);
    * with peering, kopf's peering object: list + watch (to see the peers), patch (its own entry);
      ``clusterkopfpeerings`` with ``-A``, ``kopfpeerings`` in the namespace otherwise;
    * with a namespace pattern (``scanning``, ``scope.needs_scanning``): Namespaces and
      CustomResourceDefinitions, list + watch (kopf's scanning; kmock cannot serve a
      cluster-wide namespace list, so ``test_permissions.py`` cannot record this case).
    """
    grants = {
        ("orderflow.io", "tradingstrategies", "list"),
        ("orderflow.io", "tradingstrategies", "watch"),
        ("orderflow.io", "tradingstrategies", "patch"),
        ("orderflow.io", "tradingstrategies/status", "patch"),
        ("", "events", "create"),
    }
    if scanning:
        grants |= {
            (group, plural, verb)
            for group, plural in (
                ("", "namespaces"),
                ("apiextensions.k8s.io", "customresourcedefinitions"),
            )
            for verb in ("list", "watch")
        }
    if peering:
        plural = "clusterkopfpeerings" if clusterwide else "kopfpeerings"
        grants |= {("kopf.dev", plural, verb) for verb in ("list", "watch", "patch")}
    return frozenset(grants)


def retire_needed() -> frozenset[Grant]:
    """What ``orderflow operator retire`` (the chart's pre-delete hook) calls, in one namespace
    or cluster-wide alike: list the TradingStrategies (again while it waits for them to go),
    delete each. Never get, watch or patch: the operator's finalizer does the rest."""
    return frozenset(
        {
            ("orderflow.io", "tradingstrategies", "list"),
            ("orderflow.io", "tradingstrategies", "delete"),
        }
    )


def requested(requests: Iterable[kmock.Request], agent: str = "kopf/") -> frozenset[Grant]:
    """The grants the requests of one client needed: those whose User-Agent starts with
    ``agent`` (kopf's by default; ``RETIRE_AGENT`` for ``orderflow operator retire``)."""
    grants = set()
    for request in requests:
        if not request.headers.get("User-Agent", "").startswith(agent):
            continue  # another client (the test's own `kubectl`, the operator)
        resource = request.resource
        if resource is None or not resource.plural:
            path = request.url.path
            assert path == "/version" or path.startswith(("/api", "/apis")), path
            continue  # discovery
        plural = resource.plural + (f"/{request.subresource}" if request.subresource else "")
        method = str(request.method.value).upper()
        if method == "GET":
            watching = request.params.get("watch") in ("true", "1")
            verb = "watch" if watching else ("get" if request.name else "list")
        else:
            verb = _VERBS[method]
        grants.add((resource.group or "", plural, verb))
    return frozenset(grants)


def granted(rules: Iterable[Mapping[str, Any]]) -> frozenset[Grant]:
    """The grants of RBAC rules (a Role's or ClusterRole's ``rules``)."""
    return frozenset(
        (group, resource, verb)
        for rule in rules
        for group in rule.get("apiGroups", [])
        for resource in rule.get("resources", [])
        for verb in rule.get("verbs", [])
    )
