"""What a JSON-RPC provider's error means for the listener: shrink, back off, retry, or stop.

Providers word the same refusal differently, often with a non-standard code, so the decision
reads the message (and the error's ``data``) first and the code second. Wordings covered, each
from the provider's own replies as quoted in its docs or in public issue threads:

===============  ===========================================================================
provider          wording (code)
===============  ===========================================================================
Infura            "range 1000000 exceeds limit of 10000" (-32602); "query returned more than
                  10000 results" (-32005); "query timeout exceeded" (-32005); "daily request
                  count exceeded, request rate limited" / "exceeded project rate limit"
                  (-32005, HTTP 429); "invalid project id" (HTTP 401); "project ID is
                  required" (-32600, HTTP 403); "rejected due to project ID settings" (-32002)
Alchemy           "Log response size exceeded. You can make eth_getLogs requests with up to a
                  2K block range … this block range should work: [0x…, 0x…]"; "You can make
                  eth_getLogs requests with up to a 500 block range. Based on your parameters,
                  this block range should work: [0x1be4213, 0x1be4406]" (-32600); "block
                  range too large (2500), maximum allowed is 2000 blocks" (-32000); "Your app
                  has exceeded its compute units per second capacity" (429); "Monthly
                  capacity limit exceeded" (-32600, HTTP 403); "Must be authenticated!"
QuickNode         "eth_getLogs is limited to a 10,000 range" (-32614, HTTP 413); "eth_getLogs
                  and eth_newFilter are limited to a 1,000 blocks range"; "15/second request
                  limit reached - reduce calls per second or upgrade your account at
                  quicknode.com" (-32007)
Ankr              "block range is too wide" (-32600); "maximum [from, to] blocks distance:
                  10000"; "query exceeds max results 20000, retry with the range
                  25766988-25775072" (-32602); "Too many requests"
dRPC              "ranges over 10000 blocks are not supported on freetier" (35); "Block range
                  too large: maximum allowed is 500 blocks"; "Too many request, try again later"
geth / bor        "request timed out" (-32002, the node's RPC timeout); "query returned more
                  than 10000 results"; "exceed maximum block range: 2000" (bor/BSC forks)
erigon            "context deadline exceeded"; "block range is too wide (maximum 1024)"
cdk-erigon        "block range too large, max range: 10000" (-32005)
reth gateways     "Query exceeds max block range of 10000" (-32600; circlefin/arc-node#383)
eRPC              "getLogs request exceeded max allowed range" (erpc/erpc#462)
proxies           HTTP 413 (range), 408 / 504 / 524 (timeouts), 429 (rate), 5xx (retry)
===============  ===========================================================================

Decisions (see docs/listener.md "Failures and what the listener does"):

* **range** (eth_getLogs only) — :class:`BlockRangeError`: shrink the range, to the size the
  message states when it states one (a block limit, or a suggested ``[from, to]``), else halve.
  An eth_getLogs refused as "invalid params" (-32602/-32600) with an unknown wording is treated
  as a range refusal too: our parameters are well-formed, so a limit is the likely reason.
* **rate** — :class:`~orderflow.errors.RetryableRpcError`: back off (reconnect backoff).
* **timeout** — :class:`RpcTimeoutError` (retryable): back off and retry, forever; an
  eth_getLogs timeout also halves the range (a huge range may be why), never below the
  minimum and never fatal.
* **auth** / **method** — :class:`~orderflow.errors.FatalRpcError`: retrying cannot help.
* anything else — retryable, with the provider's message in the warning; on eth_getLogs
  :class:`UnrecognisedGetLogsError`: retried a few times, then the range halves (an unknown
  wording of a refusal for its size must not read the same range for ever).
"""

from __future__ import annotations

import json
import re
from typing import Any

from orderflow.errors import FatalRpcError, RangeTooLargeError, RetryableRpcError, RpcError


class BlockRangeError(RangeTooLargeError):
    """eth_getLogs refused the range; ``max_blocks`` is the size the provider asked for,
    ``cap_blocks`` a block limit it states for every query (:func:`stated_block_cap`)."""

    def __init__(
        self, message: str, *, max_blocks: int | None = None, cap_blocks: int | None = None
    ) -> None:
        super().__init__(message)
        self.max_blocks = max_blocks
        self.cap_blocks = cap_blocks


