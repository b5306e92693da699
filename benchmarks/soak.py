"""Soak and collector-fault runs: what README's "Reliability" section reports.

    .venv/bin/python benchmarks/soak.py [--messages 1000000] [--fault-messages 20000] [--rounds 3]

1. Collector faults. The same instrumented publish/consume pair (256-byte messages,
   100% sampling, the processor and exporter ``natstrace.configure`` builds, OTLP/HTTP) runs
   against a collector that answers, one that refuses connections and a black
   hole that accepts and never answers, interleaved round after round. Reported:
   median throughput of each as a ratio of the collector-up run, spans dropped
   (queue_full, export_failed), the largest queue seen, lost messages.
2. Soak. ``--messages`` through one pair with the collector up: RSS after the first
   100,000 and at the end, live asyncio tasks, spans started and not ended,
   the in-flight gauge, messages lost.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import nats
from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor, TracerProvider
from prometheus_client import CollectorRegistry

import natstrace
from natstrace.config import Settings
from natstrace.embedded_server import EmbeddedNatsServer, free_port
from natstrace.metrics import NatstraceMetrics
from natstrace.tracing.export import OtlpSettings, OtlpSpanExporter
from natstrace.tracing.setup import build_span_processor

PAYLOAD = b"x" * 256
WINDOW = 5_000
"""Most messages published and not yet handled: keeps nats-py's buffers level."""


