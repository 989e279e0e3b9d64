"""What matters in the rendered workloads: schedules, hooks, probes, rollout strategies (the
operator's RBAC: test_rbac.py; secrets, environment and config roll-outs:
test_workload_config.py)."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.chart.rendering import (
    DEV_RPC,
    NAMESPACE,
    SCENARIOS,
    VALUES_DEV,
    VALUES_PROD,
    Manifest,
    Scenario,
    by_kind,
    component,
    one,
    pod_spec,
    pod_template,
    render,
    workloads,
)
from tests.conftest import ROOT

pytestmark = pytest.mark.helm

DEV = ("-f", str(VALUES_DEV), "--set", f"secrets.polygonRpcUrl={DEV_RPC}")
SERVICES = {"listener", "executor", "operator"}


def test_reputation_cronjob_defaults() -> None:
    cron = one(render(), "CronJob", "-reputation")
    spec = cron["spec"]
    assert spec["schedule"] == "0 * * * *"
    assert spec["concurrencyPolicy"] == "Forbid"
    assert spec["successfulJobsHistoryLimit"] == 3
    assert spec["failedJobsHistoryLimit"] == 3
    assert spec["startingDeadlineSeconds"] > 0
    job = spec["jobTemplate"]["spec"]
    assert 0 < job["activeDeadlineSeconds"] < 3600, "a run must end before the next hourly slot"
    container = job["template"]["spec"]["containers"][0]
    assert container["args"] == ["reputation", "run"]
    assert job["template"]["spec"]["restartPolicy"] == "Never"


def test_reputation_schedule_comes_from_values() -> None:
    cron = one(render("--set", "reputation.schedule=*/5 * * * *"), "CronJob", "-reputation")
    assert cron["spec"]["schedule"] == "*/5 * * * *"
    dev = one(render(*DEV), "CronJob", "-reputation")
    assert dev["spec"]["schedule"] == "*/15 * * * *"
    assert not by_kind(render("--set", "reputation.enabled=false"), "CronJob")


def test_migrations_run_as_pre_install_and_pre_upgrade_hook() -> None:
    docs = render()
    job = one(docs, "Job", "-migrations")
    annotations = job["metadata"]["annotations"]
    assert annotations["helm.sh/hook"] == "pre-install,pre-upgrade"
    assert "helm.sh/hook-weight" in annotations
    assert set(annotations["helm.sh/hook-delete-policy"].split(",")) == {
        "before-hook-creation",
        "hook-succeeded",
    }
    container = job["spec"]["template"]["spec"]["containers"][0]
    assert container["args"] == ["migrate"]
    # A hook runs before the release's ConfigMap exists: nothing may come from it.
    assert "envFrom" not in container
    db_ref = {e["name"]: e for e in container["env"]}["DATABASE_URL"]["valueFrom"]["secretKeyRef"]
    assert db_ref["name"] == "orderflow-secrets"  # the existing Secret, present before install


def test_migrations_hook_gets_its_own_secret_when_the_chart_creates_one() -> None:
    docs = render(*next(s for s in SCENARIOS if s.name == "values-secret").args)
    job = one(docs, "Job", "-migrations")
    hook_secret = one(docs, "Secret", "-migrations")
    assert hook_secret["metadata"]["annotations"]["helm.sh/hook"] == "pre-install,pre-upgrade"
    assert int(hook_secret["metadata"]["annotations"]["helm.sh/hook-weight"]) < int(
        job["metadata"]["annotations"]["helm.sh/hook-weight"]
    ), "the Secret must exist before the Job starts"
    env = {e["name"]: e for e in job["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert (
        env["DATABASE_URL"]["valueFrom"]["secretKeyRef"]["name"] == hook_secret["metadata"]["name"]
    )


def test_migrations_with_dev_database_are_a_per_revision_job() -> None:
    """A pre-install hook cannot wait for the release's own PostgreSQL: a plain Job retries."""
    job = one(render(*DEV), "Job", "-migrations-r1")
    assert "helm.sh/hook" not in job["metadata"].get("annotations", {})
    assert job["spec"]["backoffLimit"] >= 3


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.name)
def test_services_probe_the_real_health_endpoints(scenario: Scenario) -> None:
    docs = render(*scenario.args)
    seen = set()
    for doc, spec in workloads(docs):
        if component(doc) not in SERVICES:
            continue
        seen.add(component(doc))
        (container,) = spec["containers"]
        ports = {p["name"]: p["containerPort"] for p in container["ports"]}
        assert ports == {"http": 8080}
        live, ready = container["livenessProbe"], container["readinessProbe"]
        assert live["httpGet"] == {"path": "/healthz", "port": "http"}
        expected_ready = "/healthz" if component(doc) == "operator" else "/readyz"
        assert ready["httpGet"] == {"path": expected_ready, "port": "http"}
        assert "exec" not in live and "exec" not in ready, "no pgrep-style probes"
        assert container["resources"]["requests"] and container["resources"]["limits"]["memory"]
    assert seen == SERVICES