class RpcTimeoutError(RetryableRpcError):
    """No answer in time (client-side timeout, or the node's own query timeout)."""

    def __init__(self, message: str, *, method: str) -> None:
        super().__init__(message)
        self.method = method


class GetLogsTimeoutError(BlockRangeError):
    """An eth_getLogs that timed out: halve the range, and back off once at the minimum."""


class UnrecognisedGetLogsError(RetryableRpcError):
    """An eth_getLogs error in a wording (and code) nothing here recognises: perhaps a refusal
    for the range's size in a provider's own words. The backfill retries the range a few times,
    then halves it as after a refusal (``Backfiller``); a one-block range that keeps failing
    ends the session naming the block."""


# --- wordings ---------------------------------------------------------------------------------

_NUMBER = r"(\d[\d,.]*)(k?)"

# A block limit stated in the message: the first group is the number of blocks.
_BLOCK_LIMITS = [
    re.compile(p, re.IGNORECASE)
    for p in (
        r"range \d+ exceeds limit of " + _NUMBER,  # Infura -32602
        r"up to an? " + _NUMBER + r" block range",  # Alchemy
        r"maximum allowed is " + _NUMBER + r" blocks",  # Alchemy, dRPC
        r"limited to an? " + _NUMBER,  # QuickNode ("a 1,000 blocks range", "a 10,000 range")
        r"limited to " + _NUMBER + r" blocks?",  # BlockPI
        r"ranges over " + _NUMBER + r" blocks are not supported",  # dRPC free tier
        r"maximum \[from, to\] blocks distance: " + _NUMBER,  # Ankr
        r"exceed maximum block range: " + _NUMBER,  # bor / BSC forks
        r"block range is too wide \(maximum " + _NUMBER + r"\)",  # erigon / frontier
        r"max(?:imum)? block range(?: =|:| of)? " + _NUMBER,  # publicnode, morph, reth gateways
        r"range limit " + _NUMBER,  # tenderly ("range 9009594 is bigger than range limit 2000")
        r"please limit the query to at most " + _NUMBER + r" blocks",  # Coinbase
        r"max range: " + _NUMBER,  # Cloudflare
        r"range too large, range: \d+, max: " + _NUMBER,
    )
]
# A suggested range [from, to] (Alchemy, Infura/zksync) or "retry with the range a-b" (Ankr).
_SUGGESTED = [
    re.compile(r"\[0x([0-9a-f]+),\s*0x([0-9a-f]+)\]", re.IGNORECASE),
    re.compile(r"retry with the range (\d+)-(\d+)", re.IGNORECASE),
]
_RANGE_MARKERS = (
    "query returned more than",
    "query exceeds",
    "exceeds limit of",
    "response size exceeded",
    "response size should not",
    "response too large",
    "log response size",
    "block range",
    "blocks range",
    "range is too large",
    "range too large",
    "range is too wide",
    "too many blocks",
    "blocks distance",
    "eth_getlogs is limited",
    "are limited to",
    "not supported on freetier",
    "query timeout exceeded",  # Infura: the query's duration, i.e. its size
    "logs matched by query",
    "max allowed range",  # eRPC ("getLogs request exceeded max allowed range")
)
_RATE_MARKERS = (
    "rate limit",
    "rate exceeded",
    "too many request",
    "request rate",
    "daily request count",
    "compute units per second",
    "capacity limit exceeded",
    "request limit reached",
    "reduce calls per second",
    "usage limit",
    "throttl",
    "quota",
)
_AUTH_MARKERS = (
    "unauthorized",
    "forbidden",
    "api key",
    "apikey",
    "authenticat",
    "invalid key",
    "project id",
    "invalid token",
    "access denied",
)
_METHOD_MARKERS = (
    "method not found",
    "does not exist/is not available",
    "method not supported",
    "is not supported",
    "not whitelisted",
    "unsupported method",
)
_TIMEOUT_MARKERS = (
    "timed out",
    "timeout",
    "deadline exceeded",
    "context canceled",
    "execution aborted",
)


def _number(digits: str, kilo: str) -> int | None:
    text = digits.replace(",", "").replace(".", "")
    if not text.isdigit() or len(text) > 12:
        return None
    value = int(text) * (1000 if kilo else 1)
    return value if value > 0 else None


