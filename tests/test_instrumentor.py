"""Zero-code instrumentation: ``NatsInstrumentor`` and ``opentelemetry-instrument``.

Checked against a real nats-server: plain nats-py clients are traced through
natstrace's chain while instrumented, and not at all once uninstrumented; the
OpenTelemetry entry point works from the command line; and the headers interoperate
with plain OpenTelemetry on either side.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from textwrap import dedent

import nats
import pytest
from nats.aio.client import Client
from nats.aio.msg import Msg
from opentelemetry import propagate, trace
from opentelemetry.trace import SpanKind

import natstrace
from natstrace.instrumentor.raw import PATCHED_METHODS
from natstrace.testing import MetricsCapture, SpanCapture, subscriptions_ready
from tests.support.otlp_receiver import OtlpReceiver

pytest.importorskip("opentelemetry.instrumentation")

from natstrace.instrumentor import NatsInstrumentor

pytestmark = pytest.mark.integration

NATSTRACE_HEADERS = {"traceparent", "Nats-Msg-Id", "Correlation-Id"}


@pytest.fixture
def instrumented(
    natstrace_spans: SpanCapture, natstrace_metrics: MetricsCapture
) -> Iterator[NatsInstrumentor]:
    """nats-py patched for this test, spans into ``natstrace_spans`` as service ``app``."""
    instrumentor = NatsInstrumentor()
    instrumentor.instrument(
        tracer_provider=natstrace_spans.provider("app"), metrics=natstrace_metrics.metrics
    )
    yield instrumentor
    instrumentor.uninstrument()


async def _next(queue: asyncio.Queue[Msg]) -> Msg:
    return await asyncio.wait_for(queue.get(), 5)


def test_uninstrument_puts_back_the_very_same_functions() -> None:
    originals = {name: vars(Client)[name] for name in PATCHED_METHODS}
    instrumentor = NatsInstrumentor()
    instrumentor.instrument()
    instrumentor.instrument()  # harmless
    patched = {name: vars(Client)[name] for name in PATCHED_METHODS}
    assert all(patched[name] is not originals[name] for name in PATCHED_METHODS)
    assert Client.publish.__wrapped__ is originals["publish"]
    instrumentor.uninstrument()
    instrumentor.uninstrument()  # harmless
    assert {name: vars(Client)[name] for name in PATCHED_METHODS} == originals
    assert all(vars(Client)[name] is originals[name] for name in PATCHED_METHODS)


def test_unknown_options_are_refused() -> None:
    with pytest.raises(TypeError, match="unknown options \\['tracer'\\]"):
        NatsInstrumentor().instrument(tracer=None)
    assert not NatsInstrumentor().is_instrumented_by_opentelemetry


async def test_a_plain_client_is_traced_through_the_same_chain(
    instrumented: NatsInstrumentor,
    nats_url: str,
    natstrace_spans: SpanCapture,
    natstrace_metrics: MetricsCapture,
) -> None:
    nc = await nats.connect(nats_url)
    assert type(nc) is Client, "the application keeps nats-py's own client type"
    received: asyncio.Queue[Msg] = asyncio.Queue()

    async def on_order(msg: Msg) -> None:
        await nc.publish("zc.invoices", b"invoice")
        await msg.respond(b"ok")

    async def on_invoice(msg: Msg) -> None:
        await received.put(msg)

    await nc.subscribe("zc.orders.*", cb=on_order)
    await nc.subscribe("zc.invoices", cb=on_invoice)
    reply = await nc.request("zc.orders.created", b"order", timeout=5)
    invoice = await _next(received)
    await nc.close()

    assert reply.data == b"ok"
    assert set(reply.headers or {}) >= NATSTRACE_HEADERS
    assert NATSTRACE_HEADERS | {"Causation-Id"} <= set(invoice.headers or {})
    await natstrace_spans.wait_for("process zc.invoices")
    request = natstrace_spans.named("request zc.orders.created")[0]
    correlation = request.attributes["messaging.message.conversation_id"]
    assert invoice.headers["Correlation-Id"] == correlation
    natstrace_spans.assert_hops(
        correlation,
        [
            "app: request zc.orders.created",
            "app: process zc.orders.*",
            "app: send zc.invoices",
            "app: process zc.invoices",
        ],
    )
    assert request.kind is SpanKind.CLIENT
    assert len({s.context.trace_id for s in natstrace_spans.spans}) == 1
    # nats-py's own publish inside request() is not a second span.
    assert not natstrace_spans.named("send zc.orders.created")
    natstrace_spans.assert_all_consumed()
    natstrace_metrics.assert_changed(
        "messaging_client_sent_messages_total", by=1, messaging_destination_name="zc.invoices"
    )


async def test_jetstream_is_traced_by_the_same_client_and_its_api_calls_are_not_spans(
    instrumented: NatsInstrumentor, nats_url: str, natstrace_spans: SpanCapture
) -> None:
    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    await js.add_stream(name="ZC", subjects=["zc.js.>"])
    try:
        ack = await js.publish("zc.js.one", b"1")
        sub = await js.pull_subscribe("zc.js.>", durable="zc")
        (msg,) = await sub.fetch(1, timeout=5)
        await msg.ack()
        assert ack.seq == 1 and msg.data == b"1"
    finally:
        await js.delete_stream("ZC")
        await nc.close()
    # nc.jetstream() came from the client's InstrumentedClient: JetStream spans as with
    # natstrace.instrument(nc); nats-py's own API requests and acks are not spans.
    await natstrace_spans.wait_for("process zc.js.>")
    assert natstrace_spans.named("send zc.js.one")
    natstrace_spans.assert_all_consumed()
    assert not [s for s in natstrace_spans.spans if "$JS" in s.name]


async def test_after_uninstrument_a_publish_has_no_headers_and_no_span(
    instrumented: NatsInstrumentor, nats_url: str, natstrace_spans: SpanCapture
) -> None:
    nc = await nats.connect(nats_url)
    await nc.publish("zc.before", b"traced")  # the client was instrumented...
    instrumented.uninstrument()  # ...and the same client is plain nats-py again
    listener = await nats.connect(nats_url)
    sub = await listener.subscribe("zc.after")
    await subscriptions_ready(listener)
    await nc.publish("zc.after", b"plain")
    msg = await sub.next_msg(timeout=5)
    await nc.close()
    await listener.close()

    assert msg.headers is None
    assert [s.name for s in natstrace_spans.spans] == ["send zc.before"]


async def test_an_explicitly_instrumented_client_is_traced_once(
    instrumented: NatsInstrumentor, nats_url: str, natstrace_spans: SpanCapture
) -> None:
    raw = await nats.connect(nats_url)
    nc = natstrace.instrument(raw, tracer_provider=natstrace_spans.provider("explicit"))
    await nc.publish("zc.explicit", b"x")
    await raw.publish("zc.raw", b"x")  # the wrapper's client: untraced, as documented
    await raw.close()
    assert [(s.name, s.resource.attributes["service.name"]) for s in natstrace_spans.spans] == [
        ("send zc.explicit", "explicit")
    ]


APP = """
    # A plain nats-py application: it does not import natstrace.
    import asyncio, json, sys
    import nats

    async def main():
        nc = await nats.connect(sys.argv[1])
        seen = {}
        done = asyncio.Event()

        async def on_order(msg):
            seen["order"] = dict(msg.headers)
            await nc.publish("app.invoices", b"invoice")

        async def on_invoice(msg):
            seen["invoice"] = dict(msg.headers)
            done.set()

        await nc.subscribe("app.orders.*", queue="billing", cb=on_order)
        await nc.subscribe("app.invoices", cb=on_invoice)
        await nc.flush()
        await nc.flush()  # the second PING follows the SUBs (nats-py sends PING first)
        await nc.publish("app.orders.created", b"order")
        await asyncio.wait_for(done.wait(), 10)
        await nc.drain()
        print(json.dumps(seen))

    asyncio.run(main())
