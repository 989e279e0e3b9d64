"""The image, checked without a container engine (none runs on CI): the Dockerfile's stages,
user and paths, the build context after .dockerignore, and that every command the image and the
chart run is a real `orderflow` subcommand with flags the CLI accepts."""

from __future__ import annotations

import fnmatch
import json
import re
import subprocess
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

from orderflow.cli import build_parser
from tests.chart.rendering import CHART, SCENARIOS, render, workloads
from tests.conftest import ROOT

pytestmark = pytest.mark.helm

DOCKERFILE = ROOT / "images" / "Dockerfile"


@dataclass
class Stage:
    name: str
    base: str
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def all(self, keyword: str) -> list[str]:
        return [args for kw, args in self.instructions if kw == keyword]

    def last(self, keyword: str) -> str:
        found = self.all(keyword)
        assert found, f"stage {self.name} has no {keyword}"
        return found[-1]


def parse_dockerfile(path: Path) -> list[Stage]:
    """Stages and their instructions (continuation lines joined, comments dropped)."""
    text = re.sub(r"\\\n", " ", path.read_text())
    stages: list[Stage] = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        keyword, _, args = line.partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            parts = args.split()
            name = parts[2] if len(parts) >= 3 and parts[1].upper() == "AS" else str(len(stages))
            stages.append(Stage(name, parts[0]))
        elif stages:
            stages[-1].instructions.append((keyword, args.strip()))
    return stages


def exec_form(args: str) -> list[str]:
    value = json.loads(args)
    assert isinstance(value, list), f"use the exec (JSON) form, not a shell string: {args}"
    return [str(v) for v in value]


def env_of(stage: Stage) -> dict[str, str]:
    env: dict[str, str] = {}
    for args in stage.all("ENV"):
        for match in re.finditer(r"(\w+)=(\S+)", args):
            env[match.group(1)] = match.group(2)
    return env


@pytest.fixture(scope="module")
def stages() -> list[Stage]:
    return parse_dockerfile(DOCKERFILE)


def test_multi_stage_without_build_tools_in_the_runtime(stages: list[Stage]) -> None:
    assert [s.name for s in stages] == ["build", "runtime"]
    build, runtime = stages
    assert build.base == runtime.base == "${PYTHON_IMAGE}"
    assert re.search(r"ARG PYTHON_IMAGE=python:3\.11-slim", DOCKERFILE.read_text())
    runtime_text = " ".join(args for _, args in runtime.instructions)
    for tool in ("build-essential", "gcc", "git ", "pip install"):
        assert tool not in runtime_text, f"{tool!r} in the runtime stage"
    assert "build-essential" in " ".join(build.all("RUN"))
    # Only the virtualenv and the migrations reach the runtime image.
    copies = runtime.all("COPY")
    assert copies == [
        "--from=build /opt/orderflow /opt/orderflow",
        "migrations /opt/orderflow/share/migrations",
    ]
    for keyword in ("ARG", "ENV"):
        for args in runtime.all(keyword):
            assert not re.search(r"(KEY|SECRET|PASSWORD|TOKEN|DATABASE_URL)\w*=", args), args


def test_dependencies_are_pinned_by_the_lock_file(stages: list[Stage]) -> None:
    build = stages[0]
    installs = [r for r in build.all("RUN") if "pip install" in r]
    assert any("-c requirements.lock" in r for r in installs), installs
    assert any("--no-deps ." in r for r in installs), "the package itself must not re-resolve"


def test_runs_as_the_chart_user(stages: list[Stage]) -> None:
    runtime = stages[-1]
    user = runtime.last("USER")
    uid, _, gid = user.partition(":")
    assert uid.isdigit() and int(uid) > 0, "numeric non-root uid, so runAsNonRoot can verify it"
    values = yaml.safe_load((CHART / "values.yaml").read_text())["securityContext"]
    assert (int(uid), int(gid)) == (values["runAsUser"], values["runAsGroup"])


def test_migrations_dir_is_where_the_migrations_are_copied(stages: list[Stage]) -> None:
    runtime = stages[-1]
    env = env_of(runtime)
    target = next(c.split()[1] for c in runtime.all("COPY") if c.startswith("migrations "))
    assert env["ORDERFLOW_MIGRATIONS_DIR"] == target
    assert env["HEALTH_PORT"] == "8080"
    assert env["HOME"].startswith("/tmp"), "HOME must be on the chart's writable emptyDir"
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    assert int(env["HEALTH_PORT"]) == values["config"]["healthPort"]


