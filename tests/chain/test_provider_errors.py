"""Provider error taxonomy: each provider's real wording leads to the right decision.

The wordings are the providers' own replies as quoted in their docs or public issue threads
(see the table in ``orderflow/chain/provider_errors.py``).
"""

from __future__ import annotations

from typing import Any

import pytest

from orderflow.chain.adaptive_range import AdaptiveRange
from orderflow.chain.provider_errors import (
    BlockRangeError,
    GetLogsTimeoutError,
    RpcTimeoutError,
    UnrecognisedGetLogsError,
    classify,
    stated_block_limit,
    timeout_error,
)
from orderflow.errors import FatalRpcError, RetryableRpcError

GETLOGS = "eth_getLogs"

# (provider, code, message, data, expected class, stated block limit)
RANGE_CASES: list[tuple[str, int | None, str, Any, int | None]] = [
    ("Infura", -32602, "range 1000000 exceeds limit of 10000", None, 10_000),
    ("Infura", -32602, "query exceeds limit of 10000", None, None),
    ("Infura", -32005, "query returned more than 10000 results", None, None),
    ("Infura", -32005, "query timeout exceeded", None, None),
    (
        "Alchemy",
        -32600,
        "You can make eth_getLogs requests with up to a 500 block range. Based on your "
        "parameters, this block range should work: [0x1be4213, 0x1be4406]",
        None,
        0x1BE4406 - 0x1BE4213 + 1,
    ),
    (
        "Alchemy",
        -32602,
        "Log response size exceeded. You can make eth_getLogs requests with up to a 2K block "
        "range and no limit on the response size, or you can request any block range with a "
        "cap of 10K logs in the response. Based on your parameters, this block range should "
        "work: [0x10, 0x3e7]",
        None,
        0x3E7 - 0x10 + 1,
    ),
    ("Alchemy", -32000, "block range too large (2500), maximum allowed is 2000 blocks", None, 2000),
    (
        "QuickNode",
        None,
        "eth_getLogs and eth_newFilter are limited to a 1,000 blocks range",
        None,
        1000,
    ),
    ("QuickNode", -32614, "eth_getLogs is limited to a 10,000 range", None, 10_000),
    ("QuickNode (HTTP 413)", 413, "HTTP 413", None, None),
    ("Ankr", -32600, "block range is too wide", None, None),
    ("Ankr", -32602, "maximum [from, to] blocks distance: 10000", None, 10_000),
    (
        "Ankr / reth",
        -32602,
        "query exceeds max results 20000, retry with the range 25766988-25775072",
        None,
        25775072 - 25766988 + 1,
    ),
    ("dRPC", 35, "ranges over 10000 blocks are not supported on freetier", None, 10_000),
    ("dRPC", -32000, "Block range too large: maximum allowed is 500 blocks", None, 500),
    ("bor / BSC fork", -32000, "exceed maximum block range: 2000", None, 2000),
    ("erigon / frontier", -32603, "block range is too wide (maximum 1024)", None, 1024),
    (
        "Tenderly",
        -32602,
        "invalid params",
        {"payload": "range 9009594 is bigger than range limit 2000"},
        2000,
    ),
    ("cdk-erigon", -32005, "block range too large, max range: 10000", None, 10_000),
    ("reth gateway (Arc)", -32600, "Query exceeds max block range of 10000", None, 10_000),
    ("eRPC", -32000, "getLogs request exceeded max allowed range", None, None),
    ("unknown wording, invalid params", -32602, "invalid argument 0: bad range", None, None),
]


# Each refusal wording of RANGE_CASES, as a test's parameters.
each_range_refusal = pytest.mark.parametrize(
    ("provider", "code", "message", "data", "limit"),
    RANGE_CASES,
    ids=[f"{c[0]}: {c[2][:40]}" for c in RANGE_CASES],
)


@each_range_refusal
def test_range_refusals_shrink_to_the_stated_size(
    provider: str, code: int | None, message: str, data: Any, limit: int | None
) -> None:
    error = classify(GETLOGS, "wss://node.example/…", code, message, data)
    assert isinstance(error, BlockRangeError), (provider, type(error))
    assert error.max_blocks == limit


# Sizes fitted to this query's reply: a suggested range, a reply too large for its filter.
PER_QUERY = ("should work: [", "retry with the range")


@each_range_refusal
def test_a_limit_for_every_query_is_told_from_a_size_for_this_one(
    provider: str, code: int | None, message: str, data: Any, limit: int | None
) -> None:
    """A block limit the provider states for every query (``cap_blocks``) is shared with its
    other readers; a range suggested for this filter's reply is not (the condition sync's
    sparse logs fit ranges far wider than the fills')."""
    error = classify(GETLOGS, "wss://node.example/…", code, message, data)
    assert isinstance(error, BlockRangeError), (provider, type(error))
    per_query = any(marker in message for marker in PER_QUERY)
    assert error.cap_blocks == (None if per_query else limit), provider


@pytest.mark.parametrize(
    ("provider", "code", "message"),
    [
        ("Infura", -32005, "daily request count exceeded, request rate limited"),
        ("Infura", -32005, "exceeded project rate limit"),
        ("Infura", -32005, "project ID request rate exceeded"),
        (
            "Alchemy",
            429,
            "Your app has exceeded its compute units per second capacity. If you have retries "
            "enabled, you can safely ignore this message.",
        ),
        (
            "Alchemy (HTTP 403)",
            -32600,
            "Monthly capacity limit exceeded. Visit https://dashboard.alchemyapi.io/settings/"
            "billing to upgrade your scaling policy for continued service.",
        ),
        (
            "QuickNode",
            -32007,
            "15/second request limit reached - reduce calls per second or upgrade your account "
            "at quicknode.com",
        ),
        ("Ankr", -32000, "Too many requests, rate limit exceeded"),
        ("dRPC", 429, "Too many request, try again later"),
        ("1RPC", -32001, "You've reached the usage limit for your current plan."),
        ("any", 429, "HTTP 429"),
    ],
)
@pytest.mark.parametrize("method", [GETLOGS, "eth_blockNumber"])
def test_rate_limits_back_off(provider: str, code: int, message: str, method: str) -> None:
    error = classify(method, "x", code, message)
    assert type(error) is RetryableRpcError, provider
    assert "rate limited" in str(error)


