"""Logs, metrics and traces of every process.

* Logs: plain text in a terminal, one JSON object per line anywhere else (containers, pipes,
  files); ``LOG_FORMAT`` / ``--log-format`` override. ``extra={...}`` fields — tx_hash,
  log_index, wallet, signal_id, order_id — become top-level keys (``key=value`` in text). Secrets
  never reach a log: settings hold them as ``SecretStr``, and every formatted record (its
  traceback too, a third-party library's warning too) is passed through :func:`redact`, which
  masks the secrets the environment holds (:func:`secrets_in`).
* Metrics: OpenTelemetry instruments, exported in Prometheus format on ``/metrics``.
* Traces: :mod:`orderflow.tracing` (one tracer provider per process, OTLP/HTTP export when
  ``OTEL_EXPORTER_OTLP_[TRACES_]ENDPOINT`` is set); :func:`tracer` hands out its tracers.
* Health: :mod:`orderflow.health` (``/healthz``, ``/readyz`` and ``/metrics`` on one port).
"""

from __future__ import annotations

import functools
import json
import logging
import os
import re
import sys
import time
from collections.abc import Mapping
from typing import Any, TextIO
from urllib.parse import parse_qsl, unquote, urlsplit

from opentelemetry import metrics, trace
from opentelemetry.exporter.prometheus import PrometheusMetricReader
from opentelemetry.sdk.metrics import MeterProvider

from orderflow.config import LogFormat
from orderflow.tracing import service_resource, setup_tracing

# Variables whose whole value is a secret; URLs whose path and query may hold one (a provider's
# API key: https://polygon-mainnet.g.alchemy.com/v2/KEY); OTLP headers (an API key).
_SECRET_VARIABLES = (
    "POLY_PRIVATE_KEY",
    "POLY_API_KEY",
    "POLY_API_SECRET",
    "POLY_API_PASSPHRASE",
    "POLY_RELAYER_API_KEY",
    "POLY_BUILDER_API_KEY",
    "POLY_BUILDER_SECRET",
    "POLY_BUILDER_PASSPHRASE",
)
_KEYED_URL_VARIABLES = (
    "POLYGON_RPC_URL",
    "POLYGON_HTTP_URL",
    "POLY_CLOB_URL",
    "POLY_RPC_URL",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
)
_HEADER_VARIABLES = ("OTEL_EXPORTER_OTLP_HEADERS", "OTEL_EXPORTER_OTLP_TRACES_HEADERS")
_WATCHED = ("DATABASE_URL", *_SECRET_VARIABLES, *_KEYED_URL_VARIABLES, *_HEADER_VARIABLES)
_MIN_SECRET = 4  # a whole value or a password shorter than this masked would garble every line
_MIN_KEY = 8  # a path segment or query value: "v1", "traces", "polygon" are no key
MASK = "***"
# A query key whose value is a credential (?apikey=, ?token=, ?auth=, ?password=, ?sig=…).
_CREDENTIAL = re.compile(r"key|token|secret|pass|auth|sig|credential", re.IGNORECASE)
_VERSION = re.compile(r"v\d+")  # Alchemy's /v2/KEY, Infura's /v3/KEY
_OTLP_SIGNALS = ("traces", "metrics", "logs")  # /v1/traces: OTLP's path, no key
_PART_END = r"(?=[/?#&;,\s\"'<>)\]]|$)"  # where a URL part ends in a line


class _Found:
    """Secrets of the environment: ``plain`` ones are masked wherever they occur; shorter ones
    only where a URL frames them (``:pw@``, ``?apikey=k``, ``#frag``, ``/v3/k``: ``framed``
    patterns), since masking a short string everywhere would garble every line."""

    def __init__(self) -> None:
        self.plain: set[str] = set()
        self.framed: list[str] = []

    def add(self, value: str, *, least: int, before: str | None, after: str = _PART_END) -> None:
        """``value`` (and its percent-decoded form): plain from ``least`` characters on; a
        shorter one masked between the frame's ``before`` (literal text) and ``after`` (a
        lookahead), or no secret without a frame (``before`` None)."""
        for form in {value, unquote(value)}:
            if len(form) >= least:
                self.plain.add(form)
            elif form and before is not None:
                self.framed.append(f"(?<={re.escape(before)}){re.escape(form)}{after}")


def _url_secrets(url: str, found: _Found, *, keyed: bool) -> None:
    """The parts of a URL that may be a credential, into ``found``: its password and fragment,
    a database URL's ``password=`` option, and when ``keyed`` (a provider's URL, not a
    database's: its path is the database name, its user no secret) its user, its path segments
    and query values (short ones: a key after a version segment, a credential-named value)."""
    if not url:
        return
    try:
        parts = urlsplit(url)
        user, password = parts.username, parts.password
    except ValueError:  # not parseable as a URL: the whole value
        found.plain.add(url)
        return
    if password:
        found.add(password, least=_MIN_SECRET, before=":", after="(?=@)")
    if user and keyed:
        found.add(user, least=_MIN_KEY, before="//", after="(?=[:@])")
    if parts.fragment:
        found.add(parts.fragment, least=_MIN_SECRET, before="#")
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        if _CREDENTIAL.search(key) and (keyed or "pass" in key.lower()):
            found.add(value, least=_MIN_SECRET, before=f"{key}=")
        elif keyed:
            found.add(value, least=_MIN_KEY, before=None)
    if keyed:
        segments = parts.path.split("/")
        for before, segment in zip(["", *segments], segments, strict=False):
            is_key = _VERSION.fullmatch(before) and not (
                before == "v1" and segment in _OTLP_SIGNALS
            )
            found.add(segment, least=_MIN_KEY, before=f"/{before}/" if is_key else None)


