"""Logs, metrics and traces of every process.

* Logs: plain text in a terminal, one JSON object per line anywhere else (containers, pipes,
  files); ``LOG_FORMAT`` / ``--log-format`` override. ``extra={...}`` fields — tx_hash,
  log_index, wallet, signal_id, order_id — become top-level keys (``key=value`` in text). Secrets
  never reach a log: settings hold them as ``SecretStr``.
* Metrics: OpenTelemetry instruments, exported in Prometheus format on ``/metrics``.
* Traces: :mod:`orderflow.tracing` (one tracer provider per process, OTLP/HTTP export when
  ``OTEL_EXPORTER_OTLP_[TRACES_]ENDPOINT`` is set); :func:`tracer` hands out its tracers.
* Health: :mod:`orderflow.health` (``/healthz``, ``/readyz`` and ``/metrics`` on one port).
"""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import Any, TextIO

from opentelemetry import metrics, trace
from opentelemetry.exporter.prometheus import PrometheusMetricReader
from opentelemetry.sdk.metrics import MeterProvider

from orderflow.config import LogFormat
from orderflow.tracing import service_resource, setup_tracing

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
    handler = logging.StreamHandler(sys.stderr)
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
