"""Logs, metrics, traces and the health endpoints every long-running service serves.

* Logs: plain text in a terminal, one JSON object per line anywhere else (containers, pipes,
  files); ``LOG_FORMAT`` / ``--log-format`` override. ``extra={...}`` fields — tx_hash,
  log_index, wallet, signal_id, order_id — become top-level keys (``key=value`` in text). Secrets
  never reach a log: settings hold them as ``SecretStr``.
* Metrics: OpenTelemetry instruments, exported in Prometheus format on ``/metrics``.
* Traces: one OpenTelemetry tracer provider per process (:func:`setup_tracing`); spans cross
  process boundaries as W3C ``traceparent`` strings stored beside the rows they describe, and
  leave the process over OTLP/HTTP only when ``OTEL_EXPORTER_OTLP_[TRACES_]ENDPOINT`` is set.
* Health: ``/healthz`` (the process and its loop are alive) and ``/readyz`` (every registered
  readiness check passes: database reachable, head lag under its threshold …).
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any, Literal, TextIO
from urllib.parse import urlsplit

from aiohttp import web
from opentelemetry import metrics, trace
from opentelemetry.context import Context
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.exporter.prometheus import PrometheusMetricReader
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.resources import OTELResourceDetector, Resource
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor, TracerProvider, sampling
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from orderflow import __version__
from orderflow.config import LogFormat, load

log = logging.getLogger(__name__)
_PROPAGATOR = TraceContextTextMapPropagator()

_STANDARD_ATTRS = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}Z",
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


def _resource(service: str) -> Resource:
    """``orderflow-<service>`` unless OTEL_SERVICE_NAME / OTEL_RESOURCE_ATTRIBUTES name it."""
    ours = Resource.create({"service.name": f"orderflow-{service}", "service.version": __version__})
    return ours.merge(OTELResourceDetector().detect())


def setup_metrics(service: str) -> None:
    """Install the OTel meter provider with a Prometheus reader (idempotent)."""
    global _metrics_ready
    if _metrics_ready:
        return
    metrics.set_meter_provider(
        MeterProvider(resource=_resource(service), metric_readers=[PrometheusMetricReader()])
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


# --- traces -------------------------------------------------------------------------------------

Sampler = Literal[
    "always_on",
    "always_off",
    "traceidratio",
    "parentbased_always_on",
    "parentbased_always_off",
    "parentbased_traceidratio",
]


class TracingSettings(BaseSettings):
    """The standard OpenTelemetry variables this process honours (validated at start-up).

    Export happens only when an endpoint is set. The exporter itself reads the endpoint,
    ``OTEL_EXPORTER_OTLP_[TRACES_]HEADERS`` (often an API key: never logged, never an attribute),
    ``_TIMEOUT``, ``_COMPRESSION`` and ``_CERTIFICATE`` as the OpenTelemetry specification says.
    """

    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True, env_ignore_empty=True)

    endpoint: str | None = Field(
        default=None,
        validation_alias="OTEL_EXPORTER_OTLP_ENDPOINT",
        description="Base URL of an OTLP/HTTP collector (traces go to <url>/v1/traces).",
    )
    traces_endpoint: str | None = Field(
        default=None,
        validation_alias="OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
        description="Full URL for traces (wins over OTEL_EXPORTER_OTLP_ENDPOINT).",
    )
    protocol: Literal["http/protobuf"] = Field(
        default="http/protobuf",
        validation_alias="OTEL_EXPORTER_OTLP_PROTOCOL",
        description="Only http/protobuf is supported (no gRPC).",
    )
    traces_protocol: Literal["http/protobuf"] | None = Field(
        default=None, validation_alias="OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"
    )
    exporter: Literal["otlp", "none"] = Field(
        default="otlp", validation_alias="OTEL_TRACES_EXPORTER"
    )
    disabled: bool = Field(default=False, validation_alias="OTEL_SDK_DISABLED")
    sampler: Sampler = Field(
        default="parentbased_always_on", validation_alias="OTEL_TRACES_SAMPLER"
    )
    sampler_arg: float = Field(
        default=1.0, ge=0.0, le=1.0, validation_alias="OTEL_TRACES_SAMPLER_ARG"
    )

    @field_validator("endpoint", "traces_endpoint")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL (OTLP/HTTP)")
        return value

    @property
    def exports(self) -> bool:
        return (
            not self.disabled
            and self.exporter == "otlp"
            and bool(self.traces_endpoint or self.endpoint)
        )

    def build_sampler(self) -> sampling.Sampler:
        name = self.sampler.removeprefix("parentbased_")
        root: sampling.Sampler
        if name == "always_on":
            root = sampling.ALWAYS_ON
        elif name == "always_off":
            root = sampling.ALWAYS_OFF
        else:
            root = sampling.TraceIdRatioBased(self.sampler_arg)
        return sampling.ParentBased(root) if name != self.sampler else root


class _Export(SpanProcessor):
    """The provider's one span processor: hands ended spans to the OTLP batch processor, if any.

    The provider is installed once per process (tracers bind to it at first use), so export is
    switched on and off here rather than by replacing the provider.
    """

    def __init__(self) -> None:
        self.batch: BatchSpanProcessor | None = None
        self.exporter: SpanExporter | None = None

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        if self.batch is not None:
            self.batch.on_start(span, parent_context)

    def on_end(self, span: ReadableSpan) -> None:
        if self.batch is not None:
            self.batch.on_end(span)

    def shutdown(self) -> None:
        batch, self.batch, self.exporter = self.batch, None, None
        if batch is not None:
            # Exports what is still queued, then closes the exporter.
            batch.shutdown()  # type: ignore[no-untyped-call]

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self.batch.force_flush(timeout_millis) if self.batch is not None else True


_export = _Export()
_tracer_provider: TracerProvider | None = None


def setup_tracing(service: str) -> TracingSettings:
    """Install the process's tracer provider and, when an endpoint is configured, OTLP export.

    Without any ``OTEL_EXPORTER_OTLP_*ENDPOINT`` spans are still recorded (their trace ids link
    rows and log lines) but no exporter exists and nothing leaves the process. The provider's
    resource and sampler are fixed by the first call in a process; call
    :func:`shutdown_tracing` before exit to send what is still queued.
    """
    global _tracer_provider
    settings = load(TracingSettings)
    if _tracer_provider is None:
        installed = trace.get_tracer_provider()
        if isinstance(installed, TracerProvider):  # set up by an embedding program (or a test)
            _tracer_provider = installed
        else:
            _tracer_provider = TracerProvider(
                resource=_resource(service),
                sampler=settings.build_sampler(),
                shutdown_on_exit=False,  # shutdown_tracing() flushes, at the end of main()
            )
            trace.set_tracer_provider(_tracer_provider)
        _tracer_provider.add_span_processor(_export)
    if settings.exports and _export.batch is None:
        _export.exporter = OTLPSpanExporter()  # endpoint, headers, timeout … from the environment
        _export.batch = BatchSpanProcessor(_export.exporter)
        log.info(
            "exporting traces over OTLP/HTTP",
            extra={"endpoint": _without_credentials(settings.traces_endpoint or settings.endpoint)},
        )
    return settings


def _without_credentials(url: str | None) -> str:
    """``url`` without a ``user:password@`` part (a URL may carry one; a log line may not)."""
    parts = urlsplit(url or "")
    return parts._replace(netloc=parts.netloc.rpartition("@")[2]).geturl()


def trace_exporter() -> SpanExporter | None:
    """The OTLP exporter in use, or None when traces stay in the process."""
    return _export.exporter


def shutdown_tracing() -> None:
    """Flush queued spans to the collector and stop exporting (idempotent; blocks briefly)."""
    _export.shutdown()


def current_traceparent() -> str | None:
    """The W3C ``traceparent`` of the current span (None outside a recording span)."""
    carrier: dict[str, str] = {}
    _PROPAGATOR.inject(carrier)
    return carrier.get("traceparent")


def context_from(traceparent: str | None) -> Context | None:
    """A context whose parent is the span a stored ``traceparent`` names.

    None (the current context) when there is none, so a span started with it continues
    whatever trace is current, or starts a new one.
    """
    if not traceparent:
        return None
    return _PROPAGATOR.extract({"traceparent": traceparent})


ReadinessCheck = Callable[[], Awaitable[tuple[bool, str]]]


class HealthServer:
    """Serves /healthz, /readyz and /metrics on one port.

    ``/healthz`` fails when the event loop has not ticked for ``stall_secs`` (a wedged process);
    ``/readyz`` runs every registered check and reports each one's detail.
    """

    def __init__(self, port: int, *, host: str = "0.0.0.0", stall_secs: float = 30.0) -> None:  # noqa: S104
        self.port = port
        self.host = host
        self.stall_secs = stall_secs
        self._checks: dict[str, ReadinessCheck] = {}
        self._last_tick = time.monotonic()
        self._runner: web.AppRunner | None = None
        self._ticker: asyncio.Task[None] | None = None

    def add_check(self, name: str, check: ReadinessCheck) -> None:
        self._checks[name] = check

    async def _healthz(self, _: web.Request) -> web.Response:
        stalled = time.monotonic() - self._last_tick > self.stall_secs
        return web.json_response({"ok": not stalled}, status=503 if stalled else 200)

    async def readiness(self) -> tuple[bool, dict[str, str]]:
        results: dict[str, str] = {}
        ok = True
        for name, check in self._checks.items():
            try:
                passed, detail = await asyncio.wait_for(check(), timeout=5)
            except Exception as exc:
                passed, detail = False, f"{type(exc).__name__}: {exc}"
            ok &= passed
            results[name] = ("ok: " if passed else "failing: ") + detail
        return ok, results

    async def _readyz(self, _: web.Request) -> web.Response:
        ok, results = await self.readiness()
        return web.json_response({"ok": ok, "checks": results}, status=200 if ok else 503)

    async def _metrics(self, _: web.Request) -> web.Response:
        body = generate_latest()
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def _tick(self) -> None:
        while True:
            self._last_tick = time.monotonic()
            await asyncio.sleep(1)

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/readyz", self._readyz)
        app.router.add_get("/metrics", self._metrics)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        if self.port == 0 and site._server is not None:  # ephemeral port, for tests
            sockets = getattr(site._server, "sockets", None) or []
            if sockets:
                self.port = sockets[0].getsockname()[1]
        self._ticker = asyncio.create_task(self._tick())

    async def stop(self) -> None:
        if self._ticker:
            self._ticker.cancel()
        if self._runner:
            await self._runner.cleanup()
