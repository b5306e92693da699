"""Fixtures for server-trace tests: a routed three-server cluster, a send span, a collector."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import urllib.request
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import nats
import pytest
from opentelemetry import propagate
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client import CollectorRegistry

from natstrace.embedded_server import EmbeddedNatsServer, free_port
from natstrace.servertrace import ServerTraceCollector

SPAN_WAIT = 5.0


CLUSTER_ATTEMPTS = 3
_PORT_TAKEN = "address already in use"


def _route_count(server: EmbeddedNatsServer) -> int:
    url = f"http://{server.host}:{server.monitor_port}/routez"
    with urllib.request.urlopen(url, timeout=1) as response:
        count: int = json.load(response)["num_routes"]
        return count


def _start_cluster(servers: list[EmbeddedNatsServer]) -> None:
    """Start A, B, C (appended to ``servers`` before they start, so their logs can be
    read after a failure) and wait until each has routes to the other two."""
    cluster_ports = [free_port() for _ in range(3)]
    for index, name in enumerate("ABC"):
        routes = ", ".join(
            f'"nats-route://127.0.0.1:{port}"'
            for other, port in enumerate(cluster_ports)
            if other != index
        )
        config = (
            f'cluster {{ name: "tc", listen: "127.0.0.1:{cluster_ports[index]}", '
            f"routes: [{routes}] }}"
        )
        server = EmbeddedNatsServer(
            jetstream=False, name=name, config=config, monitor_port=free_port()
        )
        servers.append(server)
        server.start()
    deadline = time.monotonic() + 10
    while True:
        # A server is ready once its client port answers; losing its route port
        # to another process kills it a moment later.
        dead = [s.name for s in servers if not s.running]
        if dead:
            raise RuntimeError(f"nats-server {dead} exited")
        with contextlib.suppress(OSError):
            if all(_route_count(s) >= 2 for s in servers):
                return
        if time.monotonic() > deadline:
            raise TimeoutError("routes did not come up:\n" + servers[0].log_tail())
        time.sleep(0.05)


@pytest.fixture(scope="module")
def cluster() -> Iterator[list[EmbeddedNatsServer]]:
    """Servers A, B, C in cluster ``tc``, full mesh of routes, up and routed.

    The ports are free when picked, but another process on the machine can take
    one before the server binds it: then the whole cluster starts again on new ports.
    """
    for attempt in range(1, CLUSTER_ATTEMPTS + 1):
        servers: list[EmbeddedNatsServer] = []
        try:
            _start_cluster(servers)
        except (RuntimeError, TimeoutError):
            lost_a_port = any(_PORT_TAKEN in s.log_tail(200) for s in servers)
            for server in servers:
                server.close()
            if lost_a_port and attempt < CLUSTER_ATTEMPTS:
                continue
            raise
        try:
            yield servers
        finally:
            for server in servers:
                server.close()
        return


@pytest.fixture
def send_span() -> Callable[[str], tuple[ReadableSpan, dict[str, str]]]:
    """Start and end a real ``send`` span; return it and the headers it injects."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("test-publisher")

    def make(subject: str) -> tuple[ReadableSpan, dict[str, str]]:
        headers: dict[str, str] = {}
        with tracer.start_as_current_span(f"send {subject}"):
            propagate.inject(headers)
        return exporter.get_finished_spans()[-1], headers

    return make


class Harness:
    """A running collector with its exporter and registry, plus a raw event capture."""

    def __init__(
        self,
        collector: ServerTraceCollector,
        exporter: InMemorySpanExporter,
        registry: CollectorRegistry,
    ) -> None:
        self.collector = collector
        self.exporter = exporter
        self.registry = registry
        self.raw: list[tuple[bytes, dict[str, str] | None]] = []

    async def spans(self, count: int, timeout: float = SPAN_WAIT) -> list[ReadableSpan]:
        """Wait until at least ``count`` spans were exported; return them all."""
        deadline = time.monotonic() + timeout
        while len(self.exporter.get_finished_spans()) < count:
            if time.monotonic() > deadline:
                got = len(self.exporter.get_finished_spans())
                raise AssertionError(f"{got} spans after {timeout}s, wanted {count}")
            await self.collector.export_ready()
            await asyncio.sleep(0.02)
        return list(self.exporter.get_finished_spans())


@pytest.fixture
async def collector_for() -> AsyncIterator[Callable[..., Awaitable[Harness]]]:
    """Start collectors (on a given URL and trace subject); stop them at teardown."""
    started: list[tuple[Harness, Any]] = []

    async def start(url: str, subject: str, **options: Any) -> Harness:
        nc = await nats.connect(url, name="collector")
        exporter = InMemorySpanExporter()
        registry = options.setdefault("registry", CollectorRegistry())
        options.setdefault("timeout", 2.0)
        collector = ServerTraceCollector(nc, subject, exporter, **options)
        harness = Harness(collector, exporter, registry)

        async def capture(msg: Any) -> None:
            harness.raw.append((msg.data, msg.headers))

        await nc.subscribe(subject, cb=capture)
        await harness.collector.start()
        started.append((harness, nc))
        return harness

    yield start
    for harness, nc in started:
        await harness.collector.stop()
        await nc.close()