def test_health_port_value_moves_port_and_env_together() -> None:
    docs = render("--set", "config.healthPort=9090")
    config = one(docs, "ConfigMap", "-orderflow")
    assert config["data"]["HEALTH_PORT"] == "9090"
    for doc, spec in workloads(docs):
        if component(doc) in SERVICES:
            assert spec["containers"][0]["ports"][0]["containerPort"] == 9090


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.name)
def test_every_container_is_locked_down(scenario: Scenario) -> None:
    for doc, spec in workloads(render(*scenario.args)):
        where = f"{doc['kind']}/{doc['metadata']['name']}"
        pod_sc = spec["securityContext"]
        assert pod_sc["runAsNonRoot"] is True, where
        assert pod_sc["runAsUser"] > 0, where
        assert pod_sc["seccompProfile"] == {"type": "RuntimeDefault"}, where
        volumes = {v["name"]: v for v in spec.get("volumes", [])}
        for container in spec["containers"] + spec.get("initContainers", []):
            sc = container["securityContext"]
            assert sc["allowPrivilegeEscalation"] is False, where
            assert sc["readOnlyRootFilesystem"] is True, where
            assert sc["capabilities"] == {"drop": ["ALL"]}, where
            assert sc.get("privileged", False) is False, where
            mounts = {m["mountPath"]: m["name"] for m in container.get("volumeMounts", [])}
            assert "/tmp" in mounts, f"{where}: a read-only root needs a writable /tmp"
            assert "emptyDir" in volumes[mounts["/tmp"]], where
        # Only the operator and its pre-delete hook talk to the Kubernetes API.
        automount = spec.get("automountServiceAccountToken")
        assert automount is (component(doc) in ("operator", "operator-retire")), where


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.name)
def test_no_orderflow_pod_can_start_a_database_of_its_own(scenario: Scenario) -> None:
    """Without DATABASE_URL, orderflow starts an embedded PostgreSQL under ORDERFLOW_DATA_DIR
    (the image's /var/lib/orderflow). A Secret whose DATABASE_URL is empty (a `kubectl create
    secret --from-literal=DATABASE_URL=$UNSET_VARIABLE`) made every pod do so in a writable
    emptyDir: the migrations hook succeeded on a throwaway database, and each executor replica
    traded on its own one, each holding its own leader lock. Only /tmp is writable, so such a
    pod stops at once (read-only file system) instead."""
    dockerfile = (ROOT / "images" / "Dockerfile").read_text()
    found = re.search(r"ORDERFLOW_DATA_DIR=(\S+)", dockerfile)
    assert found, "the image sets ORDERFLOW_DATA_DIR"
    data_dir = found.group(1)
    for doc, spec in workloads(render(*scenario.args)):
        if component(doc) == "postgresql":
            continue
        for container in spec["containers"] + spec.get("initContainers", []):
            where = f"{doc['kind']}/{doc['metadata']['name']}/{container['name']}"
            writable = {
                m["mountPath"] for m in container.get("volumeMounts", []) if not m.get("readOnly")
            }
            assert writable == {"/tmp"}, where
            assert not any(data_dir == w or data_dir.startswith(w + "/") for w in writable)
            assert "ORDERFLOW_DATA_DIR" not in {e["name"] for e in container.get("env", [])}


