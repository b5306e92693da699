"""natstrace's Prometheus instruments: plain prometheus-client metric objects.

Names follow the OpenTelemetry messaging metrics mapped to Prometheus naming;
what the conventions do not cover is under ``natstrace_``. README's metric
reference lists them. Every metric carries a constant ``service_name`` label;
the others are bounded (subject templates, queue groups, error class names).

Counters and histograms of sampled traces carry a ``trace_id`` exemplar, shown
in the OpenMetrics exposition.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any, Final

from opentelemetry.trace import SpanContext
from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram

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


def exemplar_of(span_context: SpanContext) -> dict[str, str] | None:
    """The exemplar labels for a span: its trace ID when the trace is sampled."""
    if span_context.trace_flags.sampled:
        return {"trace_id": format(span_context.trace_id, "032x")}
    return None


class NatstraceMetrics:
    """The metric objects natstrace records into, registered in one registry.

    Args:
        registry: where to register (tests pass a fresh ``CollectorRegistry``).
        service_name: value of the constant ``service_name`` label.

    Example::

        registry = CollectorRegistry()
        metrics = NatstraceMetrics(registry=registry, service_name="orders")
        nc = natstrace.instrument(raw, metrics=metrics)
    """

    def __init__(
        self, registry: CollectorRegistry = REGISTRY, service_name: str = "unknown_service"
    ) -> None:
        self.registry = registry
        self.service_name = service_name
        # prometheus-client has no constant labels: service_name is an ordinary label
        # that _child always fills with the same value.

        def counter(name: str, doc: str, labels: tuple[str, ...]) -> Counter:
            return Counter(name, doc, (_SERVICE, *labels), registry=registry)

        def histogram(name: str, doc: str, labels: tuple[str, ...]) -> Histogram:
            return Histogram(
                name, doc, (_SERVICE, *labels), registry=registry, buckets=DURATION_BUCKETS
            )

        def gauge(name: str, doc: str, labels: tuple[str, ...]) -> Gauge:
            return Gauge(name, doc, (_SERVICE, *labels), registry=registry)

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
        # Labelled children, looked up once per label combination: the combinations
        # are bounded (templates x groups x error types), and this skips
        # prometheus-client's per-call label validation and lock on the hot path.
        self._children: dict[Hashable, Any] = {}

    def _child(self, metric: Counter | Histogram | Gauge, *labels: str) -> Any:
        key = (id(metric), *labels)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(self.service_name, *labels)
        return child

    def record_send(
        self,
        operation: str,
        template: str,
        error_type: str,
        duration: float,
        span_context: SpanContext,
    ) -> None:
        """Count one publish or request and observe its duration."""
        exemplar = exemplar_of(span_context)
        self._child(self.sent_messages, NATS, operation, template, error_type).inc(1, exemplar)
        self._child(self.operation_duration, NATS, operation, template, error_type).observe(
            duration, exemplar
        )

    def record_process(
        self,
        template: str,
        group: str,
        error_type: str,
        duration: float,
        span_context: SpanContext,
    ) -> None:
        """Count one handled message and observe how long its handling took."""
        exemplar = exemplar_of(span_context)
        self._child(self.consumed_messages, NATS, "process", template, group, error_type).inc(
            1, exemplar
        )
        self._child(self.process_duration, NATS, "process", template, group, error_type).observe(
            duration, exemplar
        )

    def in_flight_gauge(self, template: str, group: str) -> Gauge:
        """The in-flight gauge child for one subscription."""
        child: Gauge = self._child(self.in_flight, template, group)
        return child

    def count_invalid_headers(self, names: tuple[str, ...]) -> None:
        """Count dropped incoming header values, by header name."""
        for name in names:
            self._child(self.invalid_headers, name).inc()

    def count_spans_dropped(self, reason: str, count: int) -> None:
        """Count spans lost on the way to the backend (``export_failed``, ``queue_full``)."""
        self._child(self.spans_dropped, reason).inc(count)
