"""What a log line and an error line may show of a configured URL: ``telemetry.redact`` masks
the parts of the environment's URLs that may be a credential wherever a URL frames them, short
ones too; ``config.redact_url`` shows scheme, host and port only."""

from __future__ import annotations

import pytest

from orderflow.config import redact_url
from orderflow.telemetry import redact


@pytest.mark.parametrize(
    ("variable", "url", "shown"),
    [
        # a fragment, and an Alchemy/Infura key after the version segment, under 8 characters
        (
            "POLYGON_RPC_URL",
            "wss://polygon.example/v2/k3yab#frag12",
            "wss://polygon.example/v2/***#***",
        ),
        ("POLYGON_HTTP_URL", "https://mainnet.example/v3/abc12", "https://mainnet.example/v3/***"),
        # a query key that names a credential; the chain id beside it is no secret
        (
            "POLYGON_HTTP_URL",
            "https://rpc.example/polygon?apikey=abc1234&chain=137",
            "https://rpc.example/polygon?apikey=***&chain=137",
        ),
        ("POLY_CLOB_URL", "https://clob.example/?token=t0k", "https://clob.example/?token=***"),
        # userinfo of a provider's URL: both parts may be the key
        ("POLYGON_RPC_URL", "wss://user7:pw1@rpc.example/ws", "wss://***:***@rpc.example/ws"),
        # a database's short password, in the URL and as its password= option; its user is kept
        (
            "DATABASE_URL",
            "postgresql://orderflow:pw1@db.example/x?password=ab1",
            "postgresql://orderflow:***@db.example/x?password=***",
        ),
        (
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
            "https://collector.example/v1/traces#k3y",
            "https://collector.example/v1/traces#***",
        ),
    ],
)
def test_a_short_secret_part_of_a_url_is_masked_where_the_url_frames_it(
    variable: str, url: str, shown: str
) -> None:
    """Before: a path segment, query value or fragment under 8 characters, or a password under
    4, was left as it was (`wss://polygon.example/v2/k3yab#frag12` printed whole)."""
    assert redact(f"connect {url} failed", {variable: url}) == f"connect {shown} failed"


@pytest.mark.parametrize(
    ("variable", "url", "text"),
    [
        # short secrets are masked in their URL frame only, not wherever the letters occur
        ("POLYGON_RPC_URL", "wss://user7:pw1@rpc.example/v2/abc12", "the pw1 of abc12 is user7"),
        ("DATABASE_URL", "postgresql://u:ab@db/x", "about a table"),
        # an OTLP signal path and a chain's name are no key
        (
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
            "https://collector.example/v1/traces",
            "POST https://collector.example/v1/traces 200",
        ),
        ("POLYGON_RPC_URL", "wss://rpc.example/polygon/ws", "connect wss://rpc.example/polygon/ws"),
    ],
)
def test_what_is_no_secret_is_left_alone(variable: str, url: str, text: str) -> None:
    """Control (passed before the change too): masking does not garble a line."""
    assert redact(text, {variable: url}) == text


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://rpc.example#s3c", "https://rpc.example/…"),
        ("https://u:p@rpc.example:8545", "https://rpc.example:8545/…"),
        ("https://rpc.example/?apikey=k", "https://rpc.example/…"),
        ("wss://rpc.example/v3/k1", "wss://rpc.example/…"),
        ("https://k3y@rpc.example/", "https://rpc.example/…"),
        ("https://rpc.example:abc/x", "https://rpc.example/…"),
        ("https://rpc.example/", "https://rpc.example"),
    ],
)
def test_redact_url_shows_scheme_host_and_port_only(url: str, shown: str) -> None:
    """Control (passed before): short secret parts are dropped with the rest."""
    assert redact_url(url) == shown