@functools.lru_cache(maxsize=8)
def _secrets(values: tuple[str, ...]) -> tuple[tuple[str, ...], re.Pattern[str] | None]:
    env = dict(zip(_WATCHED, values, strict=True))
    found = _Found()
    for name in _SECRET_VARIABLES:
        value = env[name].strip()
        found.plain.update({value, value.removeprefix("0x")})
    _url_secrets(env["DATABASE_URL"], found, keyed=False)
    for name in _KEYED_URL_VARIABLES:
        _url_secrets(env[name], found, keyed=True)
    for name in _HEADER_VARIABLES:
        for pair in env[name].split(","):
            key, _, value = pair.partition("=")
            if value.strip():
                found.add(value.strip(), least=_MIN_SECRET, before=f"{key.strip()}=")
    plain = tuple(sorted((s for s in found.plain if len(s) >= _MIN_SECRET), key=len, reverse=True))
    framed = re.compile("|".join(sorted(set(found.framed)))) if found.framed else None
    return plain, framed


def secrets_in(environ: Mapping[str, str] | None = None) -> tuple[str, ...]:
    """The secret strings of ``environ`` (default: this process's) masked wherever they occur,
    longest first (shorter ones are masked where a URL frames them: :func:`redact`)."""
    return _secrets(_watched(environ))[0]


def _watched(environ: Mapping[str, str] | None) -> tuple[str, ...]:
    env = os.environ if environ is None else environ
    return tuple(env.get(name, "") for name in _WATCHED)


def redact(text: str, environ: Mapping[str, str] | None = None) -> str:
    """``text`` with every secret of the environment replaced by ``***``: those of
    :func:`secrets_in` wherever they occur, shorter parts of a URL where a URL frames them."""
    plain, framed = _secrets(_watched(environ))
    for secret in plain:
        text = text.replace(secret, MASK)
    return framed.sub(MASK, text) if framed is not None else text


class _Redacting(logging.StreamHandler):  # type: ignore[type-arg]
    """A stream handler whose output never holds a secret of the environment."""

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


_STANDARD_ATTRS = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",  # UTC, as the Z says
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        payload.update(_extras(record))
        span = trace.get_current_span().get_span_context()
        if span.is_valid:
            payload["trace_id"] = f"{span.trace_id:032x}"
        if record.exc_info:
            payload["exc"] = self.formatException(record.exc_info)
        return json.dumps(payload, default=str)


def _extras(record: logging.LogRecord) -> dict[str, Any]:
    return {
        k: v
        for k, v in record.__dict__.items()
        if k not in _STANDARD_ATTRS and not k.startswith("_")
    }


def _text_value(value: object) -> str:
    text = str(value)
    if not text or any(c.isspace() or c in '"=' for c in text):
        return json.dumps(text, ensure_ascii=False)
    return text


class TextFormatter(logging.Formatter):
    """``14:03:22.118 INFO    orderflow.listen  listening  endpoint=wss://… confirmations=3``.

    Local time to the millisecond, the level, the logger, the message, then every ``extra``
    field as ``key=value`` (values with spaces, quotes or ``=`` are quoted).
    """

    def format(self, record: logging.LogRecord) -> str:
        stamp = self.formatTime(record, "%H:%M:%S") + f".{int(record.msecs):03d}"
        line = f"{stamp} {record.levelname:<7} {record.name}  {record.getMessage()}"
        extras = _extras(record)
        if extras:
            line += "  " + " ".join(f"{k}={_text_value(v)}" for k, v in extras.items())
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # replaced or closed streams
        return False


def default_log_format() -> LogFormat:
    """text when a person is watching (stdout and stderr are terminals), json anywhere else."""
    return "text" if _is_terminal(sys.stdout) and _is_terminal(sys.stderr) else "json"


def logs_as_json() -> bool:
    """Whether the process logs JSON records (:func:`setup_logging`'s ``json`` format)."""
    return any(isinstance(h.formatter, JsonFormatter) for h in logging.getLogger().handlers)


def setup_logging(level: str = "INFO", fmt: LogFormat | None = None) -> None:
    """Log to stderr at ``level`` in ``fmt`` (None: :func:`default_log_format`)."""
    fmt = fmt or default_log_format()
    handler = _Redacting(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in (
        "asyncio",
        "websockets",
        "aiohttp.access",
        "web3",
        "urllib3",
        "httpx",
        "pgserver",
    ):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))


_metrics_ready = False


def setup_metrics(service: str) -> None:
    """Install the OTel meter provider with a Prometheus reader (idempotent)."""
    global _metrics_ready
    if _metrics_ready:
        return
    metrics.set_meter_provider(
        MeterProvider(resource=service_resource(service), metric_readers=[PrometheusMetricReader()])
    )
    _metrics_ready = True


def setup_telemetry(service: str) -> None:
    """Metrics and traces of a service process (see :func:`setup_tracing`)."""
    setup_metrics(service)
    setup_tracing(service)


def meter(name: str) -> metrics.Meter:
    return metrics.get_meter(name)


def tracer(name: str) -> trace.Tracer:
    return trace.get_tracer(name)
