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
_SECRET_VARIABLES = ("POLY_PRIVATE_KEY", "POLY_API_KEY", "POLY_API_SECRET", "POLY_API_PASSPHRASE")
_KEYED_URL_VARIABLES = (
    "POLYGON_RPC_URL",
    "POLYGON_HTTP_URL",
    "POLY_CLOB_URL",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
)
_HEADER_VARIABLES = ("OTEL_EXPORTER_OTLP_HEADERS", "OTEL_EXPORTER_OTLP_TRACES_HEADERS")
_WATCHED = ("DATABASE_URL", *_SECRET_VARIABLES, *_KEYED_URL_VARIABLES, *_HEADER_VARIABLES)
_MIN_SECRET = 4  # a whole value or a password shorter than this masked would garble every line
_MIN_KEY = 8  # a path segment or query value: "v1", "traces", "polygon" are no key
MASK = "***"


def _url_secrets(url: str, *, keyed: bool) -> set[str]:
    """The parts of a URL that may be a credential: its password, and when ``keyed`` (a
    provider's URL, not a database's: its path is the database name) its path segments and
    query values; a database URL's ``password=`` option too."""
    if not url:
        return set()
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:  # not parseable as a URL: the whole value
        return {url}
    found = {unquote(password), password} if password else set()
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        if keyed or "password" in key.lower():
            found.add(value)
    if keyed:
        found.update(unquote(s) for s in parts.path.split("/") if len(unquote(s)) >= _MIN_KEY)
        found = {s for s in found if len(s) >= _MIN_KEY or s == password}
    return found


@functools.lru_cache(maxsize=8)
def _secrets(values: tuple[str, ...]) -> tuple[str, ...]:
    env = dict(zip(_WATCHED, values, strict=True))
    found: set[str] = set()
    for name in _SECRET_VARIABLES:
        value = env[name].strip()
        found.update({value, value.removeprefix("0x")})
    found.update(_url_secrets(env["DATABASE_URL"], keyed=False))
    for name in _KEYED_URL_VARIABLES:
        found.update(_url_secrets(env[name], keyed=True))
    for name in _HEADER_VARIABLES:
        for pair in env[name].split(","):
            value = pair.partition("=")[2].strip()
            found.update({value, unquote(value)})
    return tuple(sorted((s for s in found if len(s) >= _MIN_SECRET), key=len, reverse=True))


def secrets_in(environ: Mapping[str, str] | None = None) -> tuple[str, ...]:
    """The secret strings of ``environ`` (default: this process's), longest first."""
    env = os.environ if environ is None else environ
    return _secrets(tuple(env.get(name, "") for name in _WATCHED))


def redact(text: str, environ: Mapping[str, str] | None = None) -> str:
    """``text`` with every secret of the environment (:func:`secrets_in`) replaced by ``***``."""
    for secret in secrets_in(environ):
        text = text.replace(secret, MASK)
    return text


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
