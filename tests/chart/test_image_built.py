"""The built image, run for real: scripts/check-image.sh against the image that
scripts/build-image.sh made with buildah (docs/deploy.md, "Building without Docker").

Opt-in (``ORDERFLOW_IMAGE_CHECK=1``): the image is whatever build-image.sh last made, not
necessarily from the tree under test, so the default suite does not judge the tree by it. Skipped,
saying why, where it cannot run: without buildah, without root (buildah mount, unshare and chroot
need it) or before the image was built. The build itself (minutes, a network) is never started
from here.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess

import pytest

from tests.chart.rendering import SCENARIOS, component, render, workloads
from tests.conftest import ROOT

SCRIPTS = ROOT / "scripts"


BUILD_SCRIPTS = ("build-image.sh", "check-image.sh", "buildah-env.sh")


def test_build_scripts_are_valid_bash() -> None:
    """Runs everywhere: the scripts exist and bash parses them."""
    for name in BUILD_SCRIPTS:
        path = SCRIPTS / name
        assert path.is_file(), f"scripts/{name} is missing"
        proc = subprocess.run(["bash", "-n", str(path)], capture_output=True, text=True)
        assert proc.returncode == 0, f"scripts/{name}: {proc.stderr}"


@pytest.mark.helm
def test_check_image_gives_the_roles_the_writable_directories_the_chart_does() -> None:
    """check-image.sh runs each role "the chart's way": its writable mounts must be the chart's
    (only /tmp). It also mounted /var/lib/orderflow, the image's ORDERFLOW_DATA_DIR, which the
    chart no longer makes writable (docs/deploy.md "No database of a pod's own"), so the check
    ran the roles where a pod of the chart could not run them and could not see a role that
    needs that directory."""
    script = (SCRIPTS / "check-image.sh").read_text()
    given = set(re.findall(r'^mount --bind "\$work/[^"]+" "\$root(/[^"]*)"$', script, re.M))
    chart = set()
    for scenario in SCENARIOS:
        for doc, spec in workloads(render(*scenario.args)):
            if component(doc) == "postgresql":
                continue
            for container in spec["containers"] + spec.get("initContainers", []):
                mounts = container.get("volumeMounts", [])
                chart |= {m["mountPath"] for m in mounts if not m.get("readOnly")}
    assert given == chart, f"check-image.sh mounts {sorted(given)} writable, the chart {chart}"


def _skip_reason() -> str | None:
    if os.environ.get("ORDERFLOW_IMAGE_CHECK") != "1":
        return "opt-in: ORDERFLOW_IMAGE_CHECK=1 checks the image scripts/build-image.sh last built"
    if shutil.which("buildah") is None:
        return "buildah is not installed (scripts/build-image.sh builds the image with it)"
    if os.geteuid() != 0:
        return "needs root: buildah mount, unshare and chroot"
    found = subprocess.run(
        ["bash", "-c", f'source "{SCRIPTS}/buildah-env.sh" && image_exists "$IMAGE"'],
        capture_output=True,
        check=False,
    )
    if found.returncode != 0:
        return "no built image: run scripts/build-image.sh first (IMAGE, BUILDAH_DIR)"
    return None


def test_built_image_runs_every_role() -> None:
    """Configuration, contents, and every role as uid 10001 on a read-only root against a real
    PostgreSQL: migrate, reputation run, the operator without a cluster, the executor's health
    port and SIGTERM, the chart's own commands."""
    reason = _skip_reason()
    if reason:
        pytest.skip(reason)
    proc = subprocess.run(
        ["bash", str(SCRIPTS / "check-image.sh")],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "all checks passed" in proc.stdout
