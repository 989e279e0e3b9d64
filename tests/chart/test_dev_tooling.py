"""skaffold.yaml and the kind script, checked without a container engine: they refer to files
that exist, agree with the chart's values, and the script is valid bash."""

from __future__ import annotations

import re
import shutil
import subprocess
from typing import Any

import pytest
import yaml

from tests.chart.rendering import CHART, VALUES_DEV, render
from tests.conftest import ROOT

pytestmark = pytest.mark.helm

SKAFFOLD = yaml.safe_load((ROOT / "skaffold.yaml").read_text())
UP = ROOT / "kind" / "up.sh"


def _releases(section: dict[str, Any]) -> list[dict[str, Any]]:
    releases: list[dict[str, Any]] = section["deploy"]["helm"]["releases"]
    return releases


def test_skaffold_builds_the_dockerfile_and_deploys_the_chart() -> None:
    assert SKAFFOLD["apiVersion"].startswith("skaffold/v4")
    sections = [SKAFFOLD, *SKAFFOLD["profiles"]]
    for section in sections:
        (artifact,) = section["build"]["artifacts"]
        assert (ROOT / artifact["context"] / artifact["docker"]["dockerfile"]).is_file()
        for release in _releases(section):
            assert (ROOT / str(release["chartPath"])).resolve() == CHART
            for values in release["valuesFiles"]:
                assert (ROOT / values).is_file(), values
            templates = release["setValueTemplates"]
            assert templates["image.repository"] == f"{{{{.IMAGE_REPO_{artifact['image']}}}}}"
            assert templates["image.tag"].startswith(f"{{{{.IMAGE_TAG_{artifact['image']}}}}}")


def test_skaffold_profiles_kind_and_remote() -> None:
    profiles = {p["name"]: p for p in SKAFFOLD["profiles"]}
    assert set(profiles) == {"kind", "remote"}
    assert profiles["kind"]["activation"] == [{"kubeContext": "kind-.*"}]
    assert profiles["kind"]["build"]["local"]["push"] is False
    assert profiles["remote"]["build"]["local"]["push"] is True
    (remote,) = _releases(profiles["remote"])
    assert remote["valuesFiles"] == ["charts/orderflow/values-prod.yaml"]
    (kind,) = _releases(profiles["kind"])
    assert kind["valuesFiles"] == ["charts/orderflow/values-dev.yaml"]


def test_skaffold_values_render() -> None:
    """What skaffold passes to helm (values file + --set) renders, with a substituted tag."""
    for section in [SKAFFOLD, *SKAFFOLD["profiles"]]:
        for release in _releases(section):
            args: list[str] = []
            for values in release["valuesFiles"]:
                args += ["-f", str(ROOT / values)]
            for key, value in {**release.get("setValues", {})}.items():
                args += ["--set", f"{key}={value}"]
            args += ["--set", "image.repository=registry.example/orderflow"]
            args += ["--set", "image.tag=abc123"]
            if "secrets.polygonRpcUrl" in release["setValueTemplates"]:
                args += ["--set", "secrets.polygonRpcUrl=wss://node.invalid"]
            docs = render(*args)
            images = {
                c["image"]
                for d in docs
                if d["kind"] in ("Deployment", "CronJob", "Job")
                for c in (
                    d["spec"]["jobTemplate"]["spec"]["template"]["spec"]
                    if d["kind"] == "CronJob"
                    else d["spec"]["template"]["spec"]
                )["containers"]
            }
            assert images == {"registry.example/orderflow:abc123"}


def test_kind_cluster_config() -> None:
    config = yaml.safe_load((ROOT / "kind" / "cluster.yaml").read_text())
    assert config["kind"] == "Cluster"
    assert config["apiVersion"] == "kind.x-k8s.io/v1alpha4"
    assert any(n["role"] == "control-plane" for n in config["nodes"])


def test_up_script_is_valid_bash() -> None:
    subprocess.run(["bash", "-n", str(UP)], check=True)
    if shutil.which("shellcheck"):
        subprocess.run(["shellcheck", "-S", "warning", str(UP)], check=True)


