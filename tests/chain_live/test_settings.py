"""ListenerSettings: validation messages an operator can act on, and the addresses override."""

from __future__ import annotations

import pytest

from orderflow.chain.contracts import MAINNET
from orderflow.chain.listener import backoff_delay
from orderflow.chain.settings import ListenerSettings
from orderflow.config import load
from orderflow.errors import ConfigError


def test_defaults_and_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POLYGON_RPC_URL", "wss://polygon.example/v2/key")
    monkeypatch.setenv("CONFIRMATIONS", "0")
    s = load(ListenerSettings)
    assert s.polygon_rpc_url is not None
    assert s.confirmations == 0
    assert s.addresses == MAINNET
    assert "key" not in repr(s)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"POLYGON_RPC_URL": "https://rpc.example/secret"}, "must be ws:// or wss://"),
        ({"POLYGON_HTTP_URL": "ws://rpc.example/secret"}, "must be http:// or https://"),
        ({"GETLOGS_INITIAL_BLOCKS": "50000"}, "GETLOGS_MIN_BLOCKS <= GETLOGS_INITIAL_BLOCKS"),
        ({"RECONNECT_INITIAL_SECS": "60"}, "RECONNECT_INITIAL_SECS must not exceed"),
        ({"CONFIRMATIONS": "300"}, "CONFIRMATIONS must be smaller than REORG_WINDOW_BLOCKS"),
        # the executor looks for an exit's trigger from a day before its signal's trade on
        # (execution.exit_queries.TRIGGER_REORG_MARGIN): a reorg may not move it further
        ({"REORG_WINDOW_BLOCKS": "100000"}, "REORG_WINDOW_BLOCKS: Input should be less than or"),
        ({"CONFIRMATIONS": "-1"}, "CONFIRMATIONS: Input should be greater than or equal to 0"),
        ({"GETLOGS_RESULT_CAPS": "[1000, 0]"}, "every result cap must be a positive number"),
        ({"POLYGON_RPC_URL": "wss://rpc.example:abc/secret"}, "POLYGON_RPC_URL has no valid"),
        ({"POLYGON_RPC_URL": "wss://rpc.example:99999/secret"}, "POLYGON_RPC_URL has no valid"),
        ({"POLYGON_RPC_URL": "wss:///secret"}, "POLYGON_RPC_URL has no host"),
        ({"POLYGON_HTTP_URL": "https://rpc.example:abc/secret"}, "POLYGON_HTTP_URL has no valid"),
        ({"POLYGON_HTTP_URL": "https:///secret"}, "POLYGON_HTTP_URL has no host"),
    ],
)
def test_invalid_values_are_named(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], message: str
) -> None:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(ConfigError, match=message) as info:
        load(ListenerSettings)
    assert "secret" not in str(info.value)


def test_addresses_override_from_json(monkeypatch: pytest.MonkeyPatch) -> None:
    exchange = "0x" + "12" * 20
    monkeypatch.setenv(
        "CHAIN_ADDRESSES",
        f'{{"exchanges": {{"{exchange.upper()}": "V2"}}, "ctf": "0x{"34" * 20}"}}',
    )
    s = load(ListenerSettings)
    assert s.addresses.exchanges == {exchange: "V2"}
    assert s.addresses.watched_addresses() == [exchange, "0x" + "34" * 20]


def test_result_caps_default_to_the_known_ones_and_read_a_json_list(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert load(ListenerSettings).getlogs_result_caps == (1_000, 5_000, 10_000, 20_000)
    monkeypatch.setenv("GETLOGS_RESULT_CAPS", "[2500, 1000, 2500]")
    assert load(ListenerSettings).getlogs_result_caps == (1_000, 2_500)


def test_backoff_doubles_with_jitter_up_to_the_maximum() -> None:
    for attempt, ceiling in [(0, 0.5), (1, 1.0), (2, 2.0), (6, 30.0), (100, 30.0)]:
        delays = [backoff_delay(attempt, 0.5, 30.0) for _ in range(200)]
        assert all(ceiling / 2 <= d <= ceiling for d in delays)
        assert len(set(delays)) > 1  # jittered, so reconnecting clients spread out
