"""A variable set but empty (``ORDERFLOW_DATA_DIR=``, ``LOG_LEVEL=``, a chart's ``value: ""``)
is the same as unset: its default, in every settings model (pydantic-settings'
``env_ignore_empty``, as ``TracingSettings`` and ``StrategySettings.from_env`` already had it).

Before 6 Dec 2026 the other models read the empty string itself: ``ORDERFLOW_DATA_DIR=`` became
``Path("")``, the current directory (an embedded database started wherever the command ran),
while ``LOG_LEVEL=``, ``CHAIN_ID=`` or ``HEALTH_PORT=`` refused to start.

The one variable whose emptiness means something is ``OPERATOR_LIVE_CREDENTIALS_SECRET``: the
chart sets it to ``""`` when the executor has no credentials (live specs refused), unset means any
Secret is accepted.
"""

from __future__ import annotations

import pytest
from pydantic_settings import BaseSettings

from orderflow.chain.settings import ListenerSettings
from orderflow.config import CommonSettings, LogSettings, _env_name, load
from orderflow.execution.credentials import LiveCredentials
from orderflow.execution.settings import ExecutorSettings
from orderflow.reputation import ReputationSettings
from orderflow.strategy import StrategySettings
from orderflow.tracing import TracingSettings
from orderflow_operator.config import OperatorSettings

MODELS: list[type[BaseSettings]] = [
    LogSettings,
    CommonSettings,
    ListenerSettings,
    ReputationSettings,
    ExecutorSettings,
    LiveCredentials,
    OperatorSettings,
    TracingSettings,
]
_MEANINGFUL_EMPTY = {"OPERATOR_LIVE_CREDENTIALS_SECRET"}


def _variables(model: type[BaseSettings]) -> set[str]:
    return {_env_name(model, name) for name in model.model_fields} - _MEANINGFUL_EMPTY


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_every_variable_set_empty_is_its_default(
    monkeypatch: pytest.MonkeyPatch, model: type[BaseSettings]
) -> None:
    variables = _variables(model)
    for name in variables:
        monkeypatch.delenv(name, raising=False)
    unset = load(model).model_dump()
    for name in variables:
        monkeypatch.setenv(name, "")
    assert load(model).model_dump() == unset


def test_an_empty_data_dir_is_the_default_not_the_current_directory(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ORDERFLOW_DATA_DIR", "")
    assert load(CommonSettings).data_dir.name == "orderflow"


def test_strategy_variables_set_empty_are_their_defaults() -> None:
    """Control (passes before the change): ``from_env`` already skipped empty values."""
    empty = {name.upper(): "" for name in StrategySettings.model_fields}
    assert StrategySettings.from_env({**empty, "ENABLE_PAPER_TRADING": ""}) == (
        StrategySettings.from_env({})
    )


@pytest.mark.parametrize(("value", "expected"), [(None, None), ("", ""), ("keys", "keys")])
def test_the_operator_tells_an_empty_credentials_secret_from_an_unset_one(
    monkeypatch: pytest.MonkeyPatch, value: str | None, expected: str | None
) -> None:
    if value is None:
        monkeypatch.delenv("OPERATOR_LIVE_CREDENTIALS_SECRET", raising=False)
    else:
        monkeypatch.setenv("OPERATOR_LIVE_CREDENTIALS_SECRET", value)
    assert load(OperatorSettings).live_credentials_secret == expected