def test_executor_never_runs_two_traders_during_a_rollout() -> None:
    for scenario in SCENARIOS:
        deployment = one(render(*scenario.args), "Deployment", "-executor")
        assert deployment["spec"]["strategy"] == {"type": "Recreate"}, scenario.name
    operator = one(render(), "Deployment", "-operator")
    assert operator["spec"]["strategy"] == {"type": "Recreate"}
    assert operator["spec"]["replicas"] == 1


def test_commands_per_role() -> None:
    docs = render()
    args = {
        component(doc): spec["containers"][0]["args"]
        for doc, spec in workloads(docs)
        if component(doc) != "test"
    }

    assert args["listener"] == ["listen"]
    assert args["executor"] == ["execute"]
    assert args["operator"] == ["operator", "--namespace", NAMESPACE, "--standalone"]
    assert args["migrations"] == ["migrate"]
    assert args["reputation"] == ["reputation", "run"]
    cluster_wide = one(
        render("--set", "operator.watchAllNamespaces=true"), "Deployment", "-operator"
    )
    cluster_args = cluster_wide["spec"]["template"]["spec"]["containers"][0]["args"]
    assert cluster_args == ["operator", "-A", "--standalone"]


@pytest.mark.parametrize("cluster_wide", [False, True])
def test_operator_peering(cluster_wide: bool) -> None:
    """With peering, replicas share one kopf peering object the operator may patch; without,
    the operator runs --standalone."""
    scope = ("--set", f"operator.watchAllNamespaces={str(cluster_wide).lower()}")
    docs = render(*scope, "--set", "operator.peering.enabled=true", "--set", "operator.replicas=2")
    kind = "ClusterKopfPeering" if cluster_wide else "KopfPeering"
    (peering,) = by_kind(docs, kind)
    assert peering["apiVersion"] == "kopf.dev/v1"
    operator = one(docs, "Deployment", "-operator")
    assert operator["spec"]["replicas"] == 2
    container = operator["spec"]["template"]["spec"]["containers"][0]
    assert "--standalone" not in container["args"]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["OPERATOR_PEERING_NAME"] == peering["metadata"]["name"]
    # The rights to it: tests/chart/test_rbac.py.
    standalone = render(*scope)
    assert not by_kind(standalone, kind)


