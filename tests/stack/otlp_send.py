"""Hand-made OTLP traces, posted over OTLP/HTTP: for the collector tests that need
to control trace IDs, timing and status exactly."""

from __future__ import annotations

import os
import time
import urllib.request
from dataclasses import dataclass, field

from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
from opentelemetry.proto.common.v1 import common_pb2
from opentelemetry.proto.resource.v1 import resource_pb2
from opentelemetry.proto.trace.v1 import trace_pb2


def new_trace_id() -> str:
    return os.urandom(16).hex()


def new_span_id() -> str:
    return os.urandom(8).hex()


@dataclass
class FakeSpan:
    """One span of a hand-made trace (times are now unless given)."""

    trace_id: str
    name: str
    service: str = "test-client"
    parent: str = ""
    error: bool = False
    span_id: str = field(default_factory=new_span_id)
    kind: int = trace_pb2.Span.SPAN_KIND_PRODUCER
    attributes: dict[str, bool | int | str] = field(default_factory=dict)


def _value(value: bool | int | str) -> common_pb2.AnyValue:
    if isinstance(value, bool):
        return common_pb2.AnyValue(bool_value=value)
    if isinstance(value, int):
        return common_pb2.AnyValue(int_value=value)
    return common_pb2.AnyValue(string_value=value)


def request_of(spans: list[FakeSpan]) -> trace_service_pb2.ExportTraceServiceRequest:
    now = time.time_ns()
    request = trace_service_pb2.ExportTraceServiceRequest()
    for service in sorted({s.service for s in spans}):
        resource = request.resource_spans.add()
        resource.resource.CopyFrom(
            resource_pb2.Resource(
                attributes=[
                    common_pb2.KeyValue(key="service.name", value=_value(service)),
                ]
            )
        )
        scope = resource.scope_spans.add()
        for span in (s for s in spans if s.service == service):
            status = trace_pb2.Status(code=trace_pb2.Status.STATUS_CODE_ERROR if span.error else 0)
            scope.spans.append(
                trace_pb2.Span(
                    trace_id=bytes.fromhex(span.trace_id),
                    span_id=bytes.fromhex(span.span_id),
                    parent_span_id=bytes.fromhex(span.parent) if span.parent else b"",
                    name=span.name,
                    kind=span.kind,  # type: ignore[arg-type]
                    start_time_unix_nano=now - 2_000_000,
                    end_time_unix_nano=now,
                    status=status,
                    attributes=[
                        common_pb2.KeyValue(key=k, value=_value(v))
                        for k, v in span.attributes.items()
                    ],
                )
            )
    return request


def post_spans(endpoint: str, spans: list[FakeSpan]) -> None:
    """POST the spans to an OTLP/HTTP endpoint (http://host:port)."""
    request = urllib.request.Request(
        f"{endpoint}/v1/traces",
        data=request_of(spans).SerializeToString(),
        headers={"Content-Type": "application/x-protobuf"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200