def stated_block_limit(text: str) -> int | None:
    """The number of blocks a refusal asks for, when its wording states one."""
    for pattern in _SUGGESTED:
        m = pattern.search(text)
        if m:
            base = 16 if pattern is _SUGGESTED[0] else 10
            try:
                lo, hi = int(m.group(1), base), int(m.group(2), base)
            except ValueError:
                continue
            if hi >= lo:
                return hi - lo + 1
    return _block_limit(text)


def _block_limit(text: str) -> int | None:
    """The block limit a refusal's wording states (:data:`_BLOCK_LIMITS`), if any."""
    for pattern in _BLOCK_LIMITS:
        m = pattern.search(text)
        if m:
            value = _number(m.group(1), m.group(2))
            if value is not None:
                return value
    return None


# Wordings of a refusal for the size of this query's reply, not for its blocks: the block range
# they name or suggest fits this filter's logs (Alchemy's "Log response size exceeded … up to a
# 2K block range", Ankr's "query exceeds max results 20000, retry with the range a-b").
_RESULT_SIZE_MARKERS = (
    "response size",
    "response too large",
    "results",
    "logs matched",
    "query exceeds max results",
)


def stated_block_cap(text: str) -> int | None:
    """A block limit the provider states for every eth_getLogs, whatever its filter: a stated
    limit (:data:`_BLOCK_LIMITS`) in a refusal that neither suggests a range for this query nor
    speaks of its reply's size (those fit this filter's density: a sparse filter can read far
    wider ranges)."""
    lowered = text.lower()
    if any(p.search(text) for p in _SUGGESTED) or any(m in lowered for m in _RESULT_SIZE_MARKERS):
        return None
    return _block_limit(text)


def error_text(message: str, data: Any = None) -> str:
    """The message plus the error's ``data`` (some providers put the reason there)."""
    if data is None:
        return message
    try:
        extra = data if isinstance(data, str) else json.dumps(data, default=str)
    except (TypeError, ValueError):
        extra = repr(data)
    return f"{message} {extra[:1000]}"


def classify(
    method: str, endpoint: str, code: int | None, message: str, data: Any = None
) -> RpcError:
    """Turn a JSON-RPC error object (or an HTTP status as ``code``) into what to do next."""
    text = error_text(message, data)
    lowered = text.lower()
    where = f"{method} on {endpoint}"
    getlogs = method == "eth_getLogs"
    if code == 429 or any(m in lowered for m in _RATE_MARKERS):
        return RetryableRpcError(f"{where}: rate limited ({message}); backing off")
    # -32005 is "limit exceeded" (EIP-1474); on eth_getLogs, without rate wording, a range limit.
    if getlogs and (code in (413, -32005) or any(m in lowered for m in _RANGE_MARKERS)):
        limit = stated_block_limit(text)
        stated = f"; the provider allows {limit} blocks" if limit else ""
        return BlockRangeError(
            f"{where}: range refused ({message}){stated}",
            max_blocks=limit,
            cap_blocks=stated_block_cap(text),
        )
    if code in (401, 403) or any(m in lowered for m in _AUTH_MARKERS):
        return FatalRpcError(
            f"{where}: the node refused our credentials ({message}); check the API key in "
            "POLYGON_RPC_URL / POLYGON_HTTP_URL"
        )
    if code == -32601 or any(m in lowered for m in _METHOD_MARKERS):
        return FatalRpcError(
            f"{where}: the node does not support {method} ({message}); use a full node or a "
            "provider that serves it"
        )
    if code in (408, 504, 524) or any(m in lowered for m in _TIMEOUT_MARKERS):
        if getlogs:
            return GetLogsTimeoutError(f"{where}: the node timed out ({message})")
        return RpcTimeoutError(f"{where}: the node timed out ({message}); retrying", method=method)
    if getlogs and code in (-32600, -32602):
        limit = stated_block_limit(text)
        return BlockRangeError(
            f"{where}: refused as invalid ({message}); treating it as a range limit",
            max_blocks=limit,
            cap_blocks=stated_block_cap(text),
        )
    if getlogs:
        return UnrecognisedGetLogsError(f"{where}: error {code}: {message}")
    return RetryableRpcError(f"{where}: error {code}: {message}; retrying")


def timeout_error(method: str, endpoint: str, secs: float) -> RpcError:
    """Our own timeout: no answer within ``RPC_TIMEOUT_SECS``."""
    message = f"{method} on {endpoint}: no answer within {secs:g}s"
    if method == "eth_getLogs":
        return GetLogsTimeoutError(message)
    return RpcTimeoutError(f"{message}; retrying", method=method)
