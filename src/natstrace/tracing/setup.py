"""Build the OpenTelemetry tracing pipeline: resource, sampler, exporter, batch processor.

Used by :func:`natstrace.configure`. When the application set up OpenTelemetry
itself, :func:`install_tracer_provider` leaves the global provider alone.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable, Sequence

from opentelemetry import trace
from opentelemetry.sdk.resources import SERVICE_INSTANCE_ID, SERVICE_NAME, SERVICE_VERSION, Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SpanExporter,
    SpanExportResult,
)
from opentelemetry.sdk.trace.sampling import Sampler

from natstrace.config import Settings

__all__ = [
    "CountingSpanExporter",
    "TracingPipeline",
    "build_span_exporter",
    "install_tracer_provider",
]

_log = logging.getLogger(__name__)


class CountingSpanExporter(SpanExporter):
    """Wraps an exporter and reports the spans of every failed export.

    A failed export loses its batch; ``on_dropped("export_failed", n)`` makes
    that visible as a metric instead of a log line only.
    """

    def __init__(self, exporter: SpanExporter, on_dropped: Callable[[str, int], None]) -> None:
        self._exporter = exporter
        self._on_dropped = on_dropped

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        try:
            result = self._exporter.export(spans)
        except Exception:
            _log.exception("natstrace: span exporter raised")
            result = SpanExportResult.FAILURE
        if result is not SpanExportResult.SUCCESS:
            self._on_dropped("export_failed", len(spans))
        return result

    def shutdown(self) -> None:
        self._exporter.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self._exporter.force_flush(timeout_millis)


def build_span_exporter(settings: Settings) -> SpanExporter | None:
    """The exporter ``OTEL_TRACES_EXPORTER`` and ``OTEL_EXPORTER_OTLP_*PROTOCOL`` ask for.

    ``otlp`` builds the gRPC or HTTP/protobuf OTLP exporter, which reads its
    endpoint, headers, timeout and TLS settings from the standard variables;
    ``console`` prints spans; ``none`` returns ``None``.

    Raises:
        ValueError: an exporter name natstrace does not know.
    """
    name = settings.traces_exporter
    if name == "none":
        return None
    if name == "console":
        return ConsoleSpanExporter()
    if name != "otlp":
        raise ValueError(f"OTEL_TRACES_EXPORTER={name!r}: expected otlp, console or none")
    if settings.otlp_protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (
            OTLPSpanExporter as GrpcExporter,
        )

        return GrpcExporter()
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
        OTLPSpanExporter as HttpExporter,
    )

    return HttpExporter()


class TracingPipeline:
    """The tracer provider natstrace built, and how to flush and stop it."""

    def __init__(self, provider: TracerProvider, processor: BatchSpanProcessor | None) -> None:
        self.provider = provider
        self.processor = processor

    def shutdown(self, timeout: float) -> bool:
        """Flush pending spans and stop the exporter, giving up after ``timeout`` seconds.

        The SDK's flush waits for the exporter's own timeout and retries; running it
        on a helper thread keeps a dead or silent collector from holding up the
        application's exit. Returns whether it finished in time.
        """
        done = threading.Event()

        def _stop() -> None:
            try:
                self.provider.shutdown()
            finally:
                done.set()

        threading.Thread(target=_stop, name="natstrace-shutdown", daemon=True).start()
        return done.wait(timeout)


def install_tracer_provider(
    settings: Settings,
    *,
    service_name: str | None = None,
    service_version: str | None = None,
    sampler: Sampler | None = None,
    exporter: SpanExporter | None = None,
    on_dropped: Callable[[str, int], None] | None = None,
) -> TracingPipeline | None:
    """Build a tracer provider and make it the global one.

    Returns ``None`` and changes nothing when the application already installed
    an SDK tracer provider, or when ``OTEL_SDK_DISABLED=true``.

    Args:
        service_name: wins over ``OTEL_SERVICE_NAME``, which wins over
            ``OTEL_RESOURCE_ATTRIBUTES`` (the SDK's order).
        sampler: default: the SDK's, from ``OTEL_TRACES_SAMPLER``/``_ARG``
            (``parentbased_always_on`` when unset).
        exporter: default: :func:`build_span_exporter`.
        on_dropped: called with a reason and a count when spans are lost.
    """
    if settings.sdk_disabled:
        return None
    if not isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider):
        _log.info("natstrace: using the tracer provider the application installed")
        return None
    attributes = {SERVICE_INSTANCE_ID: str(uuid.uuid4())}
    if service_name or settings.service_name:
        attributes[SERVICE_NAME] = service_name or settings.service_name or ""
    if service_version:
        attributes[SERVICE_VERSION] = service_version
    provider = TracerProvider(resource=Resource.create(attributes), sampler=sampler)
    span_exporter = exporter if exporter is not None else build_span_exporter(settings)
    processor = None
    if span_exporter is not None:
        if on_dropped is not None:
            span_exporter = CountingSpanExporter(span_exporter, on_dropped)
        processor = BatchSpanProcessor(span_exporter)
        provider.add_span_processor(processor)
    trace.set_tracer_provider(provider)
    return TracingPipeline(provider, processor)
