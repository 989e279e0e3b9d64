"""The spec model: what is accepted, what is refused and why (no database, no Kubernetes)."""

from __future__ import annotations

import pytest

from orderflow.strategy import StrategySettings
from orderflow_operator.spec import ParsedSpec, SpecProblem, TradingStrategySpec, parse_spec


def test_spec_fields_are_the_settings_fields_plus_three() -> None:
    extra = set(TradingStrategySpec.model_fields) - set(StrategySettings.model_fields)
    assert extra == {"paused", "killed", "credentials_secret"}


def test_valid_spec_yields_the_executor_settings() -> None:
    parsed = parse_spec("whale", {"kellyFraction": 0.1, "paused": True, "maxOpenPositions": 3})
    assert isinstance(parsed, ParsedSpec)
    assert parsed.paused and not parsed.killed
    assert parsed.settings == StrategySettings(kelly_fraction=0.1, max_open_positions=3)


@pytest.mark.parametrize(
    ("name", "spec", "reason", "words"),
    [
        ("a", {"minWhaleScore": 5, "maxFadeScore": 6}, "InvalidSpec", "max_fade_score"),
        ("a", {"bankrollUsd": 100, "maxPositionUsd": 500}, "InvalidSpec", "bankroll"),
        ("a", {"mode": "live"}, "MissingCredentials", "credentialsSecret"),
        ("a", {"kellyFraction": 2}, "InvalidSpec", "kellyFraction"),
        ("a", {"unknownKnob": 1}, "InvalidSpec", "unknownKnob"),
        ("Whale.Follow", {}, "InvalidName", "DNS label"),
        ("x" * 64, {}, "InvalidName", "63"),
    ],
)
def test_refused_specs_say_why(name: str, spec: dict[str, object], reason: str, words: str) -> None:
    problem = parse_spec(name, spec)
    assert isinstance(problem, SpecProblem)
    assert problem.reason == reason
    assert words in problem.message


def test_live_with_credentials_is_accepted() -> None:
    parsed = parse_spec("live-one", {"mode": "live", "credentialsSecret": "clob-keys"})
    assert isinstance(parsed, ParsedSpec)
    assert parsed.settings.mode == "live"


def test_a_refused_spec_still_carries_its_stop_switches() -> None:
    problem = parse_spec("a", {"maxFadeScore": 9, "paused": True, "killed": "yes"})
    assert isinstance(problem, SpecProblem)
    assert problem.paused is True
    assert problem.killed is False  # only a real boolean counts
