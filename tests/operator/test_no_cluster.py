"""`orderflow operator` without a Kubernetes API to talk to fails at once with one readable error.

Before, kopf ran on: with no credentials its login handler failed and was retried every 60 s,
each time logging a traceback, forever; with an API server that does not answer, it retried its
discovery requests for about a minute, then stopped with three tracebacks (kopf's, one from the
CLI and asyncio's "Task exception was never retrieved"), which the pod then repeated at every
restart. The command runs in a subprocess, as the image runs it. `orderflow operator retire`
(the chart's pre-delete hook) likewise: before 5 Dec 2026 an API server that did not answer
ended it in urllib3's MaxRetryError traceback.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.operator.test_runner import free_port, kubeconfig

# Far below kopf's own retries (about a minute), far above a direct failure on a loaded machine.
DEADLINE_SECS = 30


@pytest.mark.parametrize(
    "command",
    [["-A", "--standalone"], ["retire", "-A", "--timeout", "5"]],
    ids=["operator", "retire"],
)
@pytest.mark.parametrize("cluster", ["no-credentials", "unreachable"])
def test_the_operator_fails_clearly_without_a_cluster(
    cluster: str, command: list[str], dsn: str, tmp_path: Path
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KUBERNETES_")}
    env.update(HOME=str(tmp_path), HEALTH_PORT="0", DATABASE_URL=dsn, LOG_FORMAT="json")
    if cluster == "unreachable":  # a port nothing listens on
        server = f"https://127.0.0.1:{free_port()}"
        env["KUBECONFIG"] = str(kubeconfig(tmp_path / "config", server))
    else:
        env["KUBECONFIG"] = str(tmp_path / "missing")
    done = subprocess.run(
        [sys.executable, "-m", "orderflow", "operator", *command],
        env=env,
        capture_output=True,
        text=True,
        timeout=DEADLINE_SECS,
        check=False,
    )
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("orderflow:")]
    assert len(errors) == 1, done.stderr
    assert "Kubernetes API" in errors[0], errors
