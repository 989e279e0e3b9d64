"""Every rendered object is valid against the Kubernetes OpenAPI schemas, offline.

kubernetes-validate ships the JSON schemas of each Kubernetes release inside the wheel; strict
mode rejects unknown fields, so a misspelt key (``readinessProbes``) fails here rather than being
dropped silently by the API server. 1.35 is the version of the pinned kubectl.
The two custom kinds are checked against their own schemas: TradingStrategy against the chart's
CRD, ServiceMonitor and PrometheusRule against the fields the chart relies on (the rules'
PromQL: tests/chart/test_alerts.py, with promtool).
"""

from __future__ import annotations

import copy
import socket
from typing import Any

import jsonschema
import kubernetes_validate
import pytest

from tests.chart.rendering import CHART, SCENARIOS, Manifest, Scenario, load_yaml, render
from tests.conftest import ROOT

pytestmark = pytest.mark.helm

KUBERNETES_VERSION = "1.35.0"
CUSTOM_KINDS = {
    "TradingStrategy",
    "ServiceMonitor",
    "PrometheusRule",
    "KopfPeering",
    "ClusterKopfPeering",
}
CRD_FILE = CHART / "crds" / "tradingstrategies.yaml"


@pytest.fixture(autouse=True)
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    """Validation must not reach the network: any socket connection in this process fails."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise OSError("network access during schema validation")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


def validate_kubernetes(doc: Manifest) -> None:
    kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)


def crd_schema() -> dict[str, Any]:
    (crd,) = load_yaml(CRD_FILE)
    assert crd["kind"] == "CustomResourceDefinition"
    assert crd["spec"]["group"] == "orderflow.io"
    assert crd["spec"]["names"]["kind"] == "TradingStrategy"
    (version,) = [v for v in crd["spec"]["versions"] if v["name"] == "v1alpha1"]
    schema: dict[str, Any] = version["schema"]["openAPIV3Schema"]
    return schema


def closed(schema: Any) -> Any:
    """The schema with unknown fields rejected, as the API server's strict field validation does
    (kubectl's default since 1.27): a structural CRD schema cannot say additionalProperties: false
    itself, the server prunes or refuses unknown fields instead."""
    if isinstance(schema, list):
        return [closed(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: closed(v) for k, v in schema.items()}
    if (
        "properties" in out
        and "additionalProperties" not in out
        and not out.get("x-kubernetes-preserve-unknown-fields")
    ):
        out["additionalProperties"] = False
    return out


def validate_trading_strategy(doc: Manifest) -> None:
    assert doc["apiVersion"] == "orderflow.io/v1alpha1"
    schema = closed(crd_schema())
    # metadata is the API server's business; the CRD schema only types it as an object.
    schema["properties"]["metadata"] = {"type": "object"}
    # OpenAPI v3.0 schemas use draft-04 keywords (boolean exclusiveMinimum).
    jsonschema.validate(doc, schema, cls=jsonschema.Draft4Validator)


def validate_service_monitor(doc: Manifest) -> None:
    assert doc["apiVersion"] == "monitoring.coreos.com/v1"
    spec = doc["spec"]
    assert spec["selector"]["matchLabels"], "an empty selector would scrape every Service"
    for endpoint in spec["endpoints"]:
        assert set(endpoint) <= {"port", "path", "interval", "scrapeTimeout"}
        assert endpoint["path"] == "/metrics"


def validate_prometheus_rule(doc: Manifest) -> None:
    assert doc["apiVersion"] == "monitoring.coreos.com/v1"
    assert set(doc["spec"]) == {"groups"}
    for group in doc["spec"]["groups"]:
        assert set(group) == {"name", "rules"} and group["rules"]
        for rule in group["rules"]:
            assert set(rule) <= {"alert", "expr", "for", "labels", "annotations"}
            assert isinstance(rule["expr"], str) and rule["alert"]
            assert all(isinstance(v, str) for v in rule.get("labels", {}).values())
            assert all(isinstance(v, str) for v in rule.get("annotations", {}).values())


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.name)
def test_every_object_is_valid(scenario: Scenario) -> None:
    docs = render(*scenario.args)
    assert docs
    for doc in docs:
        where = f"{doc['kind']}/{doc['metadata']['name']}"
        if doc["kind"] == "TradingStrategy":
            validate_trading_strategy(doc)
        elif doc["kind"] == "ServiceMonitor":
            validate_service_monitor(doc)
        elif doc["kind"] == "PrometheusRule":
            validate_prometheus_rule(doc)
        elif doc["kind"] in ("KopfPeering", "ClusterKopfPeering"):
            # kopf's peering CRDs have no spec; only identity matters.
            assert doc["apiVersion"] == "kopf.dev/v1"
            assert set(doc) == {"apiVersion", "kind", "metadata"}
        else:
            try:
                validate_kubernetes(doc)
            except kubernetes_validate.SchemaNotFoundError:
                pytest.fail(f"{where}: no Kubernetes {KUBERNETES_VERSION} schema for this kind")
            except kubernetes_validate.ValidationError as exc:
                path = ".".join(str(p) for p in exc.path)
                pytest.fail(f"{scenario.name}: {where} invalid at {path}: {exc.message}")


def test_validator_rejects_an_unknown_field() -> None:
    """Strict validation is really on: a misspelt probe key is an error, not ignored."""
    (deployment,) = [
        d
        for d in render()
        if d["kind"] == "Deployment" and d["metadata"]["name"].endswith("-executor")
    ]
    broken = copy.deepcopy(deployment)
    container = broken["spec"]["template"]["spec"]["containers"][0]
    container["readinessProbes"] = container.pop("readinessProbe")
    with pytest.raises(kubernetes_validate.ValidationError):
        validate_kubernetes(broken)
    wrong_type = copy.deepcopy(deployment)
    wrong_type["spec"]["replicas"] = "one"
    with pytest.raises(kubernetes_validate.ValidationError):
        validate_kubernetes(wrong_type)


def test_example_strategy_matches_the_crd() -> None:
    docs = render("--set", "exampleStrategy.enabled=true")
    (strategy,) = [d for d in docs if d["kind"] == "TradingStrategy"]
    validate_trading_strategy(strategy)
    assert strategy["spec"]["mode"] == "paper"


def test_crd_schema_rejects_a_bad_example_strategy() -> None:
    """The CRD check can fail: out-of-range and unknown fields are rejected."""
    docs = render(
        "--set", "exampleStrategy.enabled=true", "--set", "exampleStrategy.spec.kellyFraction=1.5"
    )
    (strategy,) = [d for d in docs if d["kind"] == "TradingStrategy"]
    with pytest.raises(jsonschema.ValidationError):
        validate_trading_strategy(strategy)
    typo = copy.deepcopy(strategy)
    typo["spec"] = {"mode": "paper", "kellyFracton": 0.2}
    with pytest.raises(jsonschema.ValidationError):
        validate_trading_strategy(typo)


def test_repository_examples_match_the_crd() -> None:
    """examples/*.yaml (the operator's) are what kind/up.sh applies: they must be valid too."""
    examples = sorted((ROOT / "examples").glob("*.yaml"))
    if not examples:
        pytest.skip("examples/ has no TradingStrategy files yet")
    for path in examples:
        for doc in load_yaml(path):
            if doc.get("kind") == "TradingStrategy":
                validate_trading_strategy(doc)


def test_crd_is_namespaced_with_short_name_and_status() -> None:
    (crd,) = load_yaml(CRD_FILE)
    validate_kubernetes(crd)
    assert crd["spec"]["scope"] == "Namespaced"
    assert "ts" in crd["spec"]["names"]["shortNames"]
    (version,) = crd["spec"]["versions"]
    assert version["subresources"] == {"status": {}}


def test_operator_rbac_names_the_crd() -> None:
    """The RBAC rules grant the group and plural the CRD actually declares."""
    (crd,) = load_yaml(CRD_FILE)
    group, plural = crd["spec"]["group"], crd["spec"]["names"]["plural"]
    for args in ((), ("--set", "operator.watchAllNamespaces=true")):
        docs = render(*args)
        rules = [r for d in docs if d["kind"] in ("Role", "ClusterRole") for r in d["rules"]]
        granted = {(g, r) for rule in rules for g in rule["apiGroups"] for r in rule["resources"]}
        assert {(group, plural), (group, f"{plural}/status")} <= granted
