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


@pytest.mark.parametrize(
    ("executor_secret", "named", "words"),
    [
        ("", "clob-keys", "no live credentials"),  # the chart's default: no credentials at all
        ("poly-main", "poly-small", "'poly-main'"),  # a Secret the executor does not hold
    ],
)
def test_live_naming_a_secret_the_executor_does_not_hold_is_refused(
    executor_secret: str, named: str, words: str
) -> None:
    """credentialsSecret is checked against the Secret the executor really trades with (the
    chart's credentials.existingSecret): a live spec naming another one would trade another
    wallet than it says, or, with no credentials at all, break the executor's next start."""
    spec = {"mode": "live", "credentialsSecret": named, "killed": True}
    problem = parse_spec("live-one", spec, live_credentials=executor_secret)
    assert isinstance(problem, SpecProblem)
    assert problem.reason == "MissingCredentials"
    assert words in problem.message
    assert problem.killed  # the brakes still apply

    accepted = parse_spec(
        "live-one", {**spec, "credentialsSecret": "poly-main"}, live_credentials="poly-main"
    )
    assert isinstance(accepted, ParsedSpec)
    paper = parse_spec("paper-one", {"mode": "paper"}, live_credentials="")
    assert isinstance(paper, ParsedSpec)


KEY = "0x" + "4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318"


@pytest.mark.parametrize("executor_secret", [None, "poly-main", ""])
@pytest.mark.parametrize("named", [KEY, KEY.removeprefix("0x")])
@pytest.mark.parametrize("mode", ["live", "paper"])
def test_a_private_key_pasted_as_the_secret_name_is_refused_unechoed(
    executor_secret: str | None, named: str, mode: str
) -> None:
    """A private key (64 hex digits, with or without 0x) is a valid DNS subdomain, so the schema
    lets it through as credentialsSecret; it must be refused, and its message (the status'
    Ready condition and a Warning event) must not repeat it. Before: accepted when the
    operator is not told the executor's Secret (the chart without the executor), and repeated
    in the MissingCredentials message when it is."""
    spec = {"mode": mode, "credentialsSecret": named, "paused": True}
    problem = parse_spec("live-one", spec, live_credentials=executor_secret)
    assert isinstance(problem, SpecProblem), f"accepted: {problem}"
    assert problem.reason == "InvalidSpec"
    assert "private key" in problem.message
    assert KEY.removeprefix("0x") not in problem.message, problem.message
    assert problem.paused  # the brakes still apply
