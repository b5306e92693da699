"""Fixtures of the reliability suite: its own servers and captures.

The suite does not lean on the shared fixtures: it kills and restarts servers,
counts open spans and points exporters at dead collectors, so every test owns
what it breaks.
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field

import nats
import pytest
from nats.aio.client import Client
from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client import CollectorRegistry

import natstrace
from natstrace.embedded_server import EmbeddedNatsServer
from natstrace.metrics import NatstraceMetrics

pytestmark = pytest.mark.integration


class OpenSpans(SpanProcessor):
    """Counts spans started and not yet ended: a span left open forever shows here."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.open: dict[int, str] = {}

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        with self._lock:
            self.open[span.context.span_id] = span.name

    def on_end(self, span: ReadableSpan) -> None:
        with self._lock:
            # The SDK hands on_end a fresh ReadableSpan: match on the span ID.
            if span.context is not None:
                self.open.pop(span.context.span_id, None)


@dataclass
class Instrumented:
    """An instrumented client with in-memory spans, an open-span count and a registry."""

    nc: natstrace.InstrumentedClient
    raw: Client
    exporter: InMemorySpanExporter
    open_spans: OpenSpans
    registry: CollectorRegistry
    errors: list[BaseException] = field(default_factory=list)

    def spans(self, name: str | None = None) -> list[ReadableSpan]:
        return [s for s in self.exporter.get_finished_spans() if name is None or s.name == name]

    def sample(self, metric: str, **labels: str) -> float:
        value = self.registry.get_sample_value(metric, {"service_name": "rel", **labels})
        return value or 0.0


@pytest.fixture(scope="module")
def server() -> Iterator[EmbeddedNatsServer]:
    """A nats-server (JetStream on) for one test module."""
    with EmbeddedNatsServer(jetstream=True) as nats_server:
        yield nats_server


async def connect_instrumented(url: str, **options: object) -> Instrumented:
    """Connect, instrument, and record spans in memory (synchronously, so tests see
    every span the moment it ends)."""
    exporter = InMemorySpanExporter()
    open_spans = OpenSpans()
    provider = TracerProvider()
    provider.add_span_processor(open_spans)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    registry = CollectorRegistry()
    errors: list[BaseException] = []

    async def error_cb(exc: BaseException) -> None:
        errors.append(exc)

    raw = await nats.connect(
        url, error_cb=error_cb, max_reconnect_attempts=-1, reconnect_time_wait=0.1
    )
    nc = natstrace.instrument(
        raw,
        tracer_provider=provider,
        metrics=NatstraceMetrics(registry, service_name="rel"),
        **options,  # type: ignore[arg-type]
    )
    return Instrumented(nc, raw, exporter, open_spans, registry, errors)


@pytest.fixture
async def instrumented(server: EmbeddedNatsServer) -> AsyncIterator[Instrumented]:
    """An instrumented client on the module's server."""
    client = await connect_instrumented(server.url)
    yield client
    await client.raw.close()
