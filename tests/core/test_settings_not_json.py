"""A JSON-valued setting that is not JSON (``GETLOGS_RESULT_CAPS=1000,5000``,
``CHAIN_ADDRESSES={bad``) is a configuration error naming the variable.

pydantic-settings decodes such a variable before validating it and raises its own
``SettingsError``, not a ``ValidationError``; :func:`orderflow.config.load` turned only the latter
into a ConfigError, so the command died with a traceback naming the Python field
(``getlogs_result_caps``), not the variable (until 6 Dec 2026). Now both are ConfigErrors, the
value never shown.
"""

from __future__ import annotations

import pytest

from orderflow.chain.settings import ListenerSettings
from orderflow.config import load
from orderflow.errors import ConfigError


@pytest.mark.parametrize(
    ("variable", "value"),
    [("GETLOGS_RESULT_CAPS", "1000,5000"), ("CHAIN_ADDRESSES", "{bad")],
)
def test_a_setting_that_is_not_json_is_a_config_error_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)
    try:
        load(ListenerSettings)
    except ConfigError as exc:
        assert variable in str(exc), str(exc)
    except Exception as exc:  # what escapes instead of a ConfigError
        pytest.fail(f"{variable}={value!r}: {type(exc).__name__} escaped load(): {exc}")
    else:
        pytest.fail(f"{variable}={value!r} was accepted")
