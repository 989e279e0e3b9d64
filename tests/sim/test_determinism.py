"""Same seed, same bytes; a different seed, a different world."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from orderflow.sim import SimConfig, simulate, truth_of, write_truth
from orderflow.sim.emit import emit, write_logs


def _files(cfg: SimConfig, where: Path) -> tuple[bytes, bytes]:
    world = simulate(cfg)
    where.mkdir()
    write_logs(emit(world).logs, where / "logs.jsonl")
    write_truth(truth_of(world), where / "truth.json")
    return (where / "logs.jsonl").read_bytes(), (where / "truth.json").read_bytes()


@pytest.mark.parametrize("exchange", ["v2", "v1"])
def test_same_seed_same_bytes(tmp_path: Path, exchange: str) -> None:
    cfg = SimConfig.small(seed=7, exchange=exchange, days=4.0)
    logs_a, truth_a = _files(cfg, tmp_path / "a")
    logs_b, truth_b = _files(cfg, tmp_path / "b")
    assert hashlib.sha256(logs_a).digest() == hashlib.sha256(logs_b).digest()
    assert truth_a == truth_b
    assert len(logs_a) > 10_000


def test_different_seed_different_world(tmp_path: Path) -> None:
    logs_a, truth_a = _files(SimConfig.small(seed=1, days=3.0), tmp_path / "a")
    logs_b, truth_b = _files(SimConfig.small(seed=2, days=3.0), tmp_path / "b")
    assert logs_a != logs_b
    assert truth_a != truth_b