def test_up_script_uses_the_dev_values_and_image() -> None:
    text = UP.read_text()
    assert "values-dev.yaml" in text
    assert 'kind create cluster --name "$CLUSTER_NAME" --config "$ROOT/kind/cluster.yaml"' in text
    assert "images/Dockerfile" in text
    # Every step the issue asks for: load the image, apply a strategy, wait for readiness.
    for step in (
        "kind load",
        "apply -f",
        "wait --for=condition=Ready",
        "rollout status",
        "helm test",
    ):
        assert step in text, step
    # The default image is the one values-dev.yaml deploys, with a pull policy that works for a
    # loaded image.
    default_image = re.search(r'IMAGE="\$\{IMAGE:-([^}]+)\}"', text)
    assert default_image
    dev = yaml.safe_load(VALUES_DEV.read_text())["image"]
    assert default_image.group(1) == f"{dev['repository']}:{dev['tag']}"
    assert dev["pullPolicy"] in ("Never", "IfNotPresent")


def test_up_script_checks_its_inputs_before_touching_a_cluster(tmp_path: object) -> None:
    """A bad node URL or a missing tool stops it before anything runs (fakes record calls)."""
    from pathlib import Path

    bin_dir = Path(str(tmp_path)) / "bin"
    bin_dir.mkdir()
    calls = Path(str(tmp_path)) / "calls"
    for tool in ("kind", "kubectl", "helm"):
        fake = bin_dir / tool
        fake.write_text(f'#!/bin/sh\necho "{tool} $*" >> {calls}\n')
        fake.chmod(0o755)
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "HOME": str(tmp_path)}
    proc = subprocess.run(["bash", str(UP)], capture_output=True, text=True, env=env, check=False)
    assert proc.returncode != 0
    assert "docker is not installed" in proc.stderr
    docker = bin_dir / "docker"
    docker.write_text(f'#!/bin/sh\necho "docker $*" >> {calls}\n')
    docker.chmod(0o755)
    env["POLYGON_RPC_URL"] = "https://not-a-websocket"
    proc = subprocess.run(["bash", str(UP)], capture_output=True, text=True, env=env, check=False)
    assert proc.returncode != 0
    assert "ws:// or wss://" in proc.stderr
    assert not calls.exists(), "nothing may run before the inputs are checked"


FAKE_KUBECTL = """#!/bin/sh
echo "kubectl $*" >> "$CALLS"
case "$*" in
  *" apply -f "*) echo "tradingstrategy.orderflow.io/whale-follow" ;;
  *"get jobs"*) echo job.batch/orderflow-migrations-r1 ;;
  *"get deployments,statefulsets"*)
    echo deployment.apps/orderflow-listener; echo statefulset.apps/orderflow-postgresql ;;
esac
"""

# The fake helm renders the exact arguments up.sh gives `helm upgrade --install` with the real
# helm (`helm template`), so a wrong flag or value in the script fails here.
FAKE_HELM = """#!/bin/sh
echo "helm $*" >> "$CALLS"
if [ "$1" = upgrade ]; then
  shift 2
  release="$1"; chart="$2"; shift 2
  filtered=""
  while [ $# -gt 0 ]; do
    case "$1" in
      --kube-context|--namespace) filtered="$filtered --namespace $2"; shift 2 ;;
      --create-namespace) shift ;;
      *) filtered="$filtered '$1'"; shift ;;
    esac
  done
  eval "exec '$REAL_HELM' template '$release' '$chart' $filtered" > "$RENDERED"
fi
"""


