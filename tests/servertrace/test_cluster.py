"""Three routed servers: one span per hop, parented hop to hop, order-independent."""

from __future__ import annotations

import json
import random
from collections.abc import Awaitable, Callable
from typing import Any

import nats
import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client import CollectorRegistry

from natstrace.embedded_server import EmbeddedNatsServer
from natstrace.servertrace import (
    ServerTraceCollector,
    TraceAssembler,
    build_spans,
    parse_trace_event,
    trace_headers,
)
from natstrace.testing import eventually

pytestmark = pytest.mark.integration

SendSpan = Callable[[str], tuple[ReadableSpan, dict[str, str]]]
StartCollector = Callable[..., Awaitable[Any]]


def canonical(spans: list[ReadableSpan]) -> list[tuple[Any, ...]]:
    """Everything an exporter would send about the spans, in a stable order."""
    return sorted(
        (
            span.name,
            span.context.trace_id,
            span.context.span_id,
            span.parent.span_id if span.parent else None,
            span.start_time,
            span.end_time,
            sorted((span.attributes or {}).items()),
            sorted(span.resource.attributes.items()),
            [(e.name, e.timestamp, sorted((e.attributes or {}).items())) for e in span.events],
            span.status.status_code,
        )
        for span in spans
    )


def assemble(payloads: list[bytes]) -> list[ReadableSpan]:
    assembler = TraceAssembler(timeout=60)
    spans: list[ReadableSpan] = []
    for payload in payloads:
        for message in assembler.add(parse_trace_event(payload)):
            assert message.complete
            spans.extend(build_spans(message).spans)
    assert assembler.pending == 0
    return spans


async def test_hops_across_three_servers(
    cluster: list[EmbeddedNatsServer], collector_for: StartCollector, send_span: SendSpan
) -> None:
    a, _, c = cluster
    harness = await collector_for(a.url, "st.cluster.trace")
    subscriber = await nats.connect(c.url, name="shipping")
    publisher = await nats.connect(a.url, name="orders")
    got: list[bytes] = []

    async def handler(msg: Any) -> None:
        got.append(msg.data)

    try:
        await subscriber.subscribe("st.cluster.orders", cb=handler)
        await subscriber.flush()

        # Interest crosses the routes asynchronously: probe until A forwards to C.
        async def forwarded() -> None:
            await publisher.publish("st.cluster.orders", b"probe")
            await publisher.flush()
            assert got

        await eventually(forwarded)
        send, headers = send_span("st.cluster.orders")
        headers.update(trace_headers("st.cluster.trace"))
        await publisher.publish("st.cluster.orders", b"real", headers=headers)
        await publisher.flush()
        spans = await harness.spans(2)
    finally:
        await publisher.close()
        await subscriber.close()

    by_server = {(s.attributes or {})["natstrace.server.name"]: s for s in spans}
    assert set(by_server) == {"A", "C"}  # no interest on B, so A does not forward there
    span_a, span_c = by_server["A"], by_server["C"]
    assert {s.context.trace_id for s in spans} == {send.context.trace_id}
    assert span_a.parent is not None and span_a.parent.span_id == send.context.span_id
    assert span_c.parent is not None and span_c.parent.span_id == span_a.context.span_id
    attributes_a, attributes_c = span_a.attributes or {}, span_c.attributes or {}
    assert attributes_a["natstrace.server.cluster"] == "tc"
    assert attributes_a["natstrace.server.ingress.kind"] == "client"
    assert attributes_c["natstrace.server.ingress.kind"] == "router"
    assert attributes_c["natstrace.server.hop"] == "1"
    assert attributes_a["natstrace.server.no_interest"] is False
    assert attributes_a["natstrace.server.trace_complete"] is True
    [route] = [e.attributes or {} for e in span_a.events]
    assert route["natstrace.server.egress.kind"] == "router"
    assert route["natstrace.server.egress.connection_name"] == "C"
    assert route["natstrace.server.egress.hop"] == "1"
    [delivery] = [e.attributes or {} for e in span_c.events]
    assert delivery["natstrace.server.egress.connection_name"] == "shipping"
    assert delivery["messaging.destination.subscription.name"] == "st.cluster.orders"
    assert span_c.start_time is not None and span_a.start_time is not None
    assert span_c.start_time >= span_a.start_time

    # Any order, every event twice: the same spans as the live collector exported.
    payloads = [payload for payload, _ in harness.raw]
    assert len(payloads) == 2
    expected = canonical(spans)
    for seed in range(6):
        shuffled = payloads * 2
        random.Random(seed).shuffle(shuffled)
        assert canonical(assemble(shuffled)) == expected

    # A downstream server whose clock runs 2 s behind is shifted to start after A's egress.
    skewed = json.loads(payloads[0] if b'"Nats-Trace-Hop"' in payloads[0] else payloads[1])
    skewed["events"][0]["ts"] = "2001-01-01T00:00:00.5Z"
    upstream = payloads[1] if b'"Nats-Trace-Hop"' in payloads[0] else payloads[0]
    shifted = {
        (s.attributes or {})["natstrace.server.name"]: s
        for s in assemble([json.dumps(skewed).encode(), upstream])
    }
    forwarded_at = span_a.events[0].timestamp
    assert shifted["C"].start_time == forwarded_at
    assert (shifted["C"].attributes or {})["natstrace.server.raw_start_time_unix_nano"] == (
        978307200_500_000_000
    )
    assert (shifted["C"].attributes or {})["natstrace.server.clock_adjustment_ns"] > 0

    # C's report lost: A's alone times out incomplete. A delivered to nobody itself,
    # yet the message reached C: it must not be counted as no-interest.
    exporter = InMemorySpanExporter()
    registry = CollectorRegistry()
    lossy = ServerTraceCollector(None, "unused", exporter, registry=registry, timeout=0.05)
    lossy.feed(upstream)

    async def released() -> ReadableSpan:
        await lossy.sweep()
        spans = exporter.get_finished_spans()
        assert len(spans) == 1
        return spans[0]

    alone = await eventually(released)
    assert (alone.attributes or {})["natstrace.server.trace_complete"] is False
    assert (alone.attributes or {})["natstrace.server.no_interest"] is False
    assert (
        registry.get_sample_value("natstrace_server_trace_messages_total", {"complete": "false"})
        == 1
    )
    no_interest = [
        sample
        for family in registry.collect()
        if family.name == "natstrace_server_no_interest"
        for sample in family.samples
    ]
    assert no_interest == []
