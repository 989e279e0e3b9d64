"""The chart's content recorded with its version: a chart changed under the same version is
caught (users' Helm caches a chart by name and version, and would keep the old templates).

``charts/orderflow.digest`` holds ``VERSION SHA256``: Chart.yaml's ``version:`` and the digest of
every file Helm packages from charts/orderflow (its .helmignore applied), Chart.yaml's
``version:`` line left out. test_chart_version.py fails while the chart and the record disagree.
After a chart change, bump ``version:`` in Chart.yaml, then record it:

    .venv/bin/python -m tests.chart.chart_version --record

which refuses to record a changed chart under the version already recorded. No git history is
needed (a shallow clone, a source archive check it the same way).
"""

from __future__ import annotations

import fnmatch
import hashlib
import re
import sys
from pathlib import Path

import yaml

CHART = Path(__file__).resolve().parents[2] / "charts" / "orderflow"
RECORD = CHART.parent / "orderflow.digest"
_VERSION_LINE = re.compile(rb"^version:.*\n?", re.MULTILINE)


def _ignored(chart: Path) -> list[str]:
    """The .helmignore patterns (comments and blank lines dropped)."""
    ignore = chart / ".helmignore"
    lines = ignore.read_text().splitlines() if ignore.is_file() else []
    return [x.strip() for x in lines if x.strip() and not x.lstrip().startswith("#")]


def _packaged(chart: Path) -> list[Path]:
    """The files ``helm package`` takes from ``chart``, sorted."""
    patterns = _ignored(chart)
    files = []
    for path in sorted(p for p in chart.rglob("*") if p.is_file()):
        parts = path.relative_to(chart).parts
        dirs = [f"{d}/" for d in parts[:-1]]
        if any(fnmatch.fnmatch(part, pat) for pat in patterns for part in (*dirs, parts[-1])):
            continue
        files.append(path)
    return files


def chart_digest(chart: Path = CHART) -> str:
    """SHA-256 of the chart's packaged files (paths and contents), its version line left out."""
    digest = hashlib.sha256()
    for path in _packaged(chart):
        content = path.read_bytes()
        if path == chart / "Chart.yaml":
            content = _VERSION_LINE.sub(b"", content)
        digest.update(f"{path.relative_to(chart).as_posix()}\0{len(content)}\0".encode())
        digest.update(content)
    return digest.hexdigest()


def chart_field(name: str, chart: Path = CHART) -> str:
    """A top-level field of Chart.yaml, as a string."""
    return str(yaml.safe_load((chart / "Chart.yaml").read_text())[name])


def recorded(record: Path = RECORD) -> tuple[str, str]:
    """The recorded (version, digest)."""
    version, digest = record.read_text().split()
    return version, digest


def record(chart: Path = CHART, record: Path = RECORD) -> str:
    """Record the chart's version and digest; ValueError when the chart changed and its version
    is the one already recorded (bump it first)."""
    version, digest = chart_field("version", chart), chart_digest(chart)
    if record.is_file():
        old_version, old_digest = recorded(record)
        if old_digest != digest and old_version == version:
            raise ValueError(
                f"the chart changed under version {version}: bump version: in Chart.yaml first"
            )
    record.write_text(f"{version} {digest}\n")
    return f"{version} {digest}"


if __name__ == "__main__":
    if sys.argv[1:] != ["--record"]:
        sys.exit("usage: python -m tests.chart.chart_version --record")
    try:
        print(record())
    except ValueError as exc:
        sys.exit(str(exc))
