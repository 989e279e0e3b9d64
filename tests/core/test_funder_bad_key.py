"""A malformed POLY_PRIVATE_KEY is a configuration error naming it, with POLY_FUNDER set too (a
proxy or Safe wallet, the usual Polymarket set-up).

Without a funder the key was parsed first and a bad one was a ConfigError naming
POLY_PRIVATE_KEY. With one, the check was skipped and the SDK's ``UserInputError`` ("Invalid
private_key: ...") became ``ExecutionError("cannot authenticate with the CLOB:
UserInputError")`` (exit 1, naming neither the variable nor what is wrong with it; until 6 Dec
2026). Now the key is parsed whatever the funder.
"""

from __future__ import annotations

import pytest

from orderflow.config import load
from orderflow.errors import ConfigError
from orderflow.execution.credentials import LiveCredentials
from orderflow.execution.live_connect import open_live_broker

BAD_KEY = "0x" + "zz" * 32  # 32 bytes' worth of characters, not hexadecimal


async def test_a_bad_key_with_a_funder_is_a_config_error_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("POLY_PRIVATE_KEY", BAD_KEY)
    monkeypatch.setenv("POLY_FUNDER", "0x" + "11" * 20)
    monkeypatch.setenv("POLY_CLOB_URL", "http://127.0.0.1:9")  # never reached: nothing listens
    for name in ("POLY_API_KEY", "POLY_API_SECRET", "POLY_API_PASSPHRASE", "POLY_SIGNATURE_TYPE"):
        monkeypatch.delenv(name, raising=False)
    creds = load(LiveCredentials)
    try:
        broker = await open_live_broker(creds)
    except ConfigError as exc:
        assert "POLY_PRIVATE_KEY" in str(exc), str(exc)
        assert "zzzz" not in str(exc), str(exc)
    except Exception as exc:  # what is raised instead of a ConfigError
        pytest.fail(f"{type(exc).__name__}: {exc}")
    else:
        await broker.close()
        pytest.fail("a malformed POLY_PRIVATE_KEY was accepted")
