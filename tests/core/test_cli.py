"""The orderflow command: subcommands, errors, and the embedded default end to end."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from orderflow.cli import COMMANDS, _command, build_parser, main
from orderflow.cli._common import parse_timestamp
from orderflow.durations import format_duration
from orderflow.errors import ConfigError


def test_help_lists_the_foundation_commands() -> None:
    help_text = build_parser().format_help()
    for command in ("migrate", "db"):
        assert command in help_text


def _subcommands(parser: argparse.ArgumentParser) -> set[str]:
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return set(sub.choices)


def test_a_command_builds_only_its_own_parser() -> None:
    """Running a command registers that subcommand alone (the others' stages are not
    imported), under the name its module registers; --help and unknown words get them all."""
    every = _subcommands(build_parser())
    assert every == set(COMMANDS)
    for name in COMMANDS:
        assert _subcommands(build_parser(name)) == {name}
    assert _command(["listen", "--from-file", "x"]) == "listen"
    assert _command(["--help"]) is None
    assert _command(["nope"]) is None
    assert _command([]) is None


def test_a_command_does_not_import_the_other_stages() -> None:
    code = (
        "import sys; from orderflow.cli import build_parser; build_parser('db');"
        "print(sorted(m for m in sys.modules if m.startswith('orderflow.')"
        " and m.split('.')[1] in ('reputation', 'execution', 'backtest', 'signals', 'sim')))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_config_error_exits_2_with_message(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DATABASE_URL", "mysql://nope")
    assert main(["migrate"]) == 2
    assert "DATABASE_URL" in capsys.readouterr().err


def test_parse_timestamp_accepts_iso_and_unix() -> None:
    assert parse_timestamp("2026-05-01T12:00:00Z").isoformat() == "2026-05-01T12:00:00+00:00"
    assert parse_timestamp("0").year == 1970
    with pytest.raises(ConfigError, match="not a timestamp"):
        parse_timestamp("yesterday")


def test_migrate_on_embedded_default(tmp_path: Path) -> None:
    """No DATABASE_URL: `orderflow migrate` starts pgserver under ORDERFLOW_DATA_DIR."""
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    # a CI runner in a Kubernetes pod has this set: it is no reason to refuse the embedded server
    env.update({"ORDERFLOW_DATA_DIR": str(tmp_path), "KUBERNETES_SERVICE_HOST": "10.96.0.1"})
    cmd = [sys.executable, "-m", "orderflow"]
    try:
        first = subprocess.run(
            [*cmd, "migrate"], env=env, capture_output=True, text=True, timeout=120
        )
        assert first.returncode == 0, first.stderr
        assert "001_core_schema.sql" in first.stdout
        again = subprocess.run(
            [*cmd, "migrate"], env=env, capture_output=True, text=True, timeout=120
        )
        assert again.returncode == 0, again.stderr
        assert "applied 0 migration(s)" in again.stdout
        assert (tmp_path / "pgdata" / "PG_VERSION").exists()
        stop = subprocess.run(
            [*cmd, "db", "stop"], env=env, capture_output=True, text=True, timeout=60
        )
        assert stop.stdout.strip() == "stopped", stop.stderr
        assert not (tmp_path / "pgdata" / "postmaster.pid").exists()
    finally:
        subprocess.run([*cmd, "db", "stop"], env=env, capture_output=True, timeout=60)


@pytest.mark.parametrize("database_url", [None, ""])
def test_no_embedded_database_in_the_image(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, database_url: str | None
) -> None:
    """With the image's ORDERFLOW_EMBEDDED_DATABASE=false, a command without DATABASE_URL, or
    with an empty one (a Secret made from an unset shell variable), stops with one line naming
    DATABASE_URL and a non-zero code, before it starts a database. Before, it started an
    embedded PostgreSQL of the pod's own wherever ORDERFLOW_DATA_DIR was writable (the chart
    makes only /tmp so): a throwaway database per pod, each executor replica trading on its own
    with its own leader lock. The chart's read-only data directory only stopped it there."""
    dockerfile = (Path(__file__).parents[2] / "images" / "Dockerfile").read_text()
    assert "ORDERFLOW_EMBEDDED_DATABASE=false" in dockerfile, "the image refuses it"
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env.update({"ORDERFLOW_EMBEDDED_DATABASE": "false", "ORDERFLOW_DATA_DIR": str(tmp_path)})
    env["LOG_FORMAT"] = "text"  # (JSON logs add the same message as a record for the collector)
    if database_url is not None:
        env["DATABASE_URL"] = database_url
    cmd = [sys.executable, "-m", "orderflow"]
    try:
        done = subprocess.run(
            [*cmd, "migrate"], env=env, capture_output=True, text=True, timeout=120
        )
    finally:
        subprocess.run([*cmd, "db", "stop"], env=env, capture_output=True, timeout=60)
    assert done.returncode != 0, f"ran on a database of the pod's own: {done.stdout[-200:]!r}"
    assert not (tmp_path / "pgdata").exists()
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("orderflow: "), done.stderr
    assert "DATABASE_URL" in lines[0] and "ORDERFLOW_EMBEDDED_DATABASE" in lines[0], lines


