"""The exchange's words are redacted without being garbled: a credential-looking value after a
credential's name is replaced whole (brackets, quotes and all), an already redacted text comes
out as it went in, and nothing of the value — no stray bracket — is left behind
(:func:`orderflow.execution.exchange_text.exchange_text`)."""

from __future__ import annotations

import pytest

from orderflow.execution.exchange_text import REDACTED, exchange_text, keep_out

SDK = "No API key given. Pass api_key= when constructing the client."
KEY = "6e1b0c7a-93f2-4d5e-a1b2-c3d4e5f60718"


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        # the SDK's own words: the word after "api_key= " is over-redacted, nothing garbled
        (SDK, "No API key given. Pass api_key= [redacted] constructing the client."),
        ("POLY_API_KEY: abc123def456", "POLY_API_KEY: [redacted]"),
        ("poly_passphrase=s3cr3tvalue&x=1", "poly_passphrase=[redacted]&x=1"),
        ("api_key=abc123def456", "api_key=[redacted]"),
        ('{"POLY_SIGNATURE": "c2lnbmF0dXJl=="}', '{"POLY_SIGNATURE": "[redacted]"}'),
        ('{"secret": "two words", "n": 1}', '{"secret": "[redacted]", "n": 1}'),
        ("'POLY-API-KEY' : 'abc123def'", "'POLY-API-KEY' : '[redacted]'"),
        ("Authorization: Bearer abc.def.ghi", "Authorization: [redacted]"),
        ("secret: [abc, def]", "secret: [redacted]"),
        ("headers {api_key=(abc123)} refused", "headers {api_key=[redacted]} refused"),
        ("x-api-key: {abc} refused", "x-api-key: [redacted] refused"),
        ('passphrase="" missing', 'passphrase="" missing'),
    ],
)
def test_a_value_after_a_credentials_name_is_redacted_whole(text: str, kept: str) -> None:
    assert exchange_text(text) == kept


@pytest.mark.parametrize(
    "text",
    [
        SDK,
        "POLY_API_KEY: abc123def456",
        f"POLY_API_KEY: {KEY}",  # our own key, known: redacted as a value first
        f"refused: {{'POLY_API_KEY': '{KEY}', 'POLY_PASSPHRASE': 'p4ssphr4se'}}",
        "secret: [abc]",
        "secret=[1,2] and api_key=(abc)",
    ],
)
def test_redacting_again_changes_nothing_and_leaves_no_stray_bracket(text: str) -> None:
    keep_out(KEY)
    once = exchange_text(text)
    assert exchange_text(once) == once  # an error text redacted, then kept (redacted) again
    for opening, closing in ("[]", "()", "{}"):
        assert once.count(opening) - once.count(closing) == text.count(opening) - text.count(
            closing
        ), once
    assert KEY not in once and REDACTED in once
