"""otel.* values: every orderflow workload gets the standard OTEL_* variables, or none at all."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from orderflow.tracing import TracingSettings
from tests.chart.rendering import (
    SCENARIOS,
    Manifest,
    by_kind,
    component,
    pod_template,
    render,
    render_error,
)

pytestmark = pytest.mark.helm

ENDPOINT = "http://otel-collector.observability:4318"
ORDERFLOW_COMPONENTS = {
    "listener", "executor", "reputation", "operator", "migrations", "operator-retire"
}  # fmt: skip
EXPORTING = (
    "--set",
    f"otel.endpoint={ENDPOINT}",
    "--set",
    "otel.headersSecret=otel-headers",
    "--set",
    "otel.sampler=parentbased_traceidratio",
    "--set-json",  # --set would pass 0.25 as a string
    "otel.samplerArg=0.25",
    "--set",
    "otel.resourceAttributes.deployment\\.environment=prod",
)


def _containers(docs: list[Manifest]) -> dict[str, dict[str, Any]]:
    """The orderflow container of each workload, by component."""
    found: dict[str, dict[str, Any]] = {}
    for doc in docs:
        if doc["kind"] not in ("Deployment", "CronJob", "Job"):
            continue
        spec = pod_template(doc)["spec"]
        found[component(doc)] = spec["containers"][0]
    return found


def _env(container: dict[str, Any]) -> list[dict[str, Any]]:
    env: list[dict[str, Any]] = container.get("env", [])
    return env


def test_no_otel_variable_unless_an_endpoint_is_set() -> None:
    for scenario in SCENARIOS:
        if any("otel.endpoint" in arg for arg in scenario.args):
            continue
        for name, container in _containers(render(*scenario.args)).items():
            otel = [e["name"] for e in _env(container) if e["name"].startswith("OTEL_EXPORTER")]
            assert not otel, f"{scenario.name}/{name}: {otel}"


def test_every_workload_exports_to_the_collector() -> None:
    containers = _containers(render(*EXPORTING))
    assert set(containers) == ORDERFLOW_COMPONENTS
    for name, container in containers.items():
        env = _env(container)
        values = {e["name"]: e.get("value") for e in env}
        assert values["OTEL_EXPORTER_OTLP_ENDPOINT"] == ENDPOINT, name
        assert values["OTEL_EXPORTER_OTLP_PROTOCOL"] == "http/protobuf"
        assert values["OTEL_SERVICE_NAME"] == f"orderflow-{name}"
        assert values["OTEL_TRACES_SAMPLER"] == "parentbased_traceidratio"
        assert values["OTEL_TRACES_SAMPLER_ARG"] == "0.25"
        resource = values["OTEL_RESOURCE_ATTRIBUTES"]
        assert resource is not None
        attributes = dict(a.split("=", 1) for a in resource.split(","))
        assert attributes == {
            "k8s.namespace.name": "$(OTEL_K8S_NAMESPACE)",
            "k8s.pod.name": "$(OTEL_K8S_POD_NAME)",
            "deployment.environment": "prod",
        }
        # $(VAR) expands only variables defined earlier in the list.
        order = [e["name"] for e in env]
        for var in ("OTEL_K8S_NAMESPACE", "OTEL_K8S_POD_NAME"):
            assert order.index(var) < order.index("OTEL_RESOURCE_ATTRIBUTES")
        # The headers are a credential: a Secret reference, never a value.
        headers = next(e for e in env if e["name"] == "OTEL_EXPORTER_OTLP_HEADERS")
        assert "value" not in headers
        assert headers["valueFrom"]["secretKeyRef"] == {
            "name": "otel-headers",
            "key": "OTEL_EXPORTER_OTLP_HEADERS",
        }


def test_rendered_variables_are_what_the_code_accepts(monkeypatch: pytest.MonkeyPatch) -> None:
    container = _containers(render(*EXPORTING))["executor"]
    for e in _env(container):
        if e["name"].startswith("OTEL_") and "value" in e:
            monkeypatch.setenv(e["name"], e["value"])
    settings = TracingSettings()
    assert settings.exports
    assert (
        settings.build_sampler()
        .get_description()
        .startswith("ParentBased{root:TraceIdRatioBased{0.25}")
    )


def test_otel_settings_stay_out_of_config_maps() -> None:
    for doc in by_kind(render(*EXPORTING), "ConfigMap"):
        assert not any(key.startswith("OTEL_") for key in doc.get("data", {})), doc["metadata"]


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ("otel:\n  endpoint: collector:4318\n", r"/otel/endpoint"),
        ("otel:\n  sampler: sometimes\n", r"/otel/sampler"),
        ("otel:\n  samplerArg: 2\n", r"/otel/samplerArg"),
        ("otel:\n  resourceAttributes:\n    team: a,b\n", r"/otel/resourceAttributes/team"),
        ("otel:\n  endpint: http://c:4318\n", r"additional properties 'endpint' not allowed"),
    ],
)
def test_bad_otel_values_name_the_key(tmp_path: Path, values: str, expected: str) -> None:
    path = tmp_path / "values.yaml"
    path.write_text(values)
    message = render_error("-f", str(path))
    assert "values don't meet the specifications of the schema" in message
    assert re.search(expected, message), message


def test_headers_without_an_endpoint_fail_with_the_keys() -> None:
    message = render_error("--set", "otel.headersSecret=otel-headers")
    assert "otel.headersSecret is set but otel.endpoint is empty" in message