def test_config_error_raised_while_parsing_arguments_exits_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A ConfigError from an argparse ``type=`` converter is a usage error, not a traceback."""
    import argparse

    from orderflow import cli

    def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
        p = sub.add_parser("when")
        p.add_argument("at", type=parse_timestamp)
        p.set_defaults(handler=lambda args: 0)

    real = cli.build_parser

    def build(command: str | None = None) -> argparse.ArgumentParser:
        parser = real(command)
        sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        register(sub)
        return parser

    monkeypatch.setattr(cli, "build_parser", build)
    assert cli.main(["when", "yesterday"]) == 2
    assert "not a timestamp" in capsys.readouterr().err


@pytest.mark.parametrize("what", ["detach", "attach"])
def test_partitions_without_a_partition_is_an_error_on_stderr(
    what: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """`orderflow db partitions detach` with no partition exits 2 with the message on stderr,
    as every other bad argument (it was printed on stdout, like a result)."""
    assert main(["db", "partitions", what]) == 2
    out = capsys.readouterr()
    assert out.out == ""
    assert f"partitions {what} needs a partition" in out.err


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (timedelta(days=1), "1 day"),
        (timedelta(weeks=2), "14 days"),
        (43_200, "12 h"),
        (5_400, "90 min"),
        (8.008, "8.008 s"),
        (90, "90 s"),
        (0, "0 s"),
    ],
)
def test_durations_read_as_the_cli_writes_them(value: timedelta | float, text: str) -> None:
    """Reports print durations in the largest unit that states them exactly; a raw timedelta
    read '1 day, 0:00:00' in the backtest's header."""
    assert format_duration(value) == text


def test_db_stop_recognises_its_own_server_in_database_url(tmp_path: Path) -> None:
    """`export DATABASE_URL=$(orderflow db url)`, then `orderflow db stop`: the URL is the
    embedded server's own, so it is stopped (main said "the embedded database is not used" and
    left it running). A URL of another server is named, and that server left alone."""
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env["ORDERFLOW_DATA_DIR"] = str(tmp_path)
    cmd = [sys.executable, "-m", "orderflow"]
    try:
        url = subprocess.run(
            [*cmd, "db", "url"], env=env, capture_output=True, text=True, timeout=120
        )
        assert url.returncode == 0, url.stderr
        other = "postgresql://someone@db.example:5433/orderflow"
        elsewhere = subprocess.run(
            [*cmd, "db", "stop"],
            env={**env, "DATABASE_URL": other},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert elsewhere.returncode == 0, elsewhere.stderr
        assert "db.example:5433" in elsewhere.stdout, elsewhere.stdout
        assert (tmp_path / "pgdata" / "postmaster.pid").exists()
        env["DATABASE_URL"] = url.stdout.strip()
        stop = subprocess.run(
            [*cmd, "db", "stop"], env=env, capture_output=True, text=True, timeout=60
        )
        assert stop.stdout.strip() == "stopped", (stop.stdout, stop.stderr)
        assert not (tmp_path / "pgdata" / "postmaster.pid").exists()
        # Stopped, the URL is still the embedded server's (its socket directory is the data
        # directory): main said "DATABASE_URL points at …/pgdata:5432, not the embedded
        # database in …/pgdata (not running)" and `db url` would not start it again.
        again = subprocess.run(
            [*cmd, "db", "stop"], env=env, capture_output=True, text=True, timeout=60
        )
        assert again.stdout.strip() == "not running", (again.stdout, again.stderr)
        restart = subprocess.run(
            [*cmd, "db", "url"], env=env, capture_output=True, text=True, timeout=120
        )
        assert restart.stdout.strip() == url.stdout.strip(), (restart.stdout, restart.stderr)
    finally:
        env.pop("DATABASE_URL", None)
        subprocess.run([*cmd, "db", "stop"], env=env, capture_output=True, timeout=60)


def test_output_into_a_closed_pipe_ends_quietly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`orderflow backtest | head -2`: head closed the pipe before the report was printed, and
    the command ended in a BrokenPipeError traceback. Now it ends quietly with 141 (128 +
    SIGPIPE, what a shell reports for `yes | head`)."""
    read, write = os.pipe()
    os.close(read)  # the reader is gone
    with capsys.disabled(), open(write, "w", buffering=1) as closed:
        monkeypatch.setattr(sys, "stdout", closed)
        args = ["--small", "--out", str(tmp_path / "l.jsonl"), "--truth", str(tmp_path / "t.json")]
        assert main(["simulate", *args]) == 141


@pytest.mark.parametrize("command", [["import"], ["listen", "--from-file"]])
def test_a_directory_is_named_as_one(
    tmp_path: Path, command: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    """`orderflow import OrderFilled/` (the docs import `OrderFilled/*.parquet`) said `no such
    file: OrderFilled`, of a directory that is there."""
    folder = tmp_path / "OrderFilled"
    folder.mkdir()
    assert main([*command, str(folder)]) == 2
    err = capsys.readouterr().err
    assert "no such file" not in err
    assert f"{folder} is a directory: give its files" in err


def test_a_stopped_embedded_database_is_named_with_what_starts_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """DATABASE_URL set to `orderflow db url`'s (as the demo suggests), then `orderflow db stop`:
    every command said `cannot connect to PostgreSQL: FileNotFoundError: [Errno 2] No such file
    or directory`, naming neither the socket nor the way out."""
    sockets = tmp_path / "pgdata"
    monkeypatch.setenv("DATABASE_URL", f"postgresql://postgres:hunter2@/orderflow?host={sockets}")
    assert main(["migrate"]) == 1
    err = capsys.readouterr().err
    assert f"no PostgreSQL server listens on a socket in {sockets}" in err
    assert "`orderflow db url` starts it" in err
    assert "hunter2" not in err
