"""``natstrace demo``: a small traced order flow on an embedded nats-server.

Four services share one process, each with its own tracer provider (so its own
``service.name``): ``orders`` publishes ``orders.created``; ``payments`` handles
it, asks ``inventory`` to reserve stock (request-reply) and publishes
``payments.authorized``; ``shipping`` pulls that with ``next_msg()``. At the end
the first workflow is printed as a tree of spans, with its correlation ID.

Spans go to an OTLP endpoint too when ``OTEL_EXPORTER_OTLP_ENDPOINT`` is set.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
from collections.abc import Iterator
from dataclasses import dataclass

import nats
from nats.aio.msg import Msg
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from prometheus_client import CollectorRegistry

import natstrace
from natstrace.config import Settings
from natstrace.embedded_server import EmbeddedNatsServer
from natstrace.metrics import MetricsServer, NatstraceMetrics, start_http_server
from natstrace.tracing.setup import build_span_exporter

__all__ = ["DemoOptions", "run_demo"]

SERVICES = ("orders", "payments", "inventory", "shipping")


@dataclass(frozen=True)
class DemoOptions:
    """What ``natstrace demo`` was asked to do."""

    nats_url: str | None = None
    """Use this server instead of starting an embedded one."""
    messages: int = 3
    """Orders to place; 0 runs until interrupted."""
    interval: float = 0.2
    """Seconds between orders."""
    metrics_port: int | None = None
    metrics_addr: str = "localhost"


class _FirstTrace(SpanProcessor):
    """Keeps the spans of the first trace only, so a long run holds no growing list."""

    def __init__(self) -> None:
        self.trace_id: int | None = None
        self.spans: list[ReadableSpan] = []

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        if self.trace_id is None:
            self.trace_id = span.context.trace_id

    def on_end(self, span: ReadableSpan) -> None:
        if span.context is not None and span.context.trace_id == self.trace_id:
            self.spans.append(span)


def _render(spans: list[ReadableSpan]) -> Iterator[str]:
    """Indented lines, parents before children, siblings by start time."""
    children: dict[int | None, list[ReadableSpan]] = {}
    ids = {s.context.span_id for s in spans if s.context is not None}
    for span in sorted(spans, key=lambda s: s.start_time or 0):
        parent = span.parent.span_id if span.parent and span.parent.span_id in ids else None
        children.setdefault(parent, []).append(span)
    start = min((s.start_time or 0) for s in spans) if spans else 0

    def walk(parent: int | None, depth: int) -> Iterator[str]:
        for span in children.get(parent, []):
            service = span.resource.attributes.get("service.name", "?")
            offset = ((span.start_time or 0) - start) / 1e6
            duration = ((span.end_time or 0) - (span.start_time or 0)) / 1e6
            status = "  ERROR" if not span.status.is_ok else ""
            yield (
                f"  {'  ' * depth}{service:<10} {span.name:<32} "
                f"+{offset:7.2f} ms  {duration:7.2f} ms{status}"
            )
            if span.context is not None:
                yield from walk(span.context.span_id, depth + 1)

    yield from walk(None, 0)


async def _services(
    url: str, providers: dict[str, TracerProvider], metrics: NatstraceMetrics
) -> dict[str, natstrace.InstrumentedClient]:
    clients = {}
    for name in SERVICES:
        raw = await nats.connect(url, name=name)
        clients[name] = natstrace.instrument(raw, tracer_provider=providers[name], metrics=metrics)
    return clients


async def _run_flow(
    clients: dict[str, natstrace.InstrumentedClient], options: DemoOptions, stop: asyncio.Event
) -> int:
    orders, payments = clients["orders"], clients["payments"]
    inventory, shipping = clients["inventory"], clients["shipping"]

    async def reserve(msg: Msg) -> None:
        await msg.respond(b'{"reserved": true}')

    async def charge(msg: Msg) -> None:
        reply = await payments.request("inventory.reserve", msg.data, timeout=2)
        if json.loads(reply.data)["reserved"]:
            await payments.publish("payments.authorized", msg.data)

    await inventory.subscribe("inventory.reserve", queue="inventory", cb=reserve)
    await payments.subscribe("orders.*", queue="payments", cb=charge)
    shipments = await shipping.subscribe("payments.authorized")
    shipped: asyncio.Queue[bytes] = asyncio.Queue()

    async def ship() -> None:
        # Pulling, not a callback: each shipment's span stays open until the next
        # is requested, so this loop runs in its own task, as a separate service would.
        async for msg in shipments.messages:
            await shipped.put(msg.data)

    shipper = asyncio.create_task(ship())
    for client in clients.values():
        await client.flush()

    placed = 0
    while not stop.is_set() and (options.messages == 0 or placed < options.messages):
        placed += 1
        await orders.publish("orders.created", json.dumps({"order": placed}).encode())
        await asyncio.wait_for(shipped.get(), 5)
        print(f"\r  orders placed and shipped: {placed}", end="", flush=True)
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(stop.wait(), options.interval)
    print()
    await shipments.unsubscribe()
    await shipper
    return placed


async def run_demo(options: DemoOptions) -> int:
    """Run the demo; returns a process exit code."""
    settings = Settings.from_env()
    first = _FirstTrace()
    otlp = build_span_exporter(settings) if settings.otlp_endpoint else None
    providers = {}
    for name in SERVICES:
        provider = TracerProvider(resource=Resource.create({"service.name": name}))
        provider.add_span_processor(first)
        if otlp is not None:
            provider.add_span_processor(BatchSpanProcessor(otlp))
        providers[name] = provider
    registry = CollectorRegistry()
    metrics = NatstraceMetrics(registry, service_name="natstrace-demo")
    metrics_server: MetricsServer | None = None
    if options.metrics_port is not None:
        metrics_server = start_http_server(options.metrics_port, options.metrics_addr, registry)

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    server = None if options.nats_url else EmbeddedNatsServer(jetstream=False).start()
    url = options.nats_url or (server.url if server else "")
    print(f"natstrace demo on {url}" + (" (embedded nats-server)" if server else ""))
    try:
        clients = await _services(url, providers, metrics)
        try:
            placed = await _run_flow(clients, options, stop)
        finally:
            for client in clients.values():
                await client.drain()
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
        for provider in providers.values():
            provider.shutdown()
        if metrics_server is not None:
            metrics_server.shutdown()
        if server is not None:
            server.close()

    _report(first.spans, placed, metrics_server, otlp is not None)
    return 0


def _report(
    spans: list[ReadableSpan], placed: int, metrics_server: MetricsServer | None, otlp: bool
) -> None:
    correlation = next(
        (s.attributes.get("messaging.message.conversation_id") for s in spans if s.attributes),
        None,
    )
    print(f"\nThe first of {placed} workflows (Correlation-Id {correlation}), as traced:")
    for line in _render(spans):
        print(line)
    print("\nEvery hop carried traceparent, Nats-Msg-Id, Correlation-Id and Causation-Id.")
    if otlp:
        print("Spans were also exported over OTLP (OTEL_EXPORTER_OTLP_ENDPOINT).")
    if metrics_server is not None:
        print(f"Metrics were served at {metrics_server.url}.")
