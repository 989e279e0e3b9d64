"""Traces: one tracer provider per process, exported over OTLP/HTTP only when asked to.

Spans cross process boundaries as W3C ``traceparent`` strings stored beside the rows they
describe (:func:`current_traceparent`, :func:`context_from`): the listener's ingest batch on each
trade row, the executor's signal and order on theirs. They leave the process only when the
standard ``OTEL_EXPORTER_OTLP_[TRACES_]ENDPOINT`` variable is set (:class:`TracingSettings`);
otherwise they are still recorded, so rows and log lines share trace ids, but no exporter exists.
``shutdown_tracing`` (called at the end of every ``orderflow`` command) sends what is queued.
"""

from __future__ import annotations

import logging
from typing import Literal
from urllib.parse import urlsplit

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import OTELResourceDetector, Resource
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor, TracerProvider, sampling
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from orderflow import __version__
from orderflow.config import load, redact_url

log = logging.getLogger(__name__)
_PROPAGATOR = TraceContextTextMapPropagator()


def service_resource(service: str) -> Resource:
    """``orderflow-<service>`` unless OTEL_SERVICE_NAME / OTEL_RESOURCE_ATTRIBUTES name it."""
    ours = Resource.create({"service.name": f"orderflow-{service}", "service.version": __version__})
    return ours.merge(OTELResourceDetector().detect())


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
            raise ValueError(
                "must be an http:// or https:// URL (OTLP/HTTP), e.g. http://collector:4318"
            )
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
                resource=service_resource(service),
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
    """``url`` as a log line may show it (:func:`orderflow.config.redact_url`), its
    ``user:password@`` dropped first: the collector's address, no credential."""
    parts = urlsplit(url or "")
    return redact_url(parts._replace(netloc=parts.netloc.rpartition("@")[2]).geturl())


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
