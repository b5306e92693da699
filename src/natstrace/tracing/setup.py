"""Build the OpenTelemetry tracing pipeline: resource, sampler, exporter, span processor.

Used by :func:`natstrace.configure`. When the application set up OpenTelemetry
itself, :func:`install_tracer_provider` leaves the global provider alone.

A dead or silent collector must never cost the application a message: exports
run on a worker thread, the queue in front of it has a fixed bound
(``OTEL_BSP_MAX_QUEUE_SIZE``), and what does not fit is dropped and counted, not
logged span by span. natstrace's OTLP exporter gets the
:class:`~natstrace.tracing.export.EncodingSpanProcessor` (spans encoded as they
end, bytes queued); any other exporter the SDK's batch processor behind the same
bound (:class:`BoundedBatchSpanProcessor`).
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable, Sequence

from opentelemetry import trace
from opentelemetry.sdk.resources import SERVICE_INSTANCE_ID, SERVICE_NAME, SERVICE_VERSION, Resource
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SpanExporter,
    SpanExportResult,
)
from opentelemetry.sdk.trace.sampling import Sampler
from opentelemetry.trace import TraceFlags

from natstrace.config import Settings
from natstrace.tracing.export.exporter import OtlpSpanExporter
from natstrace.tracing.export.processor import EncodingSpanProcessor
from natstrace.tracing.export.queue_full import QueueFull
from natstrace.tracing.processor_slot import SpanProcessorSlot

__all__ = [
    "BoundedBatchSpanProcessor",
    "CountingSpanExporter",
    "InstalledTracing",
    "build_span_exporter",
    "build_span_processor",
    "install_tracer_provider",
]

_log = logging.getLogger(__name__)

_SAMPLED = TraceFlags.SAMPLED


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


class _TakenCounter(SpanExporter):
    """Tells its processor how many spans the batch worker has taken out of the queue."""

    def __init__(self, exporter: SpanExporter, taken: Callable[[int], None]) -> None:
        self._exporter = exporter
        self._taken = taken

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        # Counted on entry: these spans left the queue, whatever the export's outcome.
        self._taken(len(spans))
        return self._exporter.export(spans)

    def shutdown(self) -> None:
        self._exporter.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self._exporter.force_flush(timeout_millis)


class BoundedBatchSpanProcessor(SpanProcessor):
    """The SDK's ``BatchSpanProcessor`` behind a queue bound that natstrace enforces.

    The SDK's processor drops a span when its queue is full and says so only in a
    WARNING log line (one per dropped span in older SDK versions): with a dead
    collector under load that floods the logs and costs the message flow more than
    tracing itself. This processor decides *before* handing a span over. Spans handed
    over minus spans its exporter has been given is what the SDK's queue holds (the
    worker takes a batch out of the queue, then exports it), so a full queue is known
    from the SDK's public contract alone, not from its private attributes or its log
    text. A span that does not fit is dropped here, counted as ``queue_full`` through
    ``on_dropped``, and logged at most once per ``log_interval`` seconds.

    While the worker holds a batch between taking it and exporting it the count runs
    up to one batch high: the bound is then enforced slightly early, never late.

    Args:
        exporter: where the batch worker sends spans.
        max_queue_size: most spans waiting for export (``OTEL_BSP_MAX_QUEUE_SIZE``).
        max_export_batch_size: spans per export; capped at ``max_queue_size``.
        schedule_delay: seconds the worker waits for a full batch before it sends
            what it has (``OTEL_BSP_SCHEDULE_DELAY``).
        on_dropped: called with ``("queue_full", 1)`` for every dropped span.
        log_interval: seconds between two warnings about a full queue.
    """

    def __init__(
        self,
        exporter: SpanExporter,
        *,
        max_queue_size: int = 2048,
        max_export_batch_size: int = 512,
        schedule_delay: float = 5.0,
        on_dropped: Callable[[str, int], None] | None = None,
        log_interval: float = 60.0,
    ) -> None:
        self.max_queue_size = max_queue_size
        self._full = QueueFull(max_queue_size, on_dropped, log_interval)
        self._lock = threading.Lock()
        self._handed = 0
        self._taken = 0
        self._batch = BatchSpanProcessor(
            _TakenCounter(exporter, self._count_taken),
            max_queue_size=max_queue_size,
            max_export_batch_size=min(max_export_batch_size, max_queue_size),
            schedule_delay_millis=schedule_delay * 1000,
        )
        self._hand_over = self._batch.on_end

    @property
    def queued(self) -> int:
        """Spans handed to the batch worker and not yet exported (an upper bound)."""
        return self._handed - self._taken

    @property
    def dropped(self) -> int:
        """Spans dropped here because the queue was full."""
        return self._full.dropped

    def _count_taken(self, count: int) -> None:
        with self._lock:
            self._taken += count

    # No on_start: the batch processor does nothing there, and neither does the base
    # class's, one call instead of two for every span started.

    def on_end(self, span: ReadableSpan) -> None:
        context = span.context
        # The flag tested as a bit: TraceFlags.sampled is a property building a bool.
        if context is None or not context.trace_flags & _SAMPLED:
            return  # the batch processor exports sampled spans only
        with self._lock:
            full = self._handed - self._taken >= self.max_queue_size
            if not full:
                self._handed += 1
        if full:
            self._full.drop()
        else:
            self._hand_over(span)

    def shutdown(self) -> None:
        self._batch.shutdown()  # type: ignore[no-untyped-call]

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self._batch.force_flush(timeout_millis)


def build_span_exporter(settings: Settings) -> SpanExporter | None:
    """The exporter ``OTEL_TRACES_EXPORTER`` and ``OTEL_EXPORTER_OTLP_*PROTOCOL`` ask for.

    ``otlp`` builds natstrace's gRPC or HTTP/protobuf OTLP exporter (OpenTelemetry's
    own with ``NATSTRACE_OTLP_ENCODER=stock``), which reads its endpoint, headers,
    timeout, compression and TLS settings from the standard variables;
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
    if settings.otlp_encoder == "natstrace":
        return OtlpSpanExporter("grpc" if settings.otlp_protocol == "grpc" else "http/protobuf")
    if settings.otlp_protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (
            OTLPSpanExporter as GrpcExporter,
        )

        return GrpcExporter()
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
        OTLPSpanExporter as HttpExporter,
    )

    return HttpExporter()


