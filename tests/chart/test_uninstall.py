"""`helm uninstall` retires every TradingStrategy while the operator and the executor still run.

Helm deletes a release's objects by kind, kinds it does not know (TradingStrategy) last, and
never the CRD: the operator's Deployment, its RBAC and the Secrets went first, and a
TradingStrategy (the example one, or any a user made) kept a finalizer nobody removed any more,
its strategy never killed. The chart now runs ``orderflow operator retire`` as a pre-delete hook
(hooks run before Helm deletes anything); what the command does is tested on kmock with the real
operator (tests/operator/test_retire.py), the calls it makes against the same grants as here.
"""

from __future__ import annotations

from typing import Any

import pytest

from orderflow.cli import build_parser
from orderflow.cli.operator import retire_scope
from tests.chart.rendering import (
    NAMESPACE,
    SCENARIOS,
    Manifest,
    by_kind,
    component,
    one,
    pod_template,
    render,
    render_error,
)
from tests.operator.permissions import granted, needed, retire_needed

pytestmark = pytest.mark.helm

HOOK = "operator-retire"
EXAMPLE = ("--set", "exampleStrategy.enabled=true")


def hook_objects(docs: list[Manifest]) -> dict[str, Manifest]:
    """The pre-delete hook's objects by kind."""
    found = {
        d["kind"]: d
        for d in docs
        if component(d) == HOOK
        and d["metadata"].get("annotations", {}).get("helm.sh/hook") == "pre-delete"
    }
    return found


def weight(doc: Manifest) -> int:
    return int(doc["metadata"]["annotations"].get("helm.sh/hook-weight", "0"))


def scope_args(args: list[str]) -> list[str]:
    """The namespace arguments of an `orderflow operator` command line."""
    out = []
    for i, arg in enumerate(args):
        if arg == "-A":
            out.append(arg)
        if arg == "--namespace":
            out += args[i : i + 2]
    return out


@pytest.mark.parametrize("clusterwide", [False, True], ids=["namespaced", "all-namespaces"])
def test_uninstall_retires_every_strategy_before_the_operator_goes(clusterwide: bool) -> None:
    docs = render(*EXAMPLE, "--set", f"operator.watchAllNamespaces={str(clusterwide).lower()}")
    hook = hook_objects(docs)
    kind = "ClusterRole" if clusterwide else "Role"
    assert set(hook) == {"ServiceAccount", kind, f"{kind}Binding", "Job"}, sorted(hook)
    job, account, role, binding = (
        hook[k] for k in ("Job", "ServiceAccount", kind, f"{kind}Binding")
    )
    for doc in hook.values():
        policy = doc["metadata"]["annotations"]["helm.sh/hook-delete-policy"]
        # Recreated on a retried uninstall; removed once it worked; a failed Job stays for its logs.
        assert set(policy.split(",")) == {"before-hook-creation", "hook-succeeded"}
    for doc in (account, role, binding):
        assert weight(doc) < weight(job), f"{doc['kind']} must exist before the Job starts"

    # The Job runs the real command, over the operator's own scope.
    spec = pod_template(job)["spec"]
    (container,) = spec["containers"]
    args = container["args"]
    parsed = build_parser().parse_args(args)
    from orderflow.cli.operator import retire

    assert parsed.handler is retire
    operator = one(docs, "Deployment", "-operator")
    operator_args = operator["spec"]["template"]["spec"]["containers"][0]["args"]
    assert (
        scope_args(args)
        == scope_args(operator_args)
        == (["-A"] if clusterwide else ["--namespace", NAMESPACE])
    )
    assert parsed.timeout < job["spec"]["activeDeadlineSeconds"]
    assert job["spec"]["backoffLimit"] == 0, "a failed retire must fail the uninstall at once"
    assert spec["restartPolicy"] == "Never"
    # It waits for the executor's cancels in the database: DATABASE_URL by reference.
    env = {e["name"]: e for e in container["env"]}
    assert env["DATABASE_URL"]["valueFrom"]["secretKeyRef"]["name"] == "orderflow-secrets"

    # Its own account, with exactly what the command calls (tests/operator/test_retire.py).
    assert spec["serviceAccountName"] == account["metadata"]["name"]
    assert spec["automountServiceAccountToken"] is True
    assert granted(role["rules"]) == retire_needed()
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": kind,
        "name": role["metadata"]["name"],
    }
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": account["metadata"]["name"], "namespace": NAMESPACE}
    ]
    # Hook objects are not release objects: they must not share a name with the operator's.
    operator_role = [d for d in by_kind(docs, kind) if component(d) == "operator"]
    assert role["metadata"]["name"] not in {r["metadata"]["name"] for r in operator_role}


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.name)
def test_every_release_with_an_operator_has_the_hook(scenario: Any) -> None:
    docs = render(*scenario.args)
    assert "Job" in hook_objects(docs), scenario.name


