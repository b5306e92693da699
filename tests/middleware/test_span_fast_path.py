"""natstrace's spans start on the fast path (natstrace.tracing.sdk_span) under a
standard set-up, and carry the same attributes, in the same order, as when a span
processor that reads spans at start sends them the stock way."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from types import FrameType
from typing import Any

import nats
import pytest
from nats.aio.msg import Msg
from opentelemetry.attributes import _clean_attribute_value
from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor, Tracer, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client import CollectorRegistry

import natstrace
from natstrace.embedded_server import EmbeddedNatsServer
from natstrace.metrics import NatstraceMetrics

pytestmark = pytest.mark.integration

# Differ from message to message (and inbox to inbox), whichever path started the span.
_PER_MESSAGE = {
    "messaging.message.id",
    "messaging.message.conversation_id",
    "natstrace.causation_id",
}


class _Watching(SpanProcessor):
    """Notes each span's attributes when it starts: spans must start the stock way."""

    def __init__(self) -> None:
        self.seen: dict[str, dict[str, Any]] = {}

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        self.seen[span.name] = dict(span.attributes or {})


def _starting_a_span(frame: FrameType | None) -> bool:
    while frame is not None:
        if frame.f_code is _START_SPAN:
            return True
        frame = frame.f_back
    return False


_START_SPAN = Tracer.start_span.__code__


@contextmanager
def _cleaning_calls() -> Iterator[list[str]]:
    """The SDK's attribute value checks run meanwhile by ``Tracer.start_span`` (in this
    thread: the event loop's); a check of an attribute set later does not count."""
    calls: list[str] = []
    watched = _clean_attribute_value.__code__

    def profile(frame: FrameType, event: str, arg: object) -> None:
        if event == "call" and frame.f_code is watched and _starting_a_span(frame):
            calls.append(repr(frame.f_locals.get("value"))[:80])

    sys.setprofile(profile)
    try:
        yield calls
    finally:
        sys.setprofile(None)


@asynccontextmanager
async def _client(
    server: EmbeddedNatsServer, watching: _Watching | None
) -> AsyncIterator[tuple[natstrace.InstrumentedClient, InMemorySpanExporter]]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider(shutdown_on_exit=False)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    if watching is not None:
        provider.add_span_processor(watching)
    raw = await nats.connect(server.url)
    try:
        yield (
            natstrace.instrument(
                raw,
                tracer_provider=provider,
                metrics=NatstraceMetrics(CollectorRegistry(), service_name="s"),
            ),
            exporter,
        )
    finally:
        await raw.close()


async def _traffic(nc: natstrace.InstrumentedClient, stream: str) -> None:
    """A publish, a request and its reply, a JetStream fetch: every span start in the chains."""
    got: asyncio.Queue[Msg] = asyncio.Queue()

    async def handle(msg: Msg) -> None:
        await got.put(msg)

    async def reply(msg: Msg) -> None:
        await msg.respond(b"pong")

    await nc.subscribe("fast.events.*", queue="workers", cb=handle)
    await nc.subscribe("fast.ping", cb=reply)
    await nc.publish("fast.events.created", b"x" * 10)
    await asyncio.wait_for(got.get(), 5)
    await nc.request("fast.ping", b"ping", timeout=5)
    js = nc.jetstream()
    await js.publish(f"{stream}.in", b"job")
    sub = await js.pull_subscribe(f"{stream}.in", durable="worker")
    (msg,) = await sub.fetch(1, timeout=5)
    await msg.ack()


def _attributes(spans: list[ReadableSpan]) -> dict[str, list[tuple[str, object]]]:
    return {
        s.name: [
            (
                key,
                "<per message>"
                if key in _PER_MESSAGE or str(value).startswith("_INBOX.")
                else value,
            )
            for key, value in (s.attributes or {}).items()
        ]
        for s in spans
    }


async def _run(
    server: EmbeddedNatsServer, watching: _Watching | None
) -> tuple[list[ReadableSpan], list[str]]:
    """The spans of the traffic on a fresh client, and the SDK's checks made starting them."""
    async with _client(server, watching) as (nc, exporter):
        js = nc.jetstream()
        await js.add_stream(name="FAST", subjects=["fastjs.*"])
        try:
            with _cleaning_calls() as calls:
                await _traffic(nc, "fastjs")
        finally:
            await js.delete_stream("FAST")
    return list(exporter.get_finished_spans()), calls


async def test_spans_start_fast_with_the_attributes_of_the_stock_path(
    nats_server: EmbeddedNatsServer,
) -> None:
    fast, calls = await _run(nats_server, None)
    watching = _Watching()
    stock, stock_calls = await _run(nats_server, watching)

    assert not calls, f"the SDK re-checked attributes on the fast path: {calls}"
    names = {
        "send fast.events.created",
        "process fast.events.*",
        "request fast.ping",
        "process fast.ping",
        "send _INBOX",  # the reply
        "receive FAST/worker",
        "process fastjs.in",
    }
    assert names <= {s.name for s in fast}
    assert stock_calls, "the stock path runs the SDK's checks"
    assert _attributes(fast) == _attributes(stock)
    # The stock path really ran: the processor saw every span's attributes at start.
    for span in stock:
        assert watching.seen[span.name].keys() <= dict(span.attributes or {}).keys()
        assert watching.seen[span.name], span.name