@pytest.mark.parametrize("engine", ["docker", "podman"])
def test_up_script_steps_in_order(tmp_path: object, engine: str) -> None:
    """Run up.sh against recording fakes of kind/docker/kubectl and a helm that really renders."""
    from pathlib import Path

    from tests.conftest import tool_path

    work = Path(str(tmp_path))
    bin_dir = work / "bin"
    bin_dir.mkdir()
    calls, rendered = work / "calls", work / "rendered.yaml"
    for tool in ("kind", engine):
        (bin_dir / tool).write_text(f'#!/bin/sh\necho "{tool} $*" >> "$CALLS"\n')
    (bin_dir / "kubectl").write_text(FAKE_KUBECTL)
    (bin_dir / "helm").write_text(FAKE_HELM)
    for fake in bin_dir.iterdir():
        fake.chmod(0o755)
    env = {
        "PATH": f"{bin_dir}:/usr/bin:/bin",
        "HOME": str(work),
        "CALLS": str(calls),
        "RENDERED": str(rendered),
        "REAL_HELM": str(tool_path("helm")),
        "POLYGON_RPC_URL": "wss://polygon.example.invalid/ws",
        "CONTAINER_ENGINE": engine,
    }
    proc = subprocess.run(["bash", str(UP)], capture_output=True, text=True, env=env, check=False)
    assert proc.returncode == 0, proc.stderr
    lines = calls.read_text().splitlines()
    load = (
        ["kind load docker-image orderflow:dev --name orderflow"]
        if engine == "docker"
        else [
            "podman tag orderflow:dev docker.io/library/orderflow:dev",
            "podman save -o",
            "kind load image-archive",
        ]
    )
    order = [
        "kind create cluster --name orderflow",
        f"{engine} build -f",
        *load,
        "helm upgrade --install orderflow",
        "kubectl --context kind-orderflow wait --for=condition=Established",
        "wait --for=condition=Complete --timeout=600s job.batch/orderflow-migrations-r1",
        "rollout status deployment.apps/orderflow-listener",
        "wait --for=condition=Ready --timeout=600s pod",
        "wait --for=condition=Ready --timeout=600s tradingstrategy.orderflow.io/whale-follow",
        "helm test orderflow",
    ]
    positions = []
    for step in order:
        found = [i for i, line in enumerate(lines) if step in line]
        assert found, f"up.sh never ran {step!r}:\n" + "\n".join(lines)
        positions.append(found[0])
    assert positions == sorted(positions), "steps out of order:\n" + "\n".join(lines)
    # What helm rendered from the script's own arguments: dev database, the loaded image.
    docs = [d for d in yaml.safe_load_all(rendered.read_text()) if d]
    kinds = {d["kind"] for d in docs}
    assert "StatefulSet" in kinds
    images = {
        c["image"]
        for d in docs
        if d["kind"] == "Deployment"
        for c in d["spec"]["template"]["spec"]["containers"]
    }
    assert images == {"orderflow:dev"}


def test_dev_values_install_as_they_are() -> None:
    """`helm install orderflow charts/orderflow -f values-dev.yaml` needs nothing else."""
    docs = render("-f", str(VALUES_DEV))
    (secret,) = [
        d for d in docs if d["kind"] == "Secret" and d["metadata"]["name"] == "of-orderflow"
    ]
    assert secret["stringData"]["POLYGON_RPC_URL"].startswith("wss://")
    assert secret["stringData"]["DATABASE_URL"].startswith("postgresql://")


def _go_env_template(text: str, env: dict[str, str]) -> str:
    """Skaffold's expansion of a setValueTemplates value (Go text/template over the environment
    and the image variables), for the two forms used here: ``{{.VAR}}`` and
    ``{{if .VAR}}A{{else}}B{{end}}``. A variable not set prints ``<no value>`` (Go's default for
    a missing map key; skaffold's helm deployer uses ExpandEnvTemplate, not …OrFail)."""

    def branch(m: re.Match[str]) -> str:
        return m.group(2) if env.get(m.group(1)) else m.group(3)

    text = re.sub(r"\{\{if \.(\w+)\}\}(.*?)\{\{else\}\}(.*?)\{\{end\}\}", branch, text)
    text = re.sub(r"\{\{\.(\w+)\}\}", lambda m: env.get(m.group(1), "<no value>"), text)
    assert "{{" not in text, text
    return text


def test_skaffold_without_polygon_rpc_url_keeps_the_dev_endpoint() -> None:
    """`skaffold dev -p kind` with POLYGON_RPC_URL unset passed `secrets.polygonRpcUrl=<no
    value>`, over values-dev.yaml's public endpoint: the listener refused it and restarted for
    ever. kind/up.sh leaves the dev values' endpoint in place then, and so must skaffold."""
    dev_endpoint = yaml.safe_load(VALUES_DEV.read_text())["secrets"]["polygonRpcUrl"]
    for section in [SKAFFOLD, *SKAFFOLD["profiles"]]:
        for release in _releases(section):
            template = release["setValueTemplates"].get("secrets.polygonRpcUrl")
            if template is None:
                continue
            assert _go_env_template(template, {}) == dev_endpoint
            mine = {"POLYGON_RPC_URL": "wss://node.example/ws"}
            assert _go_env_template(template, mine) == "wss://node.example/ws"
