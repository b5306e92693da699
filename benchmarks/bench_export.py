"""End to end: publish + consume with every span exported over OTLP/gRPC to a
receiver in another process; CPU time of this process per message.

    .venv/bin/python benchmarks/bench_export.py [--messages 20000] [--rounds 3]
    .venv/bin/python benchmarks/bench_export.py --open-loop [--rates 5000] [--seconds 30]

Closed loop (the default): messages are published as fast as the process can,
consumed on a second connection through one embedded nats-server, and the CPU
time of the whole process (every thread: event loop, export worker, gRPC) is taken
from the first publish until the tracer provider's shutdown has flushed the last
span. The receiver runs in its own process and counts what arrives: every span
made must arrive (queues are larger than the run). Cases run interleaved, round
after round, medians reported as ratios within the run (absolute numbers on a
shared machine are noise):

- floor:     nats-py + two SDK spans (producer, consumer) carrying the attributes
             natstrace puts on them, inject/extract (the consumer span current
             while the handler runs), the SDK's BatchSpanProcessor
             and OpenTelemetry's OTLPSpanExporter: what OpenTelemetry costs today
- natstrace: natstrace.instrument with the pipeline configure() builds (natstrace's
             OTLP exporter behind the EncodingSpanProcessor, metrics), 100% sampling
- natstrace, stock encoder: the same with NATSTRACE_OTLP_ENCODER=stock (the SDK's
             batch processor and OpenTelemetry's exporter)
- natstrace, encoded on the worker: natstrace's exporter behind the SDK's batch
             processor (spans queued as objects, encoded a batch at a time)

For each case the CPU the export worker thread spends sending is shown too: the
exporter's export() (encoding and sending a batch), or for the EncodingSpanProcessor
its export_encoded() (sending; the spans were encoded as they ended, on the event
loop). The rest is the message flow, span creation and gRPC's own threads.

Open loop (``--open-loop``): messages published at a steady rate for a number of
seconds with the default queue size (2048 spans); reports the publishing rate
achieved, spans made, arrived and lost (and how many natstrace's processor counted
as dropped), and the most spans natstrace's queue held, at each rate.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import multiprocessing.synchronize
import os
import statistics
import time
from collections.abc import Awaitable, Callable, Sequence
from concurrent import futures
from dataclasses import dataclass, replace
from typing import Any

import grpc
import nats
from nats.aio.msg import Msg
from opentelemetry import propagate, trace
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.trace import SpanKind
from prometheus_client import CollectorRegistry

import natstrace
from bench_overhead import HEADERS, PAYLOAD, _per_message, _shared
from natstrace.config import Settings
from natstrace.embedded_server import EmbeddedNatsServer
from natstrace.metrics import NatstraceMetrics
from natstrace.tracing import semconv as sc
from natstrace.tracing.export import EncodingSpanProcessor
from natstrace.tracing.setup import (
    BoundedBatchSpanProcessor,
    CountingSpanExporter,
    build_span_exporter,
    build_span_processor,
)

BIG_QUEUE = 1 << 20
DEFAULT_QUEUE = Settings().span_queue_size


# --- the receiver, in another process --------------------------------------------


def _serve(port: Any, received: Any, ready: multiprocessing.synchronize.Event) -> None:
    class Counting(trace_service_pb2_grpc.TraceServiceServicer):
        def Export(self, request: Any, context: Any) -> Any:
            spans = sum(
                len(scope.spans)
                for resource in request.resource_spans
                for scope in resource.scope_spans
            )
            with received.get_lock():
                received.value += spans
            return trace_service_pb2.ExportTraceServiceResponse()

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(Counting(), server)
    port.value = server.add_insecure_port("127.0.0.1:0")
    server.start()
    ready.set()
    server.wait_for_termination()


class Receiver:
    """An OTLP/gRPC receiver in a child process that counts the spans it receives."""

    def __init__(self) -> None:
        context = multiprocessing.get_context("spawn")
        self._port = context.Value("i", 0)
        self.received = context.Value("q", 0)
        ready = context.Event()
        self._process = context.Process(
            target=_serve, args=(self._port, self.received, ready), daemon=True
        )
        self._process.start()
        if not ready.wait(30):
            raise RuntimeError("the receiver did not start")

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self._port.value}"

    def count(self) -> int:
        with self.received.get_lock():
            return int(self.received.value)

    def wait_for(self, count: int, timeout: float = 30.0) -> int:
        """The number received once it reaches ``count``, or when ``timeout`` runs out."""
        deadline = time.monotonic() + timeout
        while self.count() < count and time.monotonic() < deadline:
            time.sleep(0.01)
        return self.count()

    def stop(self) -> None:
        self._process.terminate()
        self._process.join(5)


# --- the cases ------------------------------------------------------------------


class _SendTimer:
    """Adds up the CPU the exporter's sending method takes on the calling thread (the
    export worker): ``export`` for a batch of spans, ``export_encoded`` for spans the
    :class:`EncodingSpanProcessor` encoded as they ended."""

    def __init__(self, exporter: SpanExporter, name: str = "export") -> None:
        self.exporter = exporter
        self.cpu = 0.0
        send = getattr(exporter, name)

        def timed(*args: Any) -> SpanExportResult:
            started = time.thread_time()
            try:
                return send(*args)  # type: ignore[no-any-return]
            finally:
                self.cpu += time.thread_time() - started

        # An instance attribute shadows the method: the processor calls it by name.
        setattr(exporter, name, timed)


@dataclass
class ExportCase:
    """One case's tracer provider, freshly built for one run."""

    provider: TracerProvider
    exporter: _SendTimer
    wrap: Callable[[Any], Any]
    publish: Callable[[Any], Awaitable[None]]
    consume: Callable[[Msg], Awaitable[None]] | None = None
    dropped: Callable[[], int] = lambda: 0
    queued: Callable[[], int] = lambda: -1


