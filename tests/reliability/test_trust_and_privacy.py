"""Trust boundaries, no payloads in telemetry, and the metrics endpoint."""

from __future__ import annotations

import asyncio
import logging
import socket
import time
import urllib.request

import nats
import pytest
from opentelemetry import baggage
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ALWAYS_ON, ParentBased, Sampler
from prometheus_client import CollectorRegistry, generate_latest

import natstrace
from natstrace.config import Trust
from natstrace.embedded_server import EmbeddedNatsServer
from natstrace.metrics import NatstraceMetrics, start_http_server
from natstrace.testing import eventually
from tests.reliability.conftest import Instrumented

TRACE_ID = "0af7651916cd43dd8448eb211c80319c"
FORCED = {
    "traceparent": f"00-{TRACE_ID}-b7ad6b7169203331-01",  # "sampled", says the publisher
    "baggage": "tenant=acme,secret=hunter2",
}


async def _deliver(
    server: EmbeddedNatsServer, sampler: Sampler, trust: Trust
) -> tuple[InMemorySpanExporter, dict[str, str]]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider(sampler=sampler)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    nc = natstrace.instrument(
        await nats.connect(server.url),
        tracer_provider=provider,
        metrics=NatstraceMetrics(CollectorRegistry(), service_name="t"),
        baggage_allowlist=["tenant"],
    )
    seen: asyncio.Queue[dict[str, str]] = asyncio.Queue()

    async def handler(msg: object) -> None:
        await seen.put({k: str(v) for k, v in baggage.get_all().items()})

    await nc.subscribe(f"edge.{trust}", cb=handler, trust=trust)
    plain = await nats.connect(server.url)
    await plain.publish(f"edge.{trust}", b"", headers=FORCED)
    await plain.flush()
    got = await asyncio.wait_for(seen.get(), 5)
    await plain.close()
    await nc.close()
    return exporter, got


async def test_an_untrusted_publisher_cannot_force_sampling_or_inject_baggage(
    server: EmbeddedNatsServer,
) -> None:
    # This service samples nothing of its own: only a sampled parent is recorded.
    never = ParentBased(ALWAYS_OFF)
    trusted, trusted_baggage = await _deliver(server, never, "trusted")
    assert len(trusted.get_finished_spans()) == 1, "a trusted parent's flag is honoured"
    assert trusted_baggage == {"tenant": "acme", "secret": "hunter2"}

    untrusted, untrusted_baggage = await _deliver(server, never, "untrusted")
    assert untrusted.get_finished_spans() == (), "the publisher's sampled flag is ignored"
    assert untrusted_baggage == {"tenant": "acme"}, "only allowlisted baggage crosses"

    recorded, _ = await _deliver(server, ALWAYS_ON, "untrusted")
    (span,) = recorded.get_finished_spans()
    assert format(span.context.trace_id, "032x") != TRACE_ID, "a new trace"
    assert span.parent is None
    assert [format(link.context.trace_id, "032x") for link in span.links] == [TRACE_ID]


MARKER = b"PAYLOAD-MARKER-7f3a"


async def test_message_bodies_never_reach_spans_logs_or_metrics(
    instrumented: Instrumented, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    done = asyncio.Event()

    async def handler(msg: object) -> None:
        reply = await instrumented.nc.request("priv.reply", MARKER, timeout=2)
        assert reply.data == MARKER
        done.set()
        raise RuntimeError("handler failed")  # the failure path records too

    async def responder(msg: object) -> None:
        await msg.respond(MARKER)  # type: ignore[attr-defined]

    await instrumented.nc.subscribe("priv.reply", cb=responder)
    await instrumented.nc.subscribe("priv.in", cb=handler)
    js = instrumented.nc.jetstream()
    await js.add_stream(name="PRIV", subjects=["priv.js"])
    await js.publish("priv.js", MARKER)
    await instrumented.nc.publish("priv.in", MARKER)
    await asyncio.wait_for(done.wait(), 5)
    # Every span of the flow, the failing handler's (it ends after done is set) included.
    expected = [
        "process priv.in",
        "process priv.reply",
        "request priv.reply",
        "send _INBOX",
        "send priv.in",
        "send priv.js",
    ]

    def all_ended() -> None:
        assert sorted(span.name for span in instrumented.spans()) == expected

    await eventually(all_ended)
    await js.delete_stream("PRIV")

    marker = MARKER.decode()
    spans = instrumented.spans()
    assert len(spans) == 6
    for span in spans:
        assert marker not in span.to_json(), span.name
    assert not [r for r in caplog.records if marker in r.getMessage()]
    assert marker not in generate_latest(instrumented.registry).decode()


def test_metrics_endpoint_binds_to_localhost_and_outlasts_slow_clients() -> None:
    registry = CollectorRegistry()
    NatstraceMetrics(registry, service_name="s")
    server = start_http_server(0, registry=registry)
    host, port = server.address
    try:
        assert host in ("127.0.0.1", "::1"), "localhost by default"
        # Slowloris: connections that dribble half a request and hold on.
        slow = []
        for _ in range(50):
            sock = socket.create_connection((host, port), timeout=5)
            sock.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")
            slow.append(sock)
        for method, path, code in (("GET", "/", 404), ("GET", "/metrics/../x", 404),
                                   ("POST", "/metrics", 501)):  # fmt: skip
            request = urllib.request.Request(f"http://{host}:{port}{path}", method=method)
            with pytest.raises(urllib.error.HTTPError) as refused:
                urllib.request.urlopen(request, timeout=5)
            assert refused.value.code == code
        started = time.monotonic()
        with urllib.request.urlopen(server.url, timeout=5) as response:
            assert b"natstrace_spans_dropped_total" in response.read()
        assert time.monotonic() - started < 2, "a scrape is served while slow clients wait"
        for sock in slow:
            sock.close()
    finally:
        server.shutdown()