"""


def test_opentelemetry_instrument_traces_an_unmodified_app(
    tmp_path: Path, nats_url: str, otlp_receiver: OtlpReceiver
) -> None:
    app = tmp_path / "app.py"
    app.write_text(dedent(APP))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "NATSTRACE_"))}
    env.update(
        OTEL_SERVICE_NAME="zero-code-app",
        OTEL_TRACES_EXPORTER="otlp",
        OTEL_METRICS_EXPORTER="none",
        OTEL_LOGS_EXPORTER="none",
        OTEL_EXPORTER_OTLP_PROTOCOL="grpc",
        OTEL_EXPORTER_OTLP_ENDPOINT=otlp_receiver.grpc_endpoint,
    )
    command = Path(sys.executable).with_name("opentelemetry-instrument")
    result = subprocess.run(
        [str(command), sys.executable, str(app), nats_url],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout.splitlines()[-1])

    spans = {s.name: s for s in otlp_receiver.wait_for(4)}
    assert set(spans) == {
        "send app.orders.created",
        "process app.orders.*",
        "send app.invoices",
        "process app.invoices",
    }
    assert {s.service_name for s in spans.values()} == {"zero-code-app"}
    assert len({s.trace_id for s in spans.values()}) == 1
    assert spans["process app.orders.*"].parent_span_id == spans["send app.orders.created"].span_id
    assert spans["send app.invoices"].parent_span_id == spans["process app.orders.*"].span_id
    first = seen["order"]["Nats-Msg-Id"]
    assert seen["order"]["Correlation-Id"] == first
    assert seen["invoice"]["Correlation-Id"] == first
    assert seen["invoice"]["Causation-Id"] == first
    assert seen["invoice"]["traceparent"].split("-")[1] == spans["send app.invoices"].trace_id
    for span in spans.values():
        assert span.attributes["messaging.message.conversation_id"] == first


async def test_a_plain_opentelemetry_producer_is_continued_in_its_trace(
    nats_url: str, natstrace_spans: SpanCapture
) -> None:
    # The producer: stock OpenTelemetry and nats-py, traceparent only.
    producer_tracer = natstrace_spans.provider("plain-producer").get_tracer("plain")
    publisher = await nats.connect(nats_url)
    consumer_raw = await nats.connect(nats_url)
    consumer = natstrace.instrument(
        consumer_raw, tracer_provider=natstrace_spans.provider("consumer")
    )
    handled = asyncio.Event()

    async def on_msg(msg: Msg) -> None:
        handled.set()

    await consumer.subscribe("interop.in", cb=on_msg)
    await subscriptions_ready(consumer)
    with producer_tracer.start_as_current_span(
        "publish interop.in", kind=SpanKind.PRODUCER
    ) as span:
        headers: dict[str, str] = {}
        propagate.inject(headers)
        assert set(headers) == {"traceparent"}
        await publisher.publish("interop.in", b"x", headers=headers)
    await asyncio.wait_for(handled.wait(), 5)
    (process,) = await natstrace_spans.wait_for("process interop.in")
    await publisher.close()
    await consumer_raw.close()

    assert process.context.trace_id == span.get_span_context().trace_id
    assert process.parent.span_id == span.get_span_context().span_id


async def test_a_natstrace_publish_is_read_by_the_stock_propagator(
    nats_url: str, natstrace_spans: SpanCapture
) -> None:
    producer_raw = await nats.connect(nats_url)
    producer = natstrace.instrument(producer_raw, tracer_provider=natstrace_spans.tracer_provider)
    plain = await nats.connect(nats_url)
    sub = await plain.subscribe("interop.out")
    await subscriptions_ready(plain)
    await producer.publish("interop.out", b"x")
    msg = await sub.next_msg(timeout=5)
    await producer_raw.close()
    await plain.close()

    extracted = trace.get_current_span(propagate.extract(msg.headers)).get_span_context()
    (send,) = natstrace_spans.named("send interop.out")
    assert extracted.trace_id == send.context.trace_id
    assert extracted.span_id == send.context.span_id
    assert extracted.is_remote