class _Sink(BaseHTTPRequestHandler):
    """A collector that answers every OTLP/HTTP export with 200."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


class _OpenSpans(SpanProcessor):
    def __init__(self) -> None:
        self.started = 0
        self.ended = 0

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        self.started += 1

    def on_end(self, span: ReadableSpan) -> None:
        self.ended += 1


def _rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6


class _Pipeline:
    def __init__(self, endpoint: str) -> None:
        self.registry = CollectorRegistry()
        self.metrics = NatstraceMetrics(self.registry, service_name="soak")
        exporter = OtlpSpanExporter(
            settings=OtlpSettings(protocol="http/protobuf", endpoint=endpoint, timeout=2)
        )
        processor = build_span_processor(Settings(), exporter, self.metrics.count_spans_dropped)
        self.processor = processor
        self.open_spans = _OpenSpans()
        self.provider = TracerProvider()
        self.provider.add_span_processor(self.open_spans)
        self.provider.add_span_processor(processor)
        self.max_queued = 0
        self.user_errors = 0

    def sample(self, name: str, **labels: str) -> float:
        value = self.registry.get_sample_value(name, {"service_name": "soak", **labels})
        return value or 0.0


async def _pump(
    url: str, pipeline: _Pipeline, count: int, checkpoint: int = 0
) -> tuple[float, int, dict[str, float]]:
    """Publish and consume ``count`` messages; returns seconds, handled, checkpoint figures."""
    pub = natstrace.instrument(
        await nats.connect(url), tracer_provider=pipeline.provider, metrics=pipeline.metrics
    )
    sub = natstrace.instrument(
        await nats.connect(url), tracer_provider=pipeline.provider, metrics=pipeline.metrics
    )
    handled = 0
    seen: dict[str, float] = {}
    done = asyncio.Event()

    async def handle(msg: object) -> None:
        nonlocal handled
        handled += 1
        if handled % 1000 == 0:
            pipeline.max_queued = max(pipeline.max_queued, pipeline.processor.queued)
        if handled == checkpoint:
            seen.update(rss=_rss_mb(), tasks=len(asyncio.all_tasks()))
        if handled == count:
            done.set()

    await sub.subscribe("soak", cb=handle, pending_msgs_limit=WINDOW * 4)
    await sub.flush()
    started = time.perf_counter()
    for sent in range(1, count + 1):
        try:
            await pub.publish("soak", PAYLOAD)
        except Exception:
            pipeline.user_errors += 1
        while sent - handled > WINDOW:
            await asyncio.sleep(0)
    await asyncio.wait_for(done.wait(), 120)
    seconds = time.perf_counter() - started
    await pub.close()
    await sub.close()
    return seconds, handled, seen


async def faults(url: str, count: int, rounds: int) -> None:
    sink = ThreadingHTTPServer(("127.0.0.1", 0), _Sink)
    threading.Thread(target=sink.serve_forever, daemon=True).start()
    hole = socket.socket()
    hole.bind(("127.0.0.1", 0))
    hole.listen(64)
    endpoints = {
        "up": f"http://127.0.0.1:{sink.server_address[1]}/v1/traces",
        "down": f"http://127.0.0.1:{free_port()}/v1/traces",
        "black hole": f"http://127.0.0.1:{hole.getsockname()[1]}/v1/traces",
    }
    pipelines = {name: _Pipeline(endpoint) for name, endpoint in endpoints.items()}
    await _pump(url, pipelines["up"], min(count, 5000))  # warm up
    times: dict[str, list[float]] = {name: [] for name in endpoints}
    lost = 0
    for _ in range(rounds):
        for name, pipeline in pipelines.items():
            seconds, handled, _ = await _pump(url, pipeline, count)
            times[name].append(seconds)
            lost += count - handled
    up = statistics.median(times["up"])
    print(f"collector faults: {count} messages x {rounds} rounds per case, 256-byte payload\n")
    print("| collector | msg/s | throughput vs up | queue_full | export_failed | max queued |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, pipeline in pipelines.items():
        shutdown = time.monotonic()
        natstrace.tracing.setup.InstalledTracing(pipeline.provider, pipeline.processor).shutdown(5)
        took = time.monotonic() - shutdown
        median = statistics.median(times[name])
        print(
            f"| {name} | {count / median:,.0f} | {up / median:.2f} "
            f"| {pipeline.sample('natstrace_spans_dropped_total', reason='queue_full'):,.0f} "
            f"| {pipeline.sample('natstrace_spans_dropped_total', reason='export_failed'):,.0f} "
            f"| {pipeline.max_queued} (bound {pipeline.processor.max_queue_size}) |"
            f"  shutdown {took:.2f}s"
        )
    errors = sum(p.user_errors for p in pipelines.values())
    print(f"\nmessages lost: {lost}; exceptions in user code: {errors}\n")
    sink.shutdown()
    hole.close()


async def soak(url: str, count: int) -> None:
    sink = ThreadingHTTPServer(("127.0.0.1", 0), _Sink)
    threading.Thread(target=sink.serve_forever, daemon=True).start()
    pipeline = _Pipeline(f"http://127.0.0.1:{sink.server_address[1]}/v1/traces")
    tasks_before = len(asyncio.all_tasks())
    checkpoint = min(100_000, count)
    seconds, handled, seen = await _pump(url, pipeline, count, checkpoint)
    await asyncio.sleep(0.5)
    rss_end = _rss_mb()
    tasks_end = len(asyncio.all_tasks())
    print(f"soak: {count:,} messages in {seconds:.0f}s ({count / seconds:,.0f} msg/s)")
    print(f"  RSS after {checkpoint:,}: {seen['rss']:.1f} MB; at the end: {rss_end:.1f} MB; "
          f"delta {rss_end - seen['rss']:+.1f} MB (limit +50 MB)")  # fmt: skip
    print(f"  live tasks: {tasks_before} before, {seen['tasks']:.0f} at {checkpoint:,}, "
          f"{tasks_end} after")  # fmt: skip
    print(f"  spans started {pipeline.open_spans.started:,}, ended {pipeline.open_spans.ended:,} "
          f"(open: {pipeline.open_spans.started - pipeline.open_spans.ended})")  # fmt: skip
    in_flight = pipeline.sample(
        "natstrace_messages_in_flight",
        messaging_destination_name="soak",
        messaging_consumer_group_name="",
    )
    dropped = pipeline.sample("natstrace_spans_dropped_total", reason="queue_full")
    print(f"  in-flight gauge: {in_flight:.0f}; messages lost: {count - handled}; "
          f"spans dropped (queue_full): {dropped:,.0f}")  # fmt: skip
    pipeline.provider.shutdown()
    sink.shutdown()


async def main(messages: int, fault_messages: int, rounds: int, skip_soak: bool) -> None:
    with EmbeddedNatsServer(jetstream=False) as server:
        await faults(server.url, fault_messages, rounds)
        if not skip_soak:
            await soak(server.url, messages)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--fault-messages", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--faults-only", action="store_true")
    arguments = parser.parse_args()
    asyncio.run(
        main(arguments.messages, arguments.fault_messages, arguments.rounds, arguments.faults_only)
    )