def test_metrics_services_and_service_monitor() -> None:
    docs = render(*("-f", str(VALUES_PROD)))
    services = {s["metadata"]["name"]: s for s in by_kind(docs, "Service")}
    assert set(services) == {"of-orderflow-listener-metrics", "of-orderflow-executor-metrics"}
    for service in services.values():
        assert service["spec"]["ports"][0]["targetPort"] == "http"
        assert service["metadata"]["labels"]["orderflow.io/metrics"] == "true"
    (monitor,) = by_kind(docs, "ServiceMonitor")
    assert monitor["spec"]["selector"]["matchLabels"]["orderflow.io/metrics"] == "true"
    assert monitor["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    assert not by_kind(render(), "ServiceMonitor")


def test_dev_database_statefulset_with_claim() -> None:
    docs = render(*DEV)
    statefulset = one(docs, "StatefulSet", "-postgresql")
    (claim,) = statefulset["spec"]["volumeClaimTemplates"]
    assert claim["spec"]["resources"]["requests"]["storage"] == "2Gi"
    secret = one(docs, "Secret", "of-orderflow")
    assert secret["stringData"]["DATABASE_URL"] == (
        "postgresql://orderflow:orderflow-dev-only@of-orderflow-postgresql:5432/orderflow"
    )
    assert not by_kind(render(), "StatefulSet"), "the dev database is off by default"
    # Passwords with URL-reserved characters are escaped in DATABASE_URL.
    odd = one(render(*DEV, "--set", "postgresql.auth.password=a@b/c"), "Secret", "of-orderflow")
    assert "a%40b%2Fc@" in odd["stringData"]["DATABASE_URL"]


def test_grafana_dashboard_configmap() -> None:
    import json

    docs = render("--set", "grafanaDashboard.enabled=true")
    dashboard = one(docs, "ConfigMap", "-dashboard")
    assert dashboard["metadata"]["labels"]["grafana_dashboard"] == "1"
    board = json.loads(dashboard["data"]["orderflow.json"])
    titles = " ".join(p["title"].lower() for p in board["panels"])
    for topic in ("ingest", "head lag", "signals", "open positions", "p&l"):
        assert topic in titles


def test_dashboard_queries_what_the_code_exports() -> None:
    """Every Prometheus metric the dashboard plots is created somewhere in the package (counters
    gain `_total` on export), and every SQL panel reads tables and columns of the migrations."""
    import json
    import re

    from tests.chart.exported import exported_series, orderflow_series
    from tests.conftest import ROOT

    board = json.loads((ROOT / "charts/orderflow/dashboards/orderflow.json").read_text())
    exported = exported_series()
    schema = "\n".join(p.read_text() for p in (ROOT / "migrations").glob("*.sql"))
    for panel in board["panels"]:
        for target in panel["targets"]:
            if "expr" in target:
                for metric in orderflow_series(target["expr"]):
                    assert metric in exported, f"{panel['title']}: {metric} is not exported"
            else:
                query = target["rawSql"]
                for table in re.findall(r"\bFROM\s+(\w+)", query):
                    assert re.search(rf"CREATE TABLE {table}\b", schema), table
                for column in ("strategy", "status", "cost_basis", "unrealized_pnl", "total_pnl"):
                    if column in query:
                        assert re.search(rf"^\s+{column}\s", schema, re.M), column


def test_network_policies() -> None:
    assert not by_kind(render(), "NetworkPolicy"), "off by default (needs an enforcing CNI)"
    docs = render(*DEV, "--set", "networkPolicy.enabled=true")
    policies = {p["metadata"]["name"]: p["spec"] for p in by_kind(docs, "NetworkPolicy")}
    apps, database = policies["of-orderflow"], policies["of-orderflow-postgresql"]
    (rule,) = apps["ingress"]
    assert rule["ports"] == [{"port": 8080, "protocol": "TCP"}]
    assert "from" not in rule  # metricsFrom empty: any source, but only on the health port
    (db_rule,) = database["ingress"]
    assert db_rule["ports"] == [{"port": 5432, "protocol": "TCP"}]
    (peer,) = db_rule["from"]
    assert peer["podSelector"]["matchLabels"]["app.kubernetes.io/instance"] == "of"
    prod = render("-f", str(VALUES_PROD))
    (prod_policy,) = by_kind(prod, "NetworkPolicy")
    (prod_rule,) = prod_policy["spec"]["ingress"]
    assert prod_rule["from"][0]["namespaceSelector"]["matchLabels"] == {
        "kubernetes.io/metadata.name": "monitoring"
    }


def test_selectors_survive_upgrades() -> None:
    """Selectors are immutable: they may only hold labels that never change between releases
    (no chart version, no app version), and each one picks out exactly one component."""
    stable = {"app.kubernetes.io/name", "app.kubernetes.io/instance", "app.kubernetes.io/component"}
    docs = render(*DEV, "--set", "image.tag=9.9.9")
    for doc in docs:
        if doc["kind"] in ("Deployment", "StatefulSet"):
            selector = doc["spec"]["selector"]["matchLabels"]
            assert set(selector) == stable, doc["metadata"]["name"]
            labels = pod_template(doc)["metadata"]["labels"]
            assert selector.items() <= labels.items()
        if doc["kind"] == "Service":
            assert set(doc["spec"]["selector"]) == stable


def test_helm_test_pod_checks_every_metrics_service() -> None:
    docs = render()
    (pod,) = [d for d in by_kind(docs, "Pod") if component(d) == "test"]
    assert pod["metadata"]["annotations"]["helm.sh/hook"] == "test"
    command = pod["spec"]["containers"][0]["command"]
    services = {s["metadata"]["name"] for s in by_kind(docs, "Service")}
    urls = [c for c in command if c.startswith("http://")]
    assert {u.split("//")[1].split(":")[0] for u in urls} == services
    assert {u.rsplit("/", 1)[1] for u in urls} == {"readyz", "metrics"}
    # Under a restrictive NetworkPolicy the test pod is still let in.
    prod = render("-f", str(VALUES_PROD))
    (policy,) = by_kind(prod, "NetworkPolicy")
    sources = policy["spec"]["ingress"][0]["from"]
    assert any(
        s.get("podSelector", {}).get("matchLabels", {}).get("app.kubernetes.io/component") == "test"
        for s in sources
    )


def test_dev_pods_wait_for_the_dev_database() -> None:
    docs = render(*DEV)
    database = one(docs, "Service", "-postgresql")["metadata"]["name"]
    waiting = set()
    for doc, spec in workloads(docs):
        for init in spec.get("initContainers", []):
            assert init["name"] == "wait-for-database"
            assert init["command"][-2:] == [database, "5432"]
            waiting.add(component(doc))
    assert waiting == {"listener", "executor", "operator", "migrations", "reputation"}
    assert not any(spec.get("initContainers") for _, spec in workloads(render()))


def test_disruption_budgets_only_for_replicated_components() -> None:
    assert not by_kind(render(), "PodDisruptionBudget"), "a one-pod budget would block drains"
    docs = render(*next(s for s in SCENARIOS if s.name == "all-features").args)
    budgets = {b["metadata"]["name"]: b["spec"] for b in by_kind(docs, "PodDisruptionBudget")}
    assert set(budgets) == {"of-orderflow-executor", "of-orderflow-operator"}
    for name, spec in budgets.items():
        assert spec["maxUnavailable"] == 1
        deployment = one(docs, "Deployment", name.removeprefix("of-orderflow"))
        assert spec["selector"]["matchLabels"] == deployment["spec"]["selector"]["matchLabels"]


def test_replicas_spread_across_nodes() -> None:
    """A hot standby on the executor's node dies with it: a component with more than one replica
    asks the scheduler to put them on different nodes (soft, so a one-node cluster still runs
    both); one replica asks nothing; `spreadAcrossNodes=false` leaves it to `affinity`."""

    def spread(docs: list[Manifest], suffix: str) -> list[dict[str, Any]]:
        spec = pod_spec(one(docs, "Deployment", suffix))
        assert spec is not None
        return list(spec.get("topologySpreadConstraints", []))

    docs = render(*next(s for s in SCENARIOS if s.name == "all-features").args)
    for suffix in ("-executor", "-operator"):
        deployment = one(docs, "Deployment", suffix)
        assert spread(docs, suffix) == [
            {
                "maxSkew": 1,
                "topologyKey": "kubernetes.io/hostname",
                "whenUnsatisfiable": "ScheduleAnyway",
                "labelSelector": {"matchLabels": deployment["spec"]["selector"]["matchLabels"]},
            }
        ], f"{suffix}: {deployment['spec']['replicas']} replicas with nothing keeping them apart"
    assert spread(docs, "-listener") == []  # one replica
    assert spread(render(), "-executor") == []
    off = render("-f", str(VALUES_PROD), "--set", "spreadAcrossNodes=false")
    assert spread(off, "-executor") == []