def test_no_hook_without_an_operator() -> None:
    assert not hook_objects(render("--set", "operator.enabled=false"))


def test_the_hook_timeout_comes_from_values() -> None:
    docs = render("--set", "operator.retire.timeoutSeconds=900")
    job = hook_objects(docs)["Job"]
    args = pod_template(job)["spec"]["containers"][0]["args"]
    assert build_parser().parse_args(args).timeout == 900
    assert job["spec"]["activeDeadlineSeconds"] > 900


@pytest.mark.parametrize(
    ("values", "killed"),
    [
        ((), ["default"]),
        (("--set", "executor.extraEnv.STRATEGY_NAME=seed"), ["seed"]),
        (("--set", "config.extraEnv.STRATEGY_NAME=seed"), ["seed"]),
        (
            (
                "--set",
                "config.extraEnv.STRATEGY_NAME=other",
                "--set",
                "executor.extraEnv.STRATEGY_NAME=seed",
            ),
            ["seed"],
        ),
        (("--set", "executor.extraEnv.EXECUTOR_STRATEGIES=whale\\,seed"), []),
        (("--set", "executor.enabled=false"), []),
    ],
    ids=["default", "renamed", "renamed-for-all", "executor-wins", "not-run", "no-executor"],
)
def test_the_hook_kills_the_executors_own_strategy(
    values: tuple[str, ...], killed: list[str]
) -> None:
    """The executor's seeded strategy is no TradingStrategy: the hook kills it by name (and
    waits for its cancels) when this release's executor runs it. Before, the hook left it
    trading and `helm uninstall` deleted the executor with its live orders resting."""
    job = hook_objects(render(*values))["Job"]
    parsed = build_parser().parse_args(pod_template(job)["spec"]["containers"][0]["args"])
    assert parsed.kill_strategy == killed


def test_a_cluster_wide_release_leaves_the_namespaces_it_excludes_to_their_release() -> None:
    """Next to a namespace-scoped release (namespace research), a cluster-wide one lists that
    namespace in operator.excludeNamespaces: its operator and its hook both take the same kopf
    pattern (every namespace but those), so the hook no longer deletes the other release's
    TradingStrategies and the operator no longer reconciles them."""
    docs = render(
        "--set",
        "operator.watchAllNamespaces=true",
        "--set",
        "operator.excludeNamespaces={research,lab}",
    )
    job = hook_objects(docs)["Job"]
    args = pod_template(job)["spec"]["containers"][0]["args"]
    operator = one(docs, "Deployment", "-operator")
    operator_args = operator["spec"]["template"]["spec"]["containers"][0]["args"]
    assert scope_args(args) == scope_args(operator_args) == ["--namespace", "!research,!lab"]
    parsed = build_parser().parse_args(args)
    retire_scope(parsed)  # a scope given after `retire` is the retire's (orderflow.cli.operator)
    assert parsed.namespace == ["!research,!lab"]
    # A pattern turns kopf's namespace scanning on: the operator lists and watches Namespaces
    # and CRDs too (docs/operator.md, "Kubernetes permissions").
    (role,) = (d for d in by_kind(docs, "ClusterRole") if component(d) == "operator")
    assert granted(role["rules"]) == needed(clusterwide=True, peering=False, scanning=True)


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ((), "operator.excludeNamespaces needs operator.watchAllNamespaces=true"),
        (
            ("--set", "operator.watchAllNamespaces=true", "--set", "operator.peering.enabled=true"),
            "operator.excludeNamespaces cannot be combined with operator.peering.enabled",
        ),
    ],
    ids=["namespaced", "peering"],
)
def test_excluded_namespaces_need_a_cluster_wide_standalone_operator(
    values: tuple[str, ...], message: str
) -> None:
    assert message in render_error(*values, "--set", "operator.excludeNamespaces={research}")