def _ignored(path: str, patterns: list[str]) -> bool:
    """Docker's rule: the last matching pattern wins; `!` re-includes. Directory patterns
    also cover everything below them."""
    ignored = False
    for pattern in patterns:
        negate = pattern.startswith("!")
        pat = pattern[1:] if negate else pattern
        pat = pat.rstrip("/")
        parts = path.split("/")
        candidates = ["/".join(parts[: i + 1]) for i in range(len(parts))]
        matched = any(
            fnmatch.fnmatch(c, pat) or fnmatch.fnmatch(c, pat.replace("**/", "")) or pat == "**"
            for c in candidates
        )
        if matched:
            ignored = not negate
    return ignored


def test_copied_sources_are_in_the_build_context(stages: list[Stage]) -> None:
    patterns = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    for stage in stages:
        for copy in stage.all("COPY"):
            if copy.startswith("--from="):
                continue
            *sources, _ = copy.split()
            for source in sources:
                assert (ROOT / source).exists(), f"COPY {source}: missing from the repository"
                assert not _ignored(source, patterns), f"COPY {source}: excluded by .dockerignore"
    for private in (
        ".venv/bin/python",
        ".git/config",
        "tests/conftest.py",
        "tools/bin/helm",
        ".env",
    ):
        assert _ignored(private, patterns), f"{private} would be sent to the docker daemon"
    for needed in ("orderflow/cli/__init__.py", "migrations/001_core_schema.sql"):
        assert not _ignored(needed, patterns)


def test_entrypoint_is_the_console_script(stages: list[Stage]) -> None:
    runtime = stages[-1]
    entrypoint = exec_form(runtime.last("ENTRYPOINT"))
    assert entrypoint[:2] == ["/usr/bin/tini", "--"], "PID 1 must forward SIGTERM"
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert entrypoint[2] in scripts, f"{entrypoint[2]} is not a console script of the package"
    cmd = exec_form(runtime.last("CMD"))
    if cmd != ["--help"]:  # a default role must be a real command line
        assert callable(build_parser().parse_args(cmd).handler)


def _chart_commands() -> set[tuple[str, ...]]:
    """Every argument list the chart gives the orderflow image, over all scenarios."""
    commands = set()
    for scenario in SCENARIOS:
        for _, spec in workloads(render(*scenario.args)):
            for container in spec["containers"]:
                # The dev database and the `helm test` pod (its own command) are not roles.
                if "postgres" not in container["image"] and "command" not in container:
                    commands.add(tuple(container["args"]))
    return commands


def test_chart_commands_are_listed_by_orderflow_help() -> None:
    """`orderflow --help` lists every subcommand the image is started with."""
    proc = subprocess.run(
        [sys.executable, "-m", "orderflow", "--help"],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    missing = sorted(
        {args[0] for args in _chart_commands()} - set(re.findall(r"[a-z]+", proc.stdout))
    )
    assert not missing, f"commands the chart runs but `orderflow --help` does not list: {missing}"


def test_chart_command_lines_parse(capsys: pytest.CaptureFixture[str]) -> None:
    """Each argument list (subcommand, sub-subcommand, flags) is accepted by the real parser."""
    rejected = []
    for args in sorted(_chart_commands()):
        try:
            namespace = build_parser().parse_args(list(args))
        except SystemExit:
            rejected.append(f"orderflow {' '.join(args)}: {capsys.readouterr().err.strip()}")
            continue
        assert callable(namespace.handler)
    assert not rejected, "\n".join(rejected)


def test_lock_file_pins_every_runtime_dependency() -> None:
    """The image installs pyproject's dependencies with the lock as constraints: that only pins
    them if the lock names every one of them with an exact version."""
    pinned = {}
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        match = re.match(r"^([A-Za-z0-9_.\-]+)==(\S+)", line.strip())
        if match:
            pinned[re.sub(r"[-_.]+", "-", match.group(1)).lower()] = match.group(2)
    dependencies = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    missing = []
    for requirement in dependencies:
        name = re.match(r"^[A-Za-z0-9_.\-]+", requirement)
        assert name, requirement
        if re.sub(r"[-_.]+", "-", name.group(0)).lower() not in pinned:
            missing.append(requirement)
    assert not missing, f"runtime dependencies the lock does not pin: {missing}"
