"""The metrics endpoint: OpenMetrics with exemplars that point at exported traces."""

from __future__ import annotations

import asyncio
import socket
import time
import urllib.error
import urllib.request

import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.openmetrics.parser import text_string_to_metric_families

from natstrace.metrics import NatstraceMetrics, start_http_server
from natstrace.testing import subscriptions_ready
from tests.conftest import Services
from tests.support.otlp_receiver import OtlpReceiver

OPENMETRICS = "application/openmetrics-text; version=1.0.0"


def _scrape(url: str, accept: str = OPENMETRICS) -> tuple[str, str]:
    request = urllib.request.Request(url, headers={"Accept": accept})
    with urllib.request.urlopen(request, timeout=5) as response:
        return response.headers["Content-Type"], response.read().decode()


@pytest.mark.integration
async def test_scraped_samples_and_exemplars_match_the_exported_traces(
    service: Services, otlp_receiver: OtlpReceiver
) -> None:
    producer = await service("orders")
    consumer = await service("payments")
    done = asyncio.Event()
    handled = 0

    async def handle(msg):
        nonlocal handled
        handled += 1
        if handled == 5:
            done.set()

    await consumer.subscribe("orders.*", queue="payments", cb=handle)
    await subscriptions_ready(consumer)
    for _ in range(5):
        await producer.publish("orders.created", b"{}")
    await asyncio.wait_for(done.wait(), 5)
    service.flush()
    trace_ids = {s.trace_id for s in otlp_receiver.wait_for(10)}

    server = start_http_server(0, "127.0.0.1", service.registries["payments"])
    try:
        content_type, body = _scrape(server.url)
    finally:
        server.shutdown()
    assert content_type.startswith("application/openmetrics-text")
    families = {f.name: f for f in text_string_to_metric_families(body)}

    consumed = [
        s
        for s in families["messaging_client_consumed_messages"].samples
        if s.name.endswith("_total")
    ]
    assert [(s.labels, s.value) for s in consumed] == [
        (
            {
                "service_name": "payments",
                "messaging_system": "nats",
                "messaging_operation_name": "process",
                "messaging_destination_name": "orders.*",
                "messaging_consumer_group_name": "payments",
                "error_type": "",
            },
            5.0,
        )
    ]
    assert consumed[0].exemplar.labels["trace_id"] in trace_ids
    buckets = [
        s
        for s in families["messaging_process_duration_seconds"].samples
        if s.name.endswith("_bucket") and s.exemplar is not None
    ]
    assert buckets, "histogram buckets carry exemplars"
    assert {b.exemplar.labels["trace_id"] for b in buckets} <= trace_ids
    count = next(
        s
        for s in families["messaging_process_duration_seconds"].samples
        if s.name.endswith("_count")
    )
    assert count.value == 5


def test_unsampled_traces_leave_no_exemplar() -> None:
    from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

    registry = CollectorRegistry()
    metrics = NatstraceMetrics(registry, service_name="s")
    unsampled = NonRecordingSpan(SpanContext(1, 2, False, TraceFlags(0))).get_span_context()
    metrics.record_send("send", "a.b", "", 0.001, unsampled)
    families = {f.name: f for f in text_string_to_metric_families(_openmetrics(registry))}
    sample = families["messaging_client_sent_messages"].samples[0]
    assert sample.value == 1 and sample.exemplar is None


def _openmetrics(registry: CollectorRegistry) -> str:
    from prometheus_client.openmetrics.exposition import generate_latest

    return generate_latest(registry).decode()


