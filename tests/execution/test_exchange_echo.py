"""The exchange's words are kept (an order's refusal in its row and its signal's, a refused key
in ``orderflow_exchange_keys``, the log), and a proxy or gateway in front of the CLOB may echo
the request's headers in its error text: our API key, passphrase and the request's signature
(an L2 HMAC, replayable while its timestamp is fresh). None of it may reach a row or the log:
what the exchange says is redacted of our credentials and of header echoes first
(:func:`orderflow.execution.exchange_text.exchange_text`), wherever it is kept."""

from __future__ import annotations

import logging

import asyncpg
import pytest
from eth_account import Account

from orderflow.execution.exchange_text import exchange_text, keep_out
from orderflow.execution.live import LiveBroker
from tests.execution.conftest import leading, running, wait_for
from tests.execution.fake_clob import FakeClob
from tests.execution.livekit import KEY, buys_in_new_markets, live_executor, live_strategy

_ROWS = (
    "SELECT o::text FROM orderflow_orders o",
    "SELECT s::text FROM orderflow_signals s",
    "SELECT k::text FROM orderflow_exchange_keys k",
)


async def _rows(pool: asyncpg.Pool) -> str:
    rows = [str(r[0]) for q in _ROWS for r in await pool.fetch(q)]
    return "\n".join(rows)


async def test_a_gateway_echoing_our_headers_puts_no_credential_in_rows_or_log(
    pool: asyncpg.Pool,
    dsn: str,
    clob: FakeClob,
    live: LiveBroker,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    creds = clob.creds[Account.from_key(KEY).address.lower()]
    await live_strategy(pool)
    faults = [
        clob.fail("POST", "/order", 400, times=1, echo="text"),
        clob.fail("POST", "/order", 400, times=1, echo="json"),
        clob.fail("POST", "/order", 401, times=1, echo="text"),
    ]
    check = clob.fail("GET", "/auth/api-keys", 401, echo="json")  # the key's check: refused
    ex = live_executor(pool, dsn, live)
    async with running(ex):
        await leading(ex)
        await buys_in_new_markets(pool, clob, 3)

        async def decided() -> list[asyncpg.Record] | None:
            rows = await pool.fetch(
                "SELECT reason FROM orderflow_signals WHERE status <> 'PENDING' ORDER BY id"
            )
            refused = await pool.fetchval("SELECT count(*) FROM orderflow_exchange_keys")
            return list(rows) if len(rows) >= 3 and refused else None

        reasons = [r["reason"] for r in await wait_for(decided)]
        keys = await pool.fetchval("SELECT last_error FROM orderflow_exchange_keys")
    assert all(f.times == 0 for f in faults), "a fault was not met"
    # What the exchange said is kept, less what it echoed of ours.
    assert reasons[0].startswith("order_rejected: http 400: upstream refused"), reasons
    assert reasons[1].startswith("order_rejected: http 400: gateway refused"), reasons
    assert keys is not None and "http 401" in keys, (reasons, keys)
    secrets = {"api key": creds.key, "passphrase": creds.passphrase, "secret": creds.secret}
    for n, headers in enumerate(h for f in [*faults, check] for h in f.echoed):
        secrets[f"signature {n}"] = headers["POLY_SIGNATURE"]
    log = "\n".join(repr(r.__dict__) for r in caplog.records)
    assert "upstream refused" in log  # the refusals were logged
    for what, text in {"log": log, "rows": await _rows(pool)}.items():
        for name, value in secrets.items():
            assert value not in text, f"the {name} is in the {what}"


@pytest.mark.parametrize(
    "echo",
    [
        "POLY_API_KEY: {key}",
        "poly_passphrase={passphrase}&x=1",
        '{{"POLY_SIGNATURE": "{signature}"}}',
        "'POLY-API-KEY' : '{key}'",
        "Authorization: Bearer {signature}",
        "key {key} secret {secret}",  # known values, wherever they are
        "the key was {key_upper}",
    ],
)
def test_our_credentials_and_header_echoes_are_redacted(echo: str) -> None:
    values = {
        "key": "5f6c2a3e-1b2c-4d5e-8f90-123456789abc",
        "passphrase": "0a1b2c3d4e5f60718293a4b5c6d7e8f9",
        "secret": "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3I=",
        "signature": "dGhpcy1pcy1hbi1obWFjLXNpZ25hdHVyZQ==",
    }
    keep_out(values["key"], values["passphrase"], values["secret"])
    text = exchange_text("refused: " + echo.format(key_upper=values["key"].upper(), **values))
    assert text.startswith("refused: ")
    for value in values.values():
        assert value not in text and value.upper() not in text, text