@pytest.mark.parametrize(
    ("provider", "code", "message"),
    [
        ("geth / bor", -32002, "request timed out"),
        ("erigon", -32000, "context deadline exceeded"),
        ("geth", -32000, "execution aborted (timeout = 5s)"),
        ("proxy", 504, "HTTP 504"),
        ("Cloudflare", 524, "HTTP 524"),
        ("proxy", 408, "HTTP 408"),
    ],
)
def test_timeouts_back_off_and_never_stop(provider: str, code: int, message: str) -> None:
    other = classify("eth_getBlockByNumber", "x", code, message)
    assert isinstance(other, RpcTimeoutError) and not isinstance(other, FatalRpcError), provider
    getlogs = classify(GETLOGS, "x", code, message)
    assert isinstance(getlogs, GetLogsTimeoutError)
    assert getlogs.max_blocks is None  # halve, not "the provider allows N"


def test_our_own_timeouts() -> None:
    assert isinstance(timeout_error(GETLOGS, "x", 5), GetLogsTimeoutError)
    assert isinstance(timeout_error("eth_blockNumber", "x", 5), RpcTimeoutError)


@pytest.mark.parametrize(
    ("provider", "code", "message"),
    [
        ("Infura", 401, "invalid project id"),
        ("Infura", -32600, "project ID is required"),
        ("Infura", -32002, "rejected due to project ID settings"),
        ("Alchemy", -32000, "Must be authenticated!"),
        ("Alchemy", 401, "Invalid API Key"),
        ("Ankr", -32000, "API key is not allowed to access blockchain"),
        ("QuickNode", 401, "HTTP 401"),
        ("dRPC", 403, "HTTP 403"),
    ],
)
@pytest.mark.parametrize("method", [GETLOGS, "eth_chainId"])
def test_bad_credentials_are_fatal_with_a_clear_message(
    provider: str, code: int, message: str, method: str
) -> None:
    error = classify(method, "wss://node.example/…", code, message)
    assert isinstance(error, FatalRpcError), provider
    assert "API key" in str(error) and "POLYGON_RPC_URL" in str(error)


def test_unsupported_method_is_fatal_and_other_errors_retry() -> None:
    missing = classify(
        "eth_subscribe", "x", -32601, "the method eth_subscribe does not exist/is not available"
    )
    assert isinstance(missing, FatalRpcError)
    # An invalid-params answer to anything but eth_getLogs (e.g. a hostile block hash asked
    # about) is not a configuration problem: retry, never stop.
    for code, message in [(-32602, "invalid argument 0"), (-32603, "internal error"), (502, "")]:
        assert type(classify("eth_getBlockByHash", "x", code, message)) is RetryableRpcError


def test_an_unknown_getlogs_error_is_told_from_the_same_error_elsewhere() -> None:
    """On eth_getLogs an error nobody recognises may be a refusal for the range's size in a
    provider's own words: the backfill retries it, then halves the range (Backfiller)."""
    for code, message in [(-32000, "too many logs: 10001 > 10000"), (-32603, "internal error")]:
        error = classify(GETLOGS, "x", code, message)
        assert isinstance(error, UnrecognisedGetLogsError), message
        assert type(classify("eth_getBlockByNumber", "x", code, message)) is RetryableRpcError


def test_stated_limits() -> None:
    assert stated_block_limit("limited to a 2K range") == 2000
    assert stated_block_limit("nothing here") is None
    assert stated_block_limit("limited to a 0 blocks range") is None


def test_the_range_obeys_a_stated_limit_and_never_grows_past_it() -> None:
    ranges = AdaptiveRange(2000, 1, 10_000, grow_after=1)
    assert ranges.shrink(1000)
    assert (ranges.size, ranges.max_size) == (1000, 1000)
    for _ in range(5):
        ranges.success()
    assert ranges.size == 1000
    assert ranges.shrink()  # a later refusal without a number halves
    assert ranges.size == 500
    assert ranges.shrink(5000)  # a "limit" above the current size: halve instead
    assert ranges.size == 250
    tiny = AdaptiveRange(1, 1, 1)
    assert not tiny.shrink(1)


def test_a_limit_stated_to_one_reader_holds_for_every_reader_of_the_provider() -> None:
    """The listener's backfill and its condition sync read the same provider: the limit it
    states to one is obeyed by the other before its next request, without a refusal of its own
    (the sync had its own range and learnt the limit with a second refusal)."""
    backfill = AdaptiveRange(64, 1, 64)
    sync = AdaptiveRange(10_000, 1, 10_000, stated=backfill.stated)
    assert backfill.shrink(40)  # a size suggested for the fills' reply: the backfill's alone
    sync.follow_stated()
    assert (backfill.size, sync.size, sync.max_size) == (40, 10_000, 10_000)
    assert backfill.shrink(5, cap=5)  # a block limit for every query
    sync.follow_stated()
    assert (sync.size, sync.max_size) == (5, 5)
    for _ in range(3):
        sync.success()
    assert sync.size == 5  # never grows past it
    smaller = AdaptiveRange(3, 1, 3, stated=backfill.stated)
    smaller.follow_stated()  # a range already below the limit keeps its size
    assert (smaller.size, smaller.max_size) == (3, 3)