def test_endpoint_serves_only_metrics_and_survives_garbage() -> None:
    registry = CollectorRegistry()
    NatstraceMetrics(registry, service_name="s")
    server = start_http_server(0, "127.0.0.1", registry)
    host, port = server.address
    try:
        with pytest.raises(urllib.error.HTTPError) as not_found:
            urllib.request.urlopen(f"http://{host}:{port}/", timeout=5)
        assert not_found.value.code == 404
        for garbage in (b"\x00\xff\r\n\r\n", b"GET /" + b"a" * 70000 + b" HTTP/1.1\r\n\r\n", b""):
            with socket.create_connection((host, port), timeout=5) as sock:
                sock.sendall(garbage)
                sock.shutdown(socket.SHUT_WR)
                sock.recv(1024)
        content_type, body = _scrape(server.url, accept="text/plain")
        assert content_type.startswith("text/plain")
        assert "# TYPE messaging_client_sent_messages_total counter" in body
    finally:
        server.shutdown()


def test_message_counters_are_the_duration_counts_of_their_operations() -> None:
    from opentelemetry import context, trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.id_generator import IdGenerator
    from opentelemetry.trace import SpanContext

    class Sequential(IdGenerator):
        def __init__(self) -> None:
            self.last = 0

        def generate_span_id(self) -> int:
            return 2

        def generate_trace_id(self) -> int:
            self.last += 1
            return self.last

    tracer = TracerProvider(id_generator=Sequential()).get_tracer("test")
    tokens = []
    spans = []

    def sampled(trace_id: int) -> SpanContext:
        # A recording span of that trace, current as in a handler: natstrace marks
        # the trace it takes as an exemplar (only a marked trace gives one).
        span = tracer.start_span("s", context=context.Context())
        assert span.get_span_context().trace_id == trace_id
        tokens.append(context.attach(trace.set_span_in_context(span)))
        spans.append(span)
        return span.get_span_context()

    registry = CollectorRegistry()
    metrics = NatstraceMetrics(registry, service_name="s")
    try:
        metrics.record_send("send", "a.*", "", 0.001, sampled(1))
        time.sleep(0.002)  # exemplar timestamps apart
        metrics.record_send("send", "a.*", "", 2.0, sampled(2))  # another bucket, newer
        metrics.record_send("request", "a.*", "NoRespondersError", 0.001, sampled(3))
        # Timed under operation_duration too, but not sends:
        metrics.record_receive("A/c", "", 0.01, sampled(4))
        metrics.record_settlement("a.*", "c", "ack", "", 0.001, sampled(5))
        metrics.record_process("a.*", "", "", 0.001, sampled(6))
    finally:
        for token in reversed(tokens):
            context.detach(token)
    assert all(span.attributes.get("natstrace.exemplar") is True for span in spans)

    families = {f.name: f for f in text_string_to_metric_families(_openmetrics(registry))}
    sent = {
        (s.labels["messaging_operation_name"], s.labels["error_type"]): s
        for s in families["messaging_client_sent_messages"].samples
        if s.name.endswith("_total")
    }
    assert {key: s.value for key, s in sent.items()} == {
        ("send", ""): 2.0,
        ("request", "NoRespondersError"): 1.0,
    }
    newest = sent[("send", "")].exemplar
    assert (newest.labels["trace_id"], newest.value) == (f"{2:032x}", 1.0)
    consumed = [
        s
        for s in families["messaging_client_consumed_messages"].samples
        if s.name.endswith("_total")
    ]
    assert [(s.value, s.exemplar.labels["trace_id"]) for s in consumed] == [(1.0, f"{6:032x}")]


def test_a_trace_that_cannot_be_marked_gives_no_exemplar() -> None:
    # No span of the trace is current (a publish outside any handler): the collector
    # would not know to keep the trace, so an exemplar would lead nowhere.
    from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

    registry = CollectorRegistry()
    metrics = NatstraceMetrics(registry, service_name="s")
    sampled = NonRecordingSpan(SpanContext(7, 2, False, TraceFlags(1))).get_span_context()
    metrics.record_send("send", "a.b", "", 0.001, sampled)
    families = {f.name: f for f in text_string_to_metric_families(_openmetrics(registry))}
    sample = families["messaging_client_sent_messages"].samples[0]
    assert sample.value == 1 and sample.exemplar is None
