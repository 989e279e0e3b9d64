"""``orderflow simulate`` end to end, and its errors: exit 2 with the option named."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from orderflow.chain.decode import decode_batch
from orderflow.cli import main
from orderflow.sim import read_truth


def test_simulate_writes_logs_and_truth(tmp_path: Path) -> None:
    logs, truth = tmp_path / "logs.jsonl", tmp_path / "truth.json"
    code = main(
        [
            "simulate",
            "--seed",
            "5",
            "--small",
            "--days",
            "2",
            "--exchange",
            "v1",
            "--out",
            str(logs),
            "--truth",
            str(truth),
        ]
    )
    assert code == 0
    raws = [json.loads(line) for line in logs.read_text().splitlines()]
    batch = decode_batch(raws, 137)
    assert batch.fills and batch.registrations and not batch.dead_letters
    assert {f.exchange_version for f in batch.fills} == {"V1"}
    parsed = read_truth(truth)
    assert parsed.config.seed == 5 and parsed.config.exchange == "v1"
    assert {m.condition_id for m in parsed.markets} == {p.condition_id for p in batch.conditions}


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["--markets", "0"], "--markets"),
        (["--wallets", "2"], "--wallets"),
        (["--days", "-1"], "--days"),
        (["--neg-risk-share", "1.5"], "--neg-risk-share"),
        (["--fee-bps", "5000"], "--fee-bps"),
        (["--start", "yesterday"], "--start"),
        (["--start-block", "0"], "--start-block"),
    ],
)
def test_bad_values_exit_2_naming_the_option(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], named: str
) -> None:
    out = ["--out", str(tmp_path / "l.jsonl"), "--truth", str(tmp_path / "t.json")]
    assert main(["simulate", *args, *out]) == 2
    err = capsys.readouterr().err
    assert named in err
    assert not (tmp_path / "l.jsonl").exists()


def test_unparsable_values_and_missing_paths_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["simulate", "--markets", "many", "--out", "x", "--truth", "y"])
    assert exc.value.code == 2
    assert "--markets" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(["simulate", "--out", str(tmp_path / "x")])
    assert exc.value.code == 2
    assert "--truth" in capsys.readouterr().err
    missing = tmp_path / "nope" / "l.jsonl"
    assert main(["simulate", "--out", str(missing), "--truth", str(tmp_path / "t")]) == 2
    assert "--out" in capsys.readouterr().err


def test_bad_truth_file_is_a_clear_error(tmp_path: Path) -> None:
    from orderflow.errors import ConfigError

    bad = tmp_path / "truth.json"
    bad.write_text("{}")
    with pytest.raises(ConfigError, match="--truth"):
        read_truth(bad)
    with pytest.raises(ConfigError, match="cannot read"):
        read_truth(tmp_path / "absent.json")


def test_adapter_events_option(tmp_path: Path) -> None:
    from orderflow.chain import contracts as c

    logs, truth = tmp_path / "logs.jsonl", tmp_path / "truth.json"
    args = ["--seed", "2", "--small", "--days", "6", "--neg-risk-share", "0.8"]
    out = ["--out", str(logs), "--truth", str(truth)]
    assert main(["simulate", *args, *out]) == 0
    assert c.NEG_RISK_ADAPTER not in logs.read_text()
    assert main(["simulate", *args, "--adapter-events", *out]) == 0
    assert c.NEG_RISK_ADAPTER in logs.read_text()
    assert read_truth(truth).config.adapter_events


def test_population_names_a_variant(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    def styles(*population: str) -> set[str]:
        logs, truth = tmp_path / "logs.jsonl", tmp_path / "truth.json"
        args = ["simulate", "--small", "--days", "2", "--out", str(logs), "--truth", str(truth)]
        assert main([*args, *population]) == 0
        return {w.style for w in read_truth(truth).wallets}

    assert "arbitrageur" not in styles()
    assert "arbitrageur" in styles("--population", "arbitrageurs")
    assert "arbitrageur" in capsys.readouterr().out  # the summary line counts them
    with pytest.raises(SystemExit) as exc:
        main(["simulate", "--population", "nobody", "--out", "x", "--truth", "y"])
    assert exc.value.code == 2
    assert "--population" in capsys.readouterr().err
