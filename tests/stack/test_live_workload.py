"""Live data: a real natstrace workload on a real nats-server, scraped by a real
Prometheus; every dashboard panel must return data and exemplars must point at
traces the workload's tracer exported."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from stack_support import Prometheus, checked_in_dashboards, panel_queries, substitute
from test_dashboards import VARIABLES

# The public API, imported at the top: a renamed function fails this module
# instead of skipping the stack test.
from natstrace import instrument
from natstrace.metrics import NatstraceMetrics, start_http_server

# Every panel must return data: the workload below exercises each metric.


class Workload:
    """orders publishes orders.<n>; payments (queue group) handles them, fails one in
    five, requests inventory.reserve (and, unanswered, fraud.check) and publishes
    shipping.requested; inventory replies. A raw client sends a malformed
    traceparent now and then. orders also stores billing.<n> in a JetStream stream,
    which payments pulls, nak-ing every third message once (redeliveries,
    settlements, pending, delivery latency)."""

    def __init__(self, url: str, provider: Any) -> None:
        self.url = url
        self.provider = provider
        self.targets: list[str] = []
        self._servers: list[Any] = []
        self._clients: list[Any] = []

    async def client(self, service: str, on_metrics: Any = None) -> Any:
        import nats
        from prometheus_client import CollectorRegistry

        registry = CollectorRegistry()
        metrics = NatstraceMetrics(registry=registry, service_name=service)
        if on_metrics is not None:
            on_metrics(metrics)
        server = start_http_server(0, addr="127.0.0.1", registry=registry)
        self._servers.append(server)
        host, port = server.address
        self.targets.append(f"{host}:{port}")
        raw = await nats.connect(self.url, name=service)
        self._clients.append(raw)
        return instrument(
            raw,
            metrics=metrics,
            tracer_provider=self.provider,
            subject_templates=["orders.*", "inventory.*", "shipping.*", "billing.*"],
        )

    async def start(self) -> None:
        import nats

        orders = await self.client("orders")
        payments = await self.client("payments", on_metrics=self.count_dropped_spans)
        inventory = await self.client("inventory")
        self.raw = await nats.connect(self.url, name="untrusted")
        self._clients.append(self.raw)

        async def reserve(msg: Any) -> None:
            await msg.respond(b"reserved")

        handled = 0

        async def pay(msg: Any) -> None:
            nonlocal handled
            handled += 1
            if handled % 5 == 0:
                raise ValueError("card declined")
            if handled % 7 == 0:
                with contextlib.suppress(Exception):
                    await payments.request("fraud.check", msg.data, timeout=0.5)
            await payments.request("inventory.reserve", msg.data, timeout=2)
            await payments.publish("shipping.requested", msg.data)

        await inventory.subscribe("inventory.reserve", cb=reserve)
        await payments.subscribe("orders.*", queue="payments", cb=pay)
        self.orders = orders
        self.orders_js = orders.jetstream()
        await self.orders_js.add_stream(name="LIVE_BILLING", subjects=["billing.*"])
        self._billing_sub = await payments.jetstream().pull_subscribe(
            "billing.*", durable="billing"
        )
        self._billing = asyncio.create_task(self.bill(self._billing_sub))

    @staticmethod
    async def bill(sub: Any) -> None:
        while True:
            try:
                batch = await sub.fetch(10, timeout=0.2)
            except Exception:
                continue
            for msg in batch:
                if msg.metadata.sequence.stream % 3 == 0 and msg.metadata.num_delivered == 1:
                    await msg.nak()
                else:
                    await msg.ack()

    def count_dropped_spans(self, metrics: Any) -> None:
        """Give the shared tracer provider a second processor whose exporter always
        fails and whose queue holds one span: drops, counted in these metrics."""
        from opentelemetry.sdk.trace.export import SpanExportResult

        from natstrace.tracing.setup import BoundedBatchSpanProcessor

        class Failing:
            def export(self, spans: Any) -> SpanExportResult:
                return SpanExportResult.FAILURE

            def shutdown(self) -> None:
                pass

            def force_flush(self, timeout_millis: int = 0) -> bool:
                return True

        self.provider.add_span_processor(
            BoundedBatchSpanProcessor(
                Failing(),  # type: ignore[arg-type]
                max_queue_size=1,
                on_dropped=metrics.count_spans_dropped,
            )
        )

    async def tick(self, n: int) -> None:
        await self.orders.publish(f"orders.{n}", b"{}")
        await self.orders_js.publish(f"billing.{n}", b"{}")
        if n % 10 == 0:
            with contextlib.suppress(Exception):
                await self.orders.request("nobody.home", b"", timeout=0.5)
            await self.raw.publish("orders.bad", b"{}", headers={"traceparent": "not-a-trace"})

    async def close(self) -> None:
        self._billing.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._billing
        # Before its stream goes: nats-py's drain waits out its whole timeout (30 s)
        # for a pull subscription whose stream was deleted under it.
        await self._billing_sub.unsubscribe()
        with contextlib.suppress(Exception):
            await self.orders_js.delete_stream("LIVE_BILLING")
        for nc in self._clients:
            with contextlib.suppress(Exception):
                await nc.drain()
        for server in self._servers:
            server.shutdown()


@pytest.fixture
async def live_workload(nats_server: Any) -> AsyncIterator[tuple[Workload, Any]]:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    workload = Workload(nats_server.url, provider)
    await workload.start()
    stop = asyncio.Event()

    async def drive() -> None:
        n = 0
        while not stop.is_set():
            await workload.tick(n)
            n += 1
            await asyncio.sleep(0.05)

    driver = asyncio.create_task(drive())
    yield workload, exporter
    stop.set()
    await driver
    await workload.close()
    provider.shutdown()


@pytest.mark.integration
async def test_live_natstrace_workload_fills_every_panel(
    live_workload: tuple[Workload, Any],
) -> None:
    workload, exporter = live_workload
    server = await asyncio.to_thread(Prometheus, workload.targets)
    try:
        empty = []
        for name, board in checked_in_dashboards().items():
            for title, expr in panel_queries(board):
                query = substitute(expr, VARIABLES[name])
                if not await asyncio.to_thread(server.wait_for, query):
                    empty.append(f"{name}: {title}: {query}")
        assert empty == [], "panels without live data:\n" + "\n".join(empty)

        now = time.time()
        body = await asyncio.to_thread(
            server.api,
            "query_exemplars",
            query='messaging_process_duration_seconds_bucket{service_name="payments"}',
            start=str(now - 300),
            end=str(now + 60),
        )
        exemplar_ids = {e["labels"]["trace_id"] for s in body["data"] for e in s["exemplars"]}
        span_ids = {format(s.context.trace_id, "032x") for s in exporter.get_finished_spans()}
        assert exemplar_ids, "Prometheus stored no exemplars"
        assert exemplar_ids <= span_ids, "exemplars point at traces nobody exported"
    finally:
        await asyncio.to_thread(server.stop)