def _resource() -> Resource:
    return Resource.create({"service.name": "bench"})


class _Discard(SpanExporter):
    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return SpanExportResult.SUCCESS


def floor(queue_size: int, export: bool = True) -> ExportCase:
    exporter = OTLPSpanExporter() if export else _Discard()
    provider = TracerProvider(resource=_resource())
    provider.add_span_processor(BatchSpanProcessor(exporter, max_queue_size=queue_size))
    tracer = provider.get_tracer("bench")
    sent, processed = _shared(sc.SEND), _shared(sc.PROCESS)

    async def publish(nc: Any) -> None:
        span = tracer.start_span(
            "send bench", kind=SpanKind.PRODUCER, attributes=_per_message(sent)
        )
        headers = dict(HEADERS)
        propagate.inject(headers, context=trace.set_span_in_context(span))
        await nc.publish("bench", PAYLOAD, headers=headers)
        span.end()

    async def consume(msg: Msg) -> None:
        # Current while the handler runs, as in bench_overhead's floor.
        with tracer.start_as_current_span(
            "process bench",
            context=propagate.extract(msg.headers or {}),
            kind=SpanKind.CONSUMER,
            attributes=_per_message(processed),
        ):
            pass

    return ExportCase(provider, _SendTimer(exporter), lambda nc: nc, publish, consume)


def natstrace_pipeline(
    queue_size: int, encoder: str = "natstrace", export: bool = True, encode_on_end: bool = True
) -> ExportCase:
    # What configure() builds: the exporter OTEL_* asks for, natstrace's processor
    # reporting drops to the metrics.
    settings = replace(
        Settings.from_env(), span_queue_size=queue_size, otlp_encoder=encoder, otlp_protocol="grpc"
    )
    registry = CollectorRegistry()
    metrics = NatstraceMetrics(registry, service_name="bench")
    built = build_span_exporter(settings) if export else _Discard()
    assert built is not None
    provider = TracerProvider(resource=_resource())
    if encode_on_end:
        processor = build_span_processor(settings, built, metrics.count_spans_dropped)
    else:
        # natstrace's exporter behind the batch processor: spans queued as objects
        # and encoded a batch at a time on the worker.
        processor = BoundedBatchSpanProcessor(
            CountingSpanExporter(built, metrics.count_spans_dropped),
            max_queue_size=queue_size,
            on_dropped=metrics.count_spans_dropped,
        )
    provider.add_span_processor(processor)
    encoded = isinstance(processor, EncodingSpanProcessor)
    timer = _SendTimer(built, "export_encoded" if encoded else "export")

    def dropped() -> int:
        return int(
            sum(
                sample.value
                for family in registry.collect()
                for sample in family.samples
                if sample.name == "natstrace_spans_dropped_total"
            )
        )

    return ExportCase(
        provider,
        timer,
        lambda nc: natstrace.instrument(nc, tracer_provider=provider, metrics=metrics),
        lambda nc: nc.publish("bench", PAYLOAD),
        None,
        dropped,
        lambda: processor.queued,
    )


