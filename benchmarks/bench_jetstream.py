"""Per-message cost of JetStream publish and pull-consume, raw nats-py against natstrace.

    .venv/bin/python benchmarks/bench_jetstream.py [--messages 5000] [--rounds 5]

Two paths, each in three cases, run interleaved round after round against one
embedded nats-server (memory-storage stream); the median per case is reported
with its ratio to the floor of the same run:

publish: ``js.publish`` of 256-byte messages, one after another, each awaiting
its PubAck.
consume: a fresh durable pull consumer over the stored messages, ``fetch(100)``
then ``ack()`` of every message, until all are consumed.

- raw:         nats-py, the contract headers already on the messages
- floor:       raw plus what bare OpenTelemetry costs on the same path: a PRODUCER
               span and propagator inject per publish; per fetch a receive span
               linked to each message, per message an extract and a CONSUMER span
- natstrace:   natstrace.instrument, 100% sampling, metrics with exemplars
- floor+attrs: (consume only) the floor with what natstrace's spans carry: the
               semantic-convention and JetStream attributes (read from the
               message's metadata) on each process span, the ack as its event

Spans go through a BatchSpanProcessor to an exporter that discards them.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable, Sequence
from itertools import count

import nats
from nats.js.client import JetStreamContext
from opentelemetry import propagate, trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.trace import Link, SpanKind
from prometheus_client import CollectorRegistry

import natstrace
from natstrace.embedded_server import EmbeddedNatsServer
from natstrace.jetstream.consume import metadata_attributes
from natstrace.metrics import NatstraceMetrics
from natstrace.tracing import semconv as sc

PAYLOAD = b"x" * 256
HEADERS = {
    "traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
    "Correlation-Id": "8zW2fMSmDwYB2v0wTbYuuz",
}
BATCH = 100
# What natstrace puts on every process span of one consumer (server: any host and port).
PROCESS_ATTRIBUTES = {
    sc.MESSAGING_SYSTEM: sc.NATS,
    sc.MESSAGING_OPERATION_NAME: sc.PROCESS,
    sc.MESSAGING_OPERATION_TYPE: sc.PROCESS,
    sc.MESSAGING_DESTINATION_TEMPLATE: "bench.*",
    sc.MESSAGING_CONSUMER_GROUP_NAME: "c",
    sc.SERVER_ADDRESS: "127.0.0.1",
    sc.SERVER_PORT: 4222,
}
_names = count()


class _Discard(SpanExporter):
    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return SpanExportResult.SUCCESS


def _provider() -> TracerProvider:
    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(_Discard(), max_queue_size=100_000))
    return provider


Case = Callable[[int], Awaitable[float]]


async def _cases(url: str) -> dict[str, dict[str, Case]]:
    raw_nc = await nats.connect(url)
    raw = raw_nc.jetstream()
    provider = _provider()
    tracer = provider.get_tracer("floor")
    traced_nc = natstrace.instrument(
        await nats.connect(url),
        tracer_provider=_provider(),
        metrics=NatstraceMetrics(CollectorRegistry(), service_name="bench"),
    )
    traced = traced_nc.jetstream()
    await raw.add_stream(name="BENCH", subjects=["bench.*"], storage="memory")

    async def publish_raw(n: int) -> float:
        started = time.perf_counter()
        for index in range(n):
            await raw.publish("bench.x", PAYLOAD, headers={**HEADERS, "Nats-Msg-Id": f"r{index}"})
        return time.perf_counter() - started

    async def publish_floor(n: int) -> float:
        started = time.perf_counter()
        for index in range(n):
            with tracer.start_as_current_span("send bench.x", kind=SpanKind.PRODUCER) as span:
                headers = {**HEADERS, "Nats-Msg-Id": f"f{index}"}
                propagate.inject(headers)
                ack = await raw.publish("bench.x", PAYLOAD, headers=headers)
                span.set_attribute("natstrace.jetstream.stream_sequence", ack.seq)
        return time.perf_counter() - started

    async def publish_traced(n: int) -> float:
        started = time.perf_counter()
        for _ in range(n):
            await traced.publish("bench.x", PAYLOAD, headers=HEADERS)
        return time.perf_counter() - started

    async def consume(js: JetStreamContext, n: int, handle: Callable[..., Awaitable[int]]) -> float:
        sub = await js.pull_subscribe("bench.*", durable=f"c{next(_names)}", stream="BENCH")
        done = 0
        started = time.perf_counter()
        while done < n:
            done += await handle(await sub.fetch(BATCH, timeout=5))
        elapsed = time.perf_counter() - started
        await sub.unsubscribe()
        return elapsed

    async def handle_raw(msgs: list[nats.aio.msg.Msg]) -> int:
        for msg in msgs:
            await msg.ack()
        return len(msgs)

    async def handle_floor(msgs: list[nats.aio.msg.Msg]) -> int:
        contexts = [propagate.extract(msg.headers or {}) for msg in msgs]
        links = [Link(trace.get_current_span(c).get_span_context()) for c in contexts]
        tracer.start_span("receive BENCH/c", kind=SpanKind.CLIENT, links=links).end()
        for msg, context in zip(msgs, contexts, strict=True):
            with tracer.start_as_current_span("process", context=context, kind=SpanKind.CONSUMER):
                await msg.ack()
        return len(msgs)

    async def handle_floor_attributes(msgs: list[nats.aio.msg.Msg]) -> int:
        contexts = [propagate.extract(msg.headers or {}) for msg in msgs]
        links = [Link(trace.get_current_span(c).get_span_context()) for c in contexts]
        tracer.start_span("receive BENCH/c", kind=SpanKind.CLIENT, links=links).end()
        for msg, context in zip(msgs, contexts, strict=True):
            meta = msg.metadata
            attributes = {
                **PROCESS_ATTRIBUTES,
                sc.MESSAGING_DESTINATION_NAME: msg.subject,
                sc.MESSAGING_MESSAGE_BODY_SIZE: len(msg.data),
                sc.MESSAGING_MESSAGE_ID: msg.headers.get("Nats-Msg-Id", ""),
                sc.MESSAGING_MESSAGE_CONVERSATION_ID: msg.headers.get("Correlation-Id", ""),
                **metadata_attributes(meta),
            }
            with tracer.start_as_current_span(
                "process bench.*",
                context=context,
                kind=SpanKind.CONSUMER,
                attributes=attributes,  # type: ignore[arg-type]
            ) as span:
                await msg.ack()
                span.add_event("ack", {})
        return len(msgs)

    async def consume_raw(n: int) -> float:
        return await consume(raw, n, handle_raw)

    async def consume_floor(n: int) -> float:
        return await consume(raw, n, handle_floor)

    async def consume_floor_attributes(n: int) -> float:
        return await consume(raw, n, handle_floor_attributes)

    async def consume_traced(n: int) -> float:
        return await consume(traced, n, handle_raw)  # type: ignore[arg-type]

    return {
        "publish": {"raw": publish_raw, "floor": publish_floor, "natstrace": publish_traced},
        "consume": {
            "raw": consume_raw,
            "floor": consume_floor,
            "natstrace": consume_traced,
            "floor+attrs": consume_floor_attributes,
        },
    }


async def main(messages: int, rounds: int) -> None:
    with EmbeddedNatsServer(jetstream=True) as server:
        paths = await _cases(server.url)
        for path, cases in paths.items():
            times: dict[str, list[float]] = {name: [] for name in cases}
            for _ in range(rounds):
                for name, case in cases.items():
                    times[name].append(await case(messages))
            floor = statistics.median(times["floor"])
            print(f"\n{path}: {messages} messages, median of {rounds} rounds")
            for name, samples in times.items():
                median = statistics.median(samples)
                per_msg = median / messages * 1e6
                print(f"  {name:11} {per_msg:8.1f} us/msg   {median / floor:5.2f}x floor")
            if "floor+attrs" in times:
                like = statistics.median(times["natstrace"]) / statistics.median(
                    times["floor+attrs"]
                )
                print(f"  like for like: natstrace = {like:.2f}x floor+attrs")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    asyncio.run(main(args.messages, args.rounds))
