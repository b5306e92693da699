"""Fixtures shared by the whole suite: real servers on free loopback ports.

natstrace's own pytest plugin (natstrace.testing.plugin) provides ``nats_server``
(a real nats-server with JetStream, for the session), ``natstrace_spans`` and
``natstrace_metrics``; the suite uses them as any user would. Here:

- ``otlp_receiver``: a real OTLP receiver (gRPC and HTTP/protobuf).
- ``service``: builds instrumented clients that export over OTLP to the receiver,
  one tracer provider (so one ``service.name``) per service.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field

import nats
import pytest
from nats.aio.client import Client
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client import CollectorRegistry

import natstrace
from natstrace.config import ConsumerSpanPolicy
from natstrace.embedded_server import EmbeddedNatsServer
from natstrace.metrics import NatstraceMetrics
from natstrace.testing import MetricsCapture, SpanCapture
from tests.support.otlp_receiver import OtlpReceiver


@pytest.fixture(scope="session")
def otlp_session_receiver() -> Iterator[OtlpReceiver]:
    receiver = OtlpReceiver().start()
    yield receiver
    receiver.stop()


@pytest.fixture
def otlp_receiver(otlp_session_receiver: OtlpReceiver) -> OtlpReceiver:
    """The OTLP receiver, emptied for this test."""
    otlp_session_receiver.clear()
    return otlp_session_receiver


@pytest.fixture
def registry() -> CollectorRegistry:
    return CollectorRegistry()


class Services:
    """Instrumented clients, each a service with its own tracer provider and metrics."""

    def __init__(self, server: EmbeddedNatsServer, receiver: OtlpReceiver) -> None:
        self._server = server
        self._receiver = receiver
        self.providers: list[TracerProvider] = []
        self.clients: list[Client] = []
        self.registries: dict[str, CollectorRegistry] = {}

    async def __call__(
        self, name: str, *, policy: ConsumerSpanPolicy = "auto", **options: object
    ) -> natstrace.InstrumentedClient:
        provider = TracerProvider(resource=Resource.create({"service.name": name}))
        exporter = OTLPSpanExporter(endpoint=self._receiver.grpc_endpoint, insecure=True)
        provider.add_span_processor(BatchSpanProcessor(exporter, schedule_delay_millis=50))
        self.providers.append(provider)
        registry = self.registries[name] = CollectorRegistry()
        raw = await nats.connect(self._server.url)
        self.clients.append(raw)
        return natstrace.instrument(
            raw,
            tracer_provider=provider,
            metrics=NatstraceMetrics(registry, service_name=name),
            consumer_span_policy=policy,
            **options,  # type: ignore[arg-type]
        )

    def flush(self) -> None:
        """Export everything the services recorded so far."""
        for provider in self.providers:
            provider.force_flush()

    async def close(self) -> None:
        for client in self.clients:
            await client.drain()
        for provider in self.providers:
            provider.shutdown()


@pytest.fixture
async def service(
    nats_server: EmbeddedNatsServer, otlp_receiver: OtlpReceiver
) -> AsyncIterator[Services]:
    services = Services(nats_server, otlp_receiver)
    yield services
    await services.close()


@dataclass
class Traced:
    """A client instrumented with an in-memory exporter and a fresh registry."""

    nc: natstrace.InstrumentedClient
    raw: Client
    exporter: InMemorySpanExporter
    registry: CollectorRegistry
    errors: list[BaseException] = field(default_factory=list)
    """What nats-py reported to the client's error callback."""

    def spans(self) -> list[ReadableSpan]:
        return list(self.exporter.get_finished_spans())

    def span(self, name: str) -> ReadableSpan:
        matching = [s for s in self.spans() if s.name == name]
        assert len(matching) == 1, f"{len(matching)} spans named {name!r}: {self.spans()}"
        return matching[0]

    def sample(self, name: str, **labels: str) -> float | None:
        return self.registry.get_sample_value(name, {"service_name": "test", **labels})

    def consumed(self, template: str, group: str = "", error: str = "") -> float | None:
        """``messaging_client_consumed_messages_total`` of a subscription's template."""
        return self.sample(
            "messaging_client_consumed_messages_total",
            messaging_system="nats",
            messaging_operation_name="process",
            messaging_destination_name=template,
            messaging_consumer_group_name=group,
            error_type=error,
        )

    def sent(self, template: str, error: str = "") -> float | None:
        """``messaging_client_sent_messages_total`` of plain sends to ``template``."""
        return self.sample(
            "messaging_client_sent_messages_total",
            messaging_system="nats",
            messaging_operation_name="send",
            messaging_destination_name=template,
            error_type=error,
        )


@pytest.fixture
async def traced(
    nats_server: EmbeddedNatsServer,
    natstrace_spans: SpanCapture,
    natstrace_metrics: MetricsCapture,
    request: pytest.FixtureRequest,
) -> AsyncIterator[Traced]:
    """An instrumented client on the session server; spans kept in memory.

    Options for ``natstrace.instrument`` come from ``@pytest.mark.instrument(...)``.
    """
    marker = request.node.get_closest_marker("instrument")
    options = dict(marker.kwargs) if marker else {}
    errors: list[BaseException] = []

    async def error_cb(exc: BaseException) -> None:
        errors.append(exc)

    raw = await nats.connect(nats_server.url, error_cb=error_cb)
    nc = natstrace.instrument(
        raw,
        tracer_provider=natstrace_spans.tracer_provider,
        metrics=natstrace_metrics.metrics,
        **options,
    )
    yield Traced(nc, raw, natstrace_spans.exporter, natstrace_metrics.registry, errors)
    await raw.close()
