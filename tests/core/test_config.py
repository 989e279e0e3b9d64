"""Settings: the seed's variable names, validation with messages that name the variable."""

from __future__ import annotations

import pytest

from orderflow.config import CommonSettings, load
from orderflow.errors import ConfigError
from orderflow.strategy import StrategySettings


def test_defaults_use_embedded_database(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    settings = load(CommonSettings)
    assert settings.database_url is None
    assert settings.chain_id == 137
    assert settings.data_dir.name == "orderflow"


def test_log_level_is_case_insensitive(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOG_LEVEL", "debug")
    assert load(CommonSettings).log_level == "DEBUG"


def test_log_format_unset_leaves_it_to_the_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LOG_FORMAT", raising=False)
    assert load(CommonSettings).log_format is None
    monkeypatch.setenv("LOG_FORMAT", "")
    assert load(CommonSettings).log_format is None
    monkeypatch.setenv("LOG_FORMAT", "TEXT")
    assert load(CommonSettings).log_format == "text"
    monkeypatch.setenv("LOG_FORMAT", "xml")
    with pytest.raises(ConfigError, match="LOG_FORMAT"):
        load(CommonSettings)


def test_bad_database_url_names_the_variable_not_the_secret(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DATABASE_URL", "mysql://user:hunter2@db/x")
    with pytest.raises(ConfigError) as err:
        load(CommonSettings)
    assert "DATABASE_URL" in str(err.value)
    assert "hunter2" not in str(err.value)


@pytest.mark.parametrize(
    "url",
    [
        "user:hunter2@db.example/orderflow",  # the scheme left out
        "postgres//user:hunter2@db/x",  # its colon left out
        "hunter2",  # the password alone, in the wrong variable
    ],
)
def test_database_url_without_a_scheme_does_not_echo_it(
    monkeypatch: pytest.MonkeyPatch, url: str
) -> None:
    monkeypatch.setenv("DATABASE_URL", url)
    with pytest.raises(ConfigError) as err:
        load(CommonSettings)
    assert "DATABASE_URL must start with postgresql://" in str(err.value)
    assert "hunter2" not in str(err.value)


def test_database_url_is_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://u:hunter2@db/x")
    settings = load(CommonSettings)
    assert "hunter2" not in repr(settings)
    assert "hunter2" not in str(settings.model_dump())


def test_strategy_from_env_uses_seed_names() -> None:
    env = {
        "MAX_POSITION_USD": "250",
        "MIN_SIGNAL_CONFIDENCE": "0.6",
        "MAX_DAILY_LOSS": "100",
        "MAX_OPEN_POSITIONS": "3",
        "MIN_WHALE_SCORE": "8",
        "MAX_FADE_SCORE": "2.5",
        "ENABLE_PAPER_TRADING": "false",
        "ENABLE_WHALE_FOLLOWING": "true",
        "ENABLE_DEGEN_FADING": "true",
        "KELLY_FRACTION": "0.1",
    }
    s = StrategySettings.from_env(env)
    assert s.max_position_usd == 250
    assert s.min_signal_confidence == 0.6
    assert s.max_daily_loss == 100
    assert s.max_open_positions == 3
    assert (s.min_whale_score, s.max_fade_score) == (8, 2.5)
    assert s.mode == "live"
    assert s.enable_degen_fading is True
    assert s.kelly_fraction == 0.1


def test_strategy_defaults_are_the_seeds() -> None:
    s = StrategySettings.from_env({})
    assert s.mode == "paper"
    assert s.max_position_usd == 1000
    assert s.min_signal_confidence == 0.7
    assert s.max_daily_loss == 500
    assert s.max_open_positions == 5
    assert (s.min_whale_score, s.max_fade_score) == (7.0, 3.0)
    assert (s.enable_whale_following, s.enable_degen_fading) == (True, False)
    assert s.kelly_fraction == 0.25


def test_only_the_documented_switch_makes_live() -> None:
    """Every field was read from its upper-case name, so a generic ``MODE=live`` in the
    environment (another tool's variable) made the default strategy live; only
    ``ENABLE_PAPER_TRADING=false`` is documented to, and only it does."""
    assert StrategySettings.from_env({"MODE": "live"}).mode == "paper"
    assert StrategySettings.from_env({"MODE": "live", "ENABLE_PAPER_TRADING": "true"}).mode == (
        "paper"
    )
    assert StrategySettings.from_env({"MODE": "paper", "ENABLE_PAPER_TRADING": "false"}).mode == (
        "live"
    )


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"KELLY_FRACTION": "1.5"}, "kelly_fraction"),
        ({"MIN_SIGNAL_CONFIDENCE": "abc"}, "min_signal_confidence"),
        ({"MIN_WHALE_SCORE": "3", "MAX_FADE_SCORE": "4"}, "max_fade_score"),
        ({"ENABLE_PAPER_TRADING": "maybe"}, "ENABLE_PAPER_TRADING"),
        ({"MAX_POSITION_USD": "20000"}, "bankroll_usd"),
    ],
)
def test_strategy_rejects_bad_values_clearly(env: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        StrategySettings.from_env(env)


def test_strategy_round_trips_through_camel_case() -> None:
    s = StrategySettings(kelly_fraction=0.5, max_open_positions=2)
    spec = s.model_dump(by_alias=True)
    assert spec["kellyFraction"] == 0.5
    assert StrategySettings.model_validate(spec) == s


def test_strategy_refuses_unknown_fields() -> None:
    with pytest.raises(ValueError, match="kellyFractoin"):
        StrategySettings.model_validate({"kellyFractoin": 0.5})


@pytest.mark.parametrize(
    ("variable", "value"),
    [("REPUTATION_WORK_MEM", "1TB"), ("CALCULATION_INTERVAL_SECONDS", "-1")],
)
def test_a_bad_value_names_its_variable_not_the_python_field(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    """Before: `work_mem: String should match pattern …` and `calculation_interval_secs: Input
    should be greater than 0` (a prefixed field and one of two names: the field was shown)."""
    from orderflow.reputation import ReputationSettings

    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError) as err:
        load(ReputationSettings)
    assert f"\n  {variable}: " in str(err.value), err.value
