"""Render the chart with the real helm binary and look things up in the result.

Rendering is memoised per argument list: the same values are rendered once per test session.
"""

from __future__ import annotations

import functools
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from tests.conftest import ROOT, tool_path

CHART = ROOT / "charts" / "orderflow"
VALUES_DEV = CHART / "values-dev.yaml"
VALUES_PROD = CHART / "values-prod.yaml"
RELEASE = "of"
NAMESPACE = "trading"
# The dev values leave the node URL to the command line (kind/up.sh passes it).
DEV_RPC = "wss://polygon.example.invalid/ws"

Manifest = dict[str, Any]


class HelmError(Exception):
    """helm exited non-zero; the message is its stderr."""


def helm(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(tool_path("helm")), *args], capture_output=True, text=True, timeout=120, check=False
    )


@functools.cache
def _template(args: tuple[str, ...]) -> tuple[Manifest, ...]:
    proc = helm("template", RELEASE, str(CHART), "--namespace", NAMESPACE, *args)
    if proc.returncode != 0:
        raise HelmError(proc.stderr.strip())
    return tuple(doc for doc in yaml.safe_load_all(proc.stdout) if doc)


def render(*args: str) -> list[Manifest]:
    """``helm template`` with extra arguments (``-f FILE``, ``--set k=v``), parsed."""
    return list(_template(tuple(args)))


def render_error(*args: str) -> str:
    """stderr of a ``helm template`` that must fail."""
    try:
        render(*args)
    except HelmError as exc:
        return str(exc)
    raise AssertionError(f"helm template {' '.join(args)} succeeded but should have failed")


@dataclass(frozen=True)
class Scenario:
    """A named set of helm arguments every schema/security test runs against."""

    name: str
    args: tuple[str, ...]


SCENARIOS = (
    Scenario("default", ()),
    Scenario("dev", ("-f", str(VALUES_DEV), "--set", f"secrets.polygonRpcUrl={DEV_RPC}")),
    Scenario("prod", ("-f", str(VALUES_PROD))),
    # Everything optional switched on at once, including live mode and cluster-wide watching.
    Scenario(
        "all-features",
        (
            "-f",
            str(VALUES_PROD),
            "--set",
            "executor.strategy.mode=live",
            "--set",
            "operator.watchAllNamespaces=true",
            "--set",
            "operator.peering.enabled=true",
            "--set",
            "operator.replicas=2",
            "--set",
            "exampleStrategy.enabled=true",
            "--set",
            "image.pullSecrets[0]=regcred",
            "--set",
            "nodeSelector.pool=trading",
            "--set",
            "config.extraEnv.OTEL_SERVICE_NAMESPACE=orderflow",
            "--set",
            "otel.endpoint=http://otel-collector.observability:4318",
            "--set",
            "otel.headersSecret=otel-headers",
        ),
    ),
    Scenario(
        "values-secret",
        (
            "--set",
            "secrets.existingSecret=",
            "--set",
            "secrets.databaseUrl=postgresql://u:p@db:5432/orderflow",
            "--set",
            f"secrets.polygonRpcUrl={DEV_RPC}",
        ),
    ),
)


def by_kind(docs: list[Manifest], kind: str) -> list[Manifest]:
    return [d for d in docs if d["kind"] == kind]


def one(docs: list[Manifest], kind: str, name_suffix: str) -> Manifest:
    found = [d for d in by_kind(docs, kind) if d["metadata"]["name"].endswith(name_suffix)]
    assert len(found) == 1, (
        f"expected one {kind} *{name_suffix}, got {[d['metadata']['name'] for d in found]}"
    )
    return found[0]


def pod_spec(doc: Manifest) -> dict[str, Any] | None:
    """The pod spec inside a workload, or None for objects without pods."""
    kind = doc["kind"]
    if kind in ("Deployment", "StatefulSet", "Job", "DaemonSet", "CronJob"):
        spec: dict[str, Any] = pod_template(doc)["spec"]
        return spec
    if kind == "Pod":
        pod: dict[str, Any] = doc["spec"]
        return pod
    return None


def pod_template(doc: Manifest) -> dict[str, Any]:
    if doc["kind"] == "Pod":
        return doc
    spec = doc["spec"]["jobTemplate"]["spec"] if doc["kind"] == "CronJob" else doc["spec"]
    template: dict[str, Any] = spec["template"]
    return template


def workloads(docs: list[Manifest]) -> Iterator[tuple[Manifest, dict[str, Any]]]:
    for doc in docs:
        spec = pod_spec(doc)
        if spec is not None:
            yield doc, spec


def component(doc: Manifest) -> str:
    return str(doc["metadata"]["labels"].get("app.kubernetes.io/component", ""))


def load_yaml(path: Path) -> list[Manifest]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]