CASES: dict[str, Callable[[int], ExportCase]] = {
    "floor": floor,
    "natstrace": natstrace_pipeline,
    "natstrace, stock encoder": lambda queue: natstrace_pipeline(queue, "stock"),
    "natstrace, encoded on the worker": lambda queue: natstrace_pipeline(
        queue, encode_on_end=False
    ),
    # Spans made and batched but thrown away at the exporter: what is left is the
    # cost of making them; the difference to the case above is the whole export path.
    "floor, no export": lambda queue: floor(queue, export=False),
    "natstrace, no export": lambda queue: natstrace_pipeline(queue, export=False),
}


@dataclass
class Run:
    messages: int
    cpu: float
    export_cpu: float
    made: int
    arrived: int
    dropped: int
    wall: float
    most_queued: int = -1


async def _connect_pair(
    url: str, pipeline: ExportCase, count: int, on_done: Callable[[], None]
) -> Any:
    pub_raw, sub_raw = await nats.connect(url), await nats.connect(url)
    publisher, subscriber = pipeline.wrap(pub_raw), pipeline.wrap(sub_raw)
    handled = 0

    async def handle(msg: Msg) -> None:
        nonlocal handled
        if pipeline.consume is not None:
            await pipeline.consume(msg)
        handled += 1
        if handled == count:
            on_done()

    await subscriber.subscribe("bench", cb=handle, pending_msgs_limit=count + 1)
    await sub_raw.flush()
    return pub_raw, sub_raw, publisher


async def closed_loop(url: str, receiver: Receiver, name: str, count: int) -> Run:
    pipeline = CASES[name](BIG_QUEUE)
    done = asyncio.Event()
    pub_raw, sub_raw, publisher = await _connect_pair(url, pipeline, count, done.set)
    before = receiver.count()
    started_wall = time.perf_counter()
    started = time.process_time()
    for _ in range(count):
        await pipeline.publish(publisher)
    await asyncio.wait_for(done.wait(), 300)
    pipeline.provider.shutdown()  # the final flush is part of the cost
    cpu = time.process_time() - started
    wall = time.perf_counter() - started_wall
    await pub_raw.close()
    await sub_raw.close()
    made = 2 * count
    exported = not isinstance(pipeline.exporter.exporter, _Discard)
    arrived = receiver.wait_for(before + made) - before if exported else 0
    return Run(count, cpu, pipeline.exporter.cpu, made, arrived, pipeline.dropped(), wall)


async def open_loop(url: str, receiver: Receiver, name: str, rate: int, seconds: float) -> Run:
    count = int(rate * seconds)
    pipeline = CASES[name](DEFAULT_QUEUE)
    done = asyncio.Event()
    pub_raw, sub_raw, publisher = await _connect_pair(url, pipeline, count, done.set)
    before = receiver.count()
    started = time.perf_counter()
    cpu_started = time.process_time()
    sent = 0
    most_queued = -1
    # Publish on schedule: message i is due at started + i / rate; what is due is
    # sent at once, then the loop sleeps until the next one is due.
    while sent < count:
        due = min(count, int((time.perf_counter() - started) * rate) + 1)
        while sent < due:
            await pipeline.publish(publisher)
            sent += 1
        most_queued = max(most_queued, pipeline.queued())
        await asyncio.sleep(max(0.0, started + sent / rate - time.perf_counter()))
    wall = time.perf_counter() - started  # the rate achieved is the publishing rate
    await asyncio.wait_for(done.wait(), 300)
    pipeline.provider.shutdown()
    cpu = time.process_time() - cpu_started
    await pub_raw.close()
    await sub_raw.close()
    made = 2 * count
    arrived = receiver.wait_for(before + made, timeout=10) - before
    run = Run(count, cpu, pipeline.exporter.cpu, made, arrived, pipeline.dropped(), wall)
    run.most_queued = most_queued
    return run


