"""natstrace's Prometheus instruments, registered in a prometheus-client registry.

Names follow the OpenTelemetry messaging metrics mapped to Prometheus naming;
what the conventions do not cover is under ``natstrace_``. README's metric
reference lists them. Every metric carries a constant ``service_name`` label;
the others are bounded (subject templates, queue groups, error class names).

Counters and histograms of sampled traces carry a ``trace_id`` exemplar, shown
in the OpenMetrics exposition. The metric families live in :mod:`.series`, which
keeps the per-message cost low.
"""

from __future__ import annotations

from typing import Final

from opentelemetry.trace import Span, SpanContext, TraceFlags
from prometheus_client import REGISTRY, CollectorRegistry

from natstrace.metrics.series import (
    CounterFamily,
    FamilyCollector,
    Gauge,
    GaugeFamily,
    Histogram,
    HistogramCountFamily,
    HistogramFamily,
    InFlight,
)
from natstrace.tracing.semconv import NATS, PROCESS, REQUEST, SEND

__all__ = ["DURATION_BUCKETS", "NatstraceMetrics"]

DURATION_BUCKETS: Final = (
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
    0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
)  # fmt: skip
"""Seconds. NATS operations take well under a millisecond, handlers much longer:
the OpenTelemetry messaging buckets with four sub-millisecond ones in front."""

_SERVICE = "service_name"
_SYSTEM = "messaging_system"
_OPERATION = "messaging_operation_name"
_DESTINATION = "messaging_destination_name"
_GROUP = "messaging_consumer_group_name"
_ERROR = "error_type"
_SENDS = frozenset({SEND, REQUEST})


_SAMPLED: Final = TraceFlags.SAMPLED


def exemplar_of(span_context: SpanContext) -> int | None:
    """The exemplar for a span: its trace ID when the trace is sampled."""
    # The flag tested directly: TraceFlags.sampled is a property that builds a bool,
    # at three times the cost, on every message.
    if span_context.trace_flags & _SAMPLED:
        return span_context.trace_id
    return None


