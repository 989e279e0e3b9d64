"""The programs the chart runs in the orderflow image besides its entrypoint, for
scripts/check-image.sh: rendered by helm (values-dev.yaml, which has both), printed as JSON.

    python scripts/image_check_chart.py HELM    # {"wait-for-database": [...], "readiness": [...]}

Each is the container's ``command`` without its arguments (service names the check replaces by
its own addresses): the init container that waits for the dev PostgreSQL, and the ``helm test``
pod that asks every metrics Service for /readyz and /metrics.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

CHART = Path(__file__).resolve().parent.parent / "charts" / "orderflow"


def commands(helm: str) -> dict[str, list[str]]:
    rendered = subprocess.run(
        [helm, "template", "of", str(CHART), "-f", str(CHART / "values-dev.yaml"),
         "--set", "secrets.polygonRpcUrl=wss://polygon.example.invalid/ws"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    found: dict[str, list[str]] = {}
    for doc in yaml.safe_load_all(rendered):
        spec: dict[str, Any] | None = None
        if doc and doc.get("kind") == "Pod":
            spec = doc["spec"]
        elif doc and doc.get("kind") in ("Deployment", "Job", "StatefulSet"):
            spec = doc["spec"]["template"]["spec"]
        for container in (spec or {}).get("initContainers", []) + (spec or {}).get(
            "containers", []
        ):
            if container["name"] in ("wait-for-database", "readiness") and "command" in container:
                program = container["command"][:3]  # the service addresses follow
                if program[:2] != ["python", "-c"]:
                    raise SystemExit(f"{container['name']}: not a `python -c` command: {program}")
                found.setdefault(container["name"], program)
    missing = {"wait-for-database", "readiness"} - set(found)
    if missing:
        raise SystemExit(f"not in the rendered chart: {sorted(missing)}")
    return found


if __name__ == "__main__":
    print(json.dumps(commands(sys.argv[1])))