def build_span_processor(
    settings: Settings,
    exporter: SpanExporter,
    on_dropped: Callable[[str, int], None] | None = None,
) -> BoundedBatchSpanProcessor | EncodingSpanProcessor:
    """The processor :func:`configure` puts in front of ``exporter``: batches of
    ``settings.span_batch_size``, at most ``settings.span_queue_size`` spans waiting,
    overflow and failed exports reported to ``on_dropped``. natstrace's OTLP
    exporter gets the :class:`EncodingSpanProcessor`, any other the
    :class:`BoundedBatchSpanProcessor`."""
    if isinstance(exporter, OtlpSpanExporter):
        return EncodingSpanProcessor(
            exporter,
            max_queue_size=settings.span_queue_size,
            max_export_batch_size=settings.span_batch_size,
            schedule_delay=settings.span_schedule_delay,
            on_dropped=on_dropped,
        )
    if on_dropped is not None:
        exporter = CountingSpanExporter(exporter, on_dropped)
    return BoundedBatchSpanProcessor(
        exporter,
        max_queue_size=settings.span_queue_size,
        max_export_batch_size=settings.span_batch_size,
        schedule_delay=settings.span_schedule_delay,
        on_dropped=on_dropped,
    )


class InstalledTracing:
    """The tracer provider natstrace built, and how to flush and stop it."""

    def __init__(self, provider: TracerProvider, processor: SpanProcessor | None) -> None:
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
) -> InstalledTracing | None:
    """Build a tracer provider and make it the global one.

    Returns ``None`` and changes nothing when the application already installed
    an SDK tracer provider, or when ``OTEL_SDK_DISABLED=true``.

    Args:
        service_name: wins over ``OTEL_SERVICE_NAME``, which wins over
            ``OTEL_RESOURCE_ATTRIBUTES`` (the SDK's order).
        sampler: default: the SDK's, from ``OTEL_TRACES_SAMPLER``/``_ARG``
            (``parentbased_always_on`` when unset).
        exporter: default: :func:`build_span_exporter`.
        on_dropped: called with a reason and a count when spans are lost
            (``queue_full``, ``export_failed``).

    The exporter runs behind a :class:`BoundedBatchSpanProcessor` whose queue holds
    ``settings.span_queue_size`` spans at most.
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
    # In a slot, so that configure() after shutdown() can put a new processor in.
    slot = SpanProcessorSlot()
    if span_exporter is not None:
        slot.replace(build_span_processor(settings, span_exporter, on_dropped))
    provider.add_span_processor(slot)
    trace.set_tracer_provider(provider)
    return InstalledTracing(provider, slot)