class NatstraceMetrics:
    """The metrics natstrace records, registered in one registry.

    Args:
        registry: where to register (tests pass a fresh ``CollectorRegistry``).
        service_name: value of the constant ``service_name`` label.

    Example::

        registry = CollectorRegistry()
        metrics = NatstraceMetrics(registry, service_name="orders")
        nc = natstrace.instrument(raw, metrics=metrics)
    """

    def __init__(
        self, registry: CollectorRegistry = REGISTRY, service_name: str = "unknown_service"
    ) -> None:
        self._build(registry, service_name)

    def rebind(self, registry: CollectorRegistry, service_name: str, *, keep: bool = False) -> None:
        """Record from now on into fresh instruments in ``registry``, under ``service_name``.

        :func:`natstrace.configure` does this to the process-wide instruments, which
        clients instrumented before it (or before a :func:`natstrace.shutdown`) record
        into. ``keep``: the old instruments stay in their registry with what they
        recorded (unless it is ``registry`` itself); else they leave it.
        """
        if not keep or registry is self.registry:
            for collector in self._collectors:
                self.registry.unregister(collector)
        self._build(registry, service_name)

    def _build(self, registry: CollectorRegistry, service_name: str) -> None:
        self.registry = registry
        self.service_name = service_name

        # There are no constant labels in Prometheus' data model: service_name is an
        # ordinary label that every record method fills with the same value.
        def counter(name: str, doc: str, labels: tuple[str, ...]) -> CounterFamily:
            return CounterFamily(name, doc, (_SERVICE, *labels))

        def histogram(name: str, doc: str, labels: tuple[str, ...]) -> HistogramFamily:
            return HistogramFamily(name, doc, (_SERVICE, *labels), DURATION_BUCKETS)

        def gauge(name: str, doc: str, labels: tuple[str, ...]) -> GaugeFamily[Gauge]:
            return GaugeFamily(name, doc, (_SERVICE, *labels), Gauge)

        self.operation_duration = histogram(
            "messaging_client_operation_duration_seconds",
            "Duration of a client operation: send, request (to the reply), receive, settle.",
            (_SYSTEM, _OPERATION, _DESTINATION, _ERROR),
        )
        self.process_duration = histogram(
            "messaging_process_duration_seconds",
            "Duration of handling one message, in the user's handler.",
            (_SYSTEM, _OPERATION, _DESTINATION, _GROUP, _ERROR),
        )
        # Every send and every handled message is counted and timed under the same
        # labels: the counters are the histograms' counts, recorded once.
        operation = self.operation_duration.labelnames.index(_OPERATION)
        self.sent_messages = HistogramCountFamily(
            "messaging_client_sent_messages",
            "Messages a producer attempted to send (publish or request).",
            self.operation_duration,
            where=lambda values: values[operation] in _SENDS,
        )
        self.consumed_messages = HistogramCountFamily(
            "messaging_client_consumed_messages",
            "Messages delivered to a consumer.",
            self.process_duration,
        )
        self.delivery_latency = histogram(
            "natstrace_delivery_latency_seconds",
            "Time from the stream's store timestamp to the start of processing.",
            (_DESTINATION, _GROUP),
        )
        self.in_flight = GaugeFamily(
            "natstrace_messages_in_flight",
            "Messages being handled right now.",
            (_SERVICE, _DESTINATION, _GROUP),
            InFlight,
        )
        self.invalid_headers = counter(
            "natstrace_invalid_headers",
            "Incoming contract headers dropped because their value was invalid.",
            ("header",),
        )
        self.spans_dropped = counter(
            "natstrace_spans_dropped",
            "Spans that did not reach the exporter's destination.",
            ("reason",),
        )
        # JetStream (natstrace_*): registered as a collector of their own.
        self.redeliveries = counter(
            "natstrace_redeliveries",
            "JetStream messages handled again (delivery count above 1).",
            (_DESTINATION, _GROUP),
        )
        self.settlements = counter(
            "natstrace_settlements",
            "JetStream settlements sent, by outcome: ack, nak, term, in_progress.",
            (_DESTINATION, _GROUP, "outcome"),
        )
        self.consumer_pending = gauge(
            "natstrace_consumer_pending_messages",
            "Messages in the stream not yet delivered to the consumer (last seen).",
            ("stream", "consumer"),
        )
        # The histogram a send or a handled message records into, by (operation or
        # "process", template, group, error type): on every message one lookup of a
        # short key instead of building the full label tuple. As bounded as the
        # families' own series.
        self._timed: dict[tuple[str, str, str, str], Histogram] = {}
        self._collectors = (
            FamilyCollector([self.redeliveries, self.settlements, self.consumer_pending]),
            FamilyCollector(
                [
                    self.sent_messages,
                    self.consumed_messages,
                    self.operation_duration,
                    self.process_duration,
                    self.delivery_latency,
                    self.in_flight,
                    self.invalid_headers,
                    self.spans_dropped,
                ]
            ),
        )
        for collector in self._collectors:
            registry.register(collector)

    def record_send(
        self,
        operation: str,
        template: str,
        error_type: str,
        duration: float,
        span_context: SpanContext,
    ) -> None:
        """Count one publish or request and observe its duration."""
        key = (operation, template, "", error_type)
        series = self._timed.get(key)
        if series is None:
            labels = (self.service_name, NATS, operation, template, error_type)
            series = self._timed.setdefault(key, self.operation_duration.labels(*labels))
        series.observe(duration, exemplar_of(span_context))

    def record_process(
        self,
        template: str,
        group: str,
        error_type: str,
        duration: float,
        span_context: SpanContext,
        span: Span | None = None,
    ) -> None:
        """Count one handled message and observe how long its handling took.

        ``span``: the span an exemplar marks, when the caller has it at hand; else the
        current span (see :mod:`.exemplars`)."""
        key = (PROCESS, template, group, error_type)
        series = self._timed.get(key)
        if series is None:
            labels = (self.service_name, NATS, PROCESS, template, group, error_type)
            series = self._timed.setdefault(key, self.process_duration.labels(*labels))
        series.observe(duration, exemplar_of(span_context), span)

    def in_flight_gauge(self, template: str, group: str) -> InFlight:
        """The in-flight gauge of one subscription."""
        return self.in_flight.labels(self.service_name, template, group)

    def count_invalid_headers(self, names: tuple[str, ...]) -> None:
        """Count dropped incoming header values, by header name."""
        for name in names:
            self.invalid_headers.labels(self.service_name, name).inc()

    def count_spans_dropped(self, reason: str, count: int) -> None:
        """Count spans lost on the way to the backend (``export_failed``, ``queue_full``)."""
        self.spans_dropped.labels(self.service_name, reason).inc(amount=count)

    def record_delivery(
        self,
        template: str,
        group: str,
        latency: float | None,
        redelivered: bool,
        span_context: SpanContext,
        span: Span | None = None,
    ) -> None:
        """Observe a JetStream message's delivery latency (store time to processing
        start) and count it if it is a redelivery.

        ``span``: the span an exemplar marks, when the caller has it at hand; else the
        current span (see :mod:`.exemplars`)."""
        trace_id = exemplar_of(span_context)
        if latency is not None:
            self.delivery_latency.labels(self.service_name, template, group).observe(
                latency, trace_id, span
            )
        if redelivered:
            self.redeliveries.labels(self.service_name, template, group).inc(trace_id, span=span)

    def record_settlement(
        self,
        template: str,
        group: str,
        outcome: str,
        error_type: str,
        duration: float,
        span_context: SpanContext,
    ) -> None:
        """Time one settlement (operation ``settle``); count it by outcome if it was sent."""
        trace_id = exemplar_of(span_context)
        service = self.service_name
        self.operation_duration.labels(service, NATS, "settle", template, error_type).observe(
            duration, trace_id
        )
        if not error_type:
            self.settlements.labels(service, template, group, outcome).inc(trace_id)

    def record_receive(
        self, template: str, error_type: str, duration: float, span_context: SpanContext
    ) -> None:
        """Time one JetStream fetch (operation ``receive``)."""
        self.operation_duration.labels(
            self.service_name, NATS, "receive", template, error_type
        ).observe(duration, exemplar_of(span_context))

    def set_consumer_pending(self, stream: str, consumer: str, pending: int) -> None:
        """Set the pending gauge of a stream/consumer to the last value JetStream reported."""
        self.consumer_pending.labels(self.service_name, stream, consumer).set(pending)