# --- main -----------------------------------------------------------------------


def _use(receiver: Receiver) -> None:
    for name in list(os.environ):
        if name.startswith(("OTEL_", "NATSTRACE_")):
            del os.environ[name]
    os.environ["OTEL_EXPORTER_OTLP_ENDPOINT"] = receiver.endpoint
    os.environ["OTEL_EXPORTER_OTLP_INSECURE"] = "true"


async def main_closed(count: int, rounds: int) -> None:
    receiver = Receiver()
    _use(receiver)
    try:
        with EmbeddedNatsServer(jetstream=False) as server:
            for name in CASES:  # warm up imports, caches, connections
                await closed_loop(server.url, receiver, name, min(count, 2000))
            runs: dict[str, list[Run]] = {name: [] for name in CASES}
            for _ in range(rounds):
                for name in CASES:
                    runs[name].append(await closed_loop(server.url, receiver, name, count))
    finally:
        receiver.stop()
    print(
        f"{count} messages x {rounds} rounds, 256-byte payload, 2 spans per message, "
        f"OTLP/gRPC to a receiver in another process; median CPU per message:\n"
    )
    print(
        "| case | CPU µs/message | ratio to floor | export worker µs/message "
        "| spans made | arrived |"
    )
    print("|---|---:|---:|---:|---:|---:|")
    floor_cpu = statistics.median(run.cpu / run.messages for run in runs["floor"])
    for name, case_runs in runs.items():
        cpu = statistics.median(run.cpu / run.messages for run in case_runs)
        if "no export" in name:
            made = sum(run.made for run in case_runs)
            print(f"| {name} | {cpu * 1e6:.1f} | {cpu / floor_cpu:.2f}x | - | {made} | - |")
            continue
        export = statistics.median(run.export_cpu / run.messages for run in case_runs)
        made = sum(run.made for run in case_runs)
        arrived = sum(run.arrived for run in case_runs)
        print(
            f"| {name} | {cpu * 1e6:.1f} | {cpu / floor_cpu:.2f}x | {export * 1e6:.1f} "
            f"| {made} | {arrived} |"
        )
    ours = statistics.median(run.cpu / run.messages for run in runs["natstrace"]) / floor_cpu
    print(f"\ntarget: natstrace <= 0.50x floor (got {ours:.2f}x)")


async def main_open(rates: list[int], seconds: float, names: list[str]) -> None:
    receiver = Receiver()
    _use(receiver)
    try:
        with EmbeddedNatsServer(jetstream=False) as server:
            for name in names:
                await open_loop(server.url, receiver, name, 1000, 1)  # warm up
            print(
                f"open loop: {seconds:g} s at each rate, default queue ({DEFAULT_QUEUE} spans), "
                "2 spans per message\n"
            )
            print(
                "| case | target msg/s | achieved msg/s | spans made | arrived | lost (counted) "
                "| most queued |"
            )
            print("|---|---:|---:|---:|---:|---:|---:|")
            for rate in rates:
                for name in names:
                    run = await open_loop(server.url, receiver, name, rate, seconds)
                    achieved = run.messages / run.wall
                    print(
                        f"| {name} | {rate} | {achieved:.0f} | {run.made} | {run.arrived} "
                        f"| {run.made - run.arrived} ({run.dropped}) "
                        f"| {run.most_queued if run.most_queued >= 0 else 'n/a'} |",
                        flush=True,
                    )
    finally:
        receiver.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--open-loop", action="store_true")
    parser.add_argument("--rates", default="5000", help="comma-separated messages per second")
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--cases", default="natstrace,floor", help="open loop: which cases")
    arguments = parser.parse_args()
    if arguments.open_loop:
        asyncio.run(
            main_open(
                [int(rate) for rate in arguments.rates.split(",")],
                arguments.seconds,
                arguments.cases.split(","),
            )
        )
    else:
        asyncio.run(main_closed(arguments.messages, arguments.rounds))
