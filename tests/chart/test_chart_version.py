"""The chart's version moves with its content, and its appVersion is the package's version.

Users' Helm caches a chart by name and version: templates changed under the same version are
not fetched again. Until 7 Dec 2026 Chart.yaml said "bump on every chart change" and nothing
checked it: version 0.1.0 was set with the chart's first commit (85352d1) and 46 commits changed
charts/ after it. The record (charts/orderflow.digest, tests/chart/chart_version.py) is what
the chart was when its version was last set.
"""

from __future__ import annotations

import shutil
import tomllib
from pathlib import Path

import pytest

import orderflow
from tests.chart.chart_version import CHART, chart_digest, chart_field, record, recorded

PYPROJECT = CHART.parents[1] / "pyproject.toml"


def test_the_chart_is_what_its_version_recorded() -> None:
    version, digest = recorded()
    assert chart_field("version") == version, (
        f"Chart.yaml's version is {chart_field('version')}, the record's {version}: run "
        "python -m tests.chart.chart_version --record"
    )
    assert chart_digest() == digest, (
        f"charts/orderflow changed since version {version} was recorded: bump version: in "
        "Chart.yaml, then python -m tests.chart.chart_version --record (docs/deploy.md)"
    )


def test_the_app_version_is_the_package_version() -> None:
    package = tomllib.loads(PYPROJECT.read_text())["project"]["version"]
    assert chart_field("appVersion") == package == orderflow.__version__


@pytest.fixture
def chart(tmp_path: Path) -> Path:
    copy = tmp_path / "orderflow"
    shutil.copytree(CHART, copy)
    return copy


def test_a_changed_template_changes_the_digest(chart: Path) -> None:
    """The check can fail: one character of a template; the version line alone does not."""
    before = chart_digest(chart)
    template = chart / "templates" / "configmap.yaml"
    template.write_text(template.read_text() + "\n")
    assert chart_digest(chart) != before
    template.write_text(template.read_text()[:-1])
    assert chart_digest(chart) == before
    chart_yaml = chart / "Chart.yaml"
    chart_yaml.write_text(chart_yaml.read_text().replace("\nversion: ", "\nversion: 9"))
    assert chart_digest(chart) == before


def test_what_helm_ignores_is_not_the_chart(chart: Path) -> None:
    before = chart_digest(chart)
    (chart / "templates" / "configmap.yaml.swp").write_text("editor's")
    (chart / ".git").mkdir()
    (chart / ".git" / "HEAD").write_text("ref")
    assert chart_digest(chart) == before


def test_a_change_is_not_recorded_under_the_same_version(chart: Path, tmp_path: Path) -> None:
    digest_file = tmp_path / "orderflow.digest"
    record(chart, digest_file)
    (chart / "values.yaml").write_text((chart / "values.yaml").read_text() + "# more\n")
    with pytest.raises(ValueError, match="bump version"):
        record(chart, digest_file)
    chart_yaml = chart / "Chart.yaml"
    version = chart_field("version", chart)
    chart_yaml.write_text(chart_yaml.read_text().replace(f"version: {version}", "version: 99.0.0"))
    assert record(chart, digest_file).startswith("99.0.0 ")
