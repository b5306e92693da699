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

from opentelemetry.trace import SpanContext
from prometheus_client import REGISTRY, CollectorRegistry

from natstrace.metrics.series import (
    Counter,
    CounterFamily,
    FamilyCollector,
    Gauge,
    GaugeFamily,
    Histogram,
    HistogramFamily,
)
from natstrace.tracing.semconv import NATS

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
_PROCESS = "process"


def exemplar_of(span_context: SpanContext) -> str | None:
    """The exemplar for a span: its trace ID (32 hex digits) when the trace is sampled."""
    if span_context.trace_flags.sampled:
        return format(span_context.trace_id, "032x")
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
        self.registry = registry
        self.service_name = service_name

        # There are no constant labels in Prometheus' data model: service_name is an
        # ordinary label that every record method fills with the same value.
        def counter(name: str, doc: str, labels: tuple[str, ...]) -> CounterFamily:
            return CounterFamily(name, doc, (_SERVICE, *labels))

        def histogram(name: str, doc: str, labels: tuple[str, ...]) -> HistogramFamily:
            return HistogramFamily(name, doc, (_SERVICE, *labels), DURATION_BUCKETS)

        def gauge(name: str, doc: str, labels: tuple[str, ...]) -> GaugeFamily:
            return GaugeFamily(name, doc, (_SERVICE, *labels))

        self.sent_messages = counter(
            "messaging_client_sent_messages",
            "Messages a producer attempted to send (publish or request).",
            (_SYSTEM, _OPERATION, _DESTINATION, _ERROR),
        )
        self.consumed_messages = counter(
            "messaging_client_consumed_messages",
            "Messages delivered to a consumer.",
            (_SYSTEM, _OPERATION, _DESTINATION, _GROUP, _ERROR),
        )
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
        self.delivery_latency = histogram(
            "natstrace_delivery_latency_seconds",
            "Time from the stream's store timestamp to the start of processing.",
            (_DESTINATION, _GROUP),
        )
        self.in_flight = gauge(
            "natstrace_messages_in_flight",
            "Messages being handled right now.",
            (_DESTINATION, _GROUP),
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
        # The counter and histogram a send or a handled message records into, by
        # (operation or "process", template, group, error type): on every message
        # one lookup of a short key instead of building the full label tuple twice.
        # As bounded as the families' own series.
        self._pairs: dict[tuple[str, str, str, str], tuple[Counter, Histogram]] = {}
        registry.register(
            FamilyCollector([self.redeliveries, self.settlements, self.consumer_pending])
        )
        registry.register(
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
            )
        )

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
        pair = self._pairs.get(key)
        if pair is None:
            labels = (self.service_name, NATS, operation, template, error_type)
            pair = self._pairs.setdefault(
                key, (self.sent_messages.labels(*labels), self.operation_duration.labels(*labels))
            )
        trace_id = exemplar_of(span_context)
        pair[0].inc(trace_id)
        pair[1].observe(duration, trace_id)

    def record_process(
        self,
        template: str,
        group: str,
        error_type: str,
        duration: float,
        span_context: SpanContext,
    ) -> None:
        """Count one handled message and observe how long its handling took."""
        key = (_PROCESS, template, group, error_type)
        pair = self._pairs.get(key)
        if pair is None:
            labels = (self.service_name, NATS, _PROCESS, template, group, error_type)
            pair = self._pairs.setdefault(
                key, (self.consumed_messages.labels(*labels), self.process_duration.labels(*labels))
            )
        trace_id = exemplar_of(span_context)
        pair[0].inc(trace_id)
        pair[1].observe(duration, trace_id)

    def in_flight_gauge(self, template: str, group: str) -> Gauge:
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
    ) -> None:
        """Observe a JetStream message's delivery latency (store time to processing
        start) and count it if it is a redelivery."""
        trace_id = exemplar_of(span_context)
        if latency is not None:
            self.delivery_latency.labels(self.service_name, template, group).observe(
                latency, trace_id
            )
        if redelivered:
            self.redeliveries.labels(self.service_name, template, group).inc(trace_id)

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
