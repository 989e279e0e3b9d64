"""The operator's RBAC, rendered with helm, grants exactly what the operator calls: the list in
``tests/operator/permissions.py``, which ``tests/operator/test_permissions.py`` checks against
the calls kopf really makes. Nothing cluster-wide unless the operator watches every namespace."""

from __future__ import annotations

import pytest

from tests.chart.rendering import NAMESPACE, by_kind, component, one, render
from tests.operator.permissions import granted, needed

pytestmark = pytest.mark.helm


@pytest.mark.parametrize("peering", [False, True], ids=["standalone", "peering"])
@pytest.mark.parametrize("clusterwide", [False, True], ids=["namespaced", "all-namespaces"])
def test_the_operator_role_grants_exactly_what_the_operator_needs(
    clusterwide: bool, peering: bool
) -> None:
    docs = render(
        "--set",
        f"operator.watchAllNamespaces={str(clusterwide).lower()}",
        "--set",
        f"operator.peering.enabled={str(peering).lower()}",
    )
    docs = [d for d in docs if component(d) == "operator"]  # the hook's: test_uninstall.py
    kind, other = ("ClusterRole", "Role") if clusterwide else ("Role", "ClusterRole")
    (role,) = by_kind(docs, kind)
    assert granted(role["rules"]) == needed(clusterwide=clusterwide, peering=peering)
    assert not by_kind(docs, other), f"a {other} besides the {kind}"
    assert not by_kind(docs, f"{other}Binding")
    (binding,) = by_kind(docs, f"{kind}Binding")
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": kind,
        "name": role["metadata"]["name"],
    }
    account = one(docs, "ServiceAccount", "-operator")["metadata"]["name"]
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": account, "namespace": NAMESPACE}
    ]
    operator = one(docs, "Deployment", "-operator")
    assert operator["spec"]["template"]["spec"]["serviceAccountName"] == account


def test_no_rbac_when_the_chart_is_told_not_to_create_it() -> None:
    docs = render("--set", "operator.rbac.create=false")
    for kind in ("Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding"):
        assert not by_kind(docs, kind)
    # The pre-delete hook then runs as the operator's account (docs/deploy.md: it needs
    # list and delete on tradingstrategies too).
    account = one(docs, "ServiceAccount", "-operator")["metadata"]["name"]
    (hook,) = [d for d in by_kind(docs, "Job") if component(d) == "operator-retire"]
    assert hook["spec"]["template"]["spec"]["serviceAccountName"] == account
