"""Finished SDK spans with every kind of field, for the exporter and processor tests."""

from __future__ import annotations

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Link, SpanContext, SpanKind, Status, StatusCode
from opentelemetry.trace.span import TraceState


def every_kind_of_field(
    service_name: str = "exported", scope_name: str = "natstrace"
) -> list[ReadableSpan]:
    """21 spans of one resource and scope: attributes of each type, events, links,
    trace state, error status."""
    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": service_name}))
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer(scope_name, "0.1.0", schema_url="https://schemas/1.26.0")
    remote = SpanContext(0x1234, 0x5678, is_remote=True, trace_state=TraceState([("vendor", "v")]))
    attributes = {
        "messaging.system": "nats",
        "server.port": 4222,
        "ratio": 0.25,
        "flag": True,
        "raw": b"\x00\xff",
        "tags": ("a", "ü"),
        "sizes": (1, -2),
        "negative": -(2**63),
    }
    with tracer.start_as_current_span(
        "send orders.*", kind=SpanKind.PRODUCER, attributes=attributes
    ):
        for index in range(20):
            with tracer.start_as_current_span(
                f"process orders.{index}",
                kind=SpanKind.CONSUMER,
                links=[Link(remote, {"delivery": index})],
                attributes={**attributes, "messaging.message.id": f"id-{index}"},
            ) as span:
                span.add_event("settled", {"outcome": "ack", "count": index})
                if index % 3 == 0:
                    span.set_status(Status(StatusCode.ERROR, "boom"))
    provider.shutdown()
    return list(memory.get_finished_spans())
