"""Per-message cost of publish + consume, raw nats-py against natstrace, in one run.

    .venv/bin/python benchmarks/bench_overhead.py [--messages 20000] [--rounds 5]

Every case publishes 256-byte messages on one connection and consumes them with a
callback on another, against one embedded nats-server; the time is from the first
publish until the last message was handled. Cases run interleaved, round after
round, and the median per case is reported, as ratios against the baselines of
the same run (absolute numbers on shared machines are noise). The cases compared
like for like run back to back, alternating which goes first, and their ratio is
printed round by round too, to show the run's spread:

- raw:         nats-py, no headers
- raw+headers: nats-py carrying the four headers natstrace sends
- floor:       raw+headers plus two bare SDK spans (producer, consumer) and
               propagator inject/extract, the consumer span current while the
               handler runs: what OpenTelemetry itself costs
- natstrace:   natstrace.instrument, 100% sampling, metrics with exemplars
- unsampled:   natstrace.instrument, sampling off, metrics on

Two more floors measure like for like, so the table shows what natstrace's own
work costs apart from what OpenTelemetry charges for the same spans:

- floor+attrs:     the floor, its spans carrying the semantic-convention
                   attributes natstrace puts on the same two spans
- floor unsampled: raw+headers plus the same two spans and inject/extract
                   under a sampler that drops everything

Spans go to an exporter that discards them, through the SDK's BatchSpanProcessor
for the floor and through the processor natstrace.configure() installs for the
natstrace cases, each with a queue larger than the run.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable, Sequence

import nats
from nats.aio.client import Client
from nats.aio.msg import Msg
from opentelemetry import propagate, trace
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ALWAYS_ON, Sampler
from opentelemetry.trace import SpanKind
from prometheus_client import CollectorRegistry

import natstrace
from natstrace.embedded_server import EmbeddedNatsServer
from natstrace.metrics import NatstraceMetrics
from natstrace.tracing import semconv as sc
from natstrace.tracing.processor_slot import SpanProcessorSlot
from natstrace.tracing.setup import BoundedBatchSpanProcessor

PAYLOAD = b"x" * 256
HEADERS = {
    "traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
    "Nats-Msg-Id": "8zW2fMSmDwYB2v0wTbYuxh",
    "Correlation-Id": "8zW2fMSmDwYB2v0wTbYuuz",
    "Causation-Id": "8zW2fMSmDwYB2v0wTbYuuz",
}

Case = Callable[[str, int], Awaitable[float]]


class _Discard(SpanExporter):
    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return SpanExportResult.SUCCESS


def _provider(sampler: Sampler, processor: Callable[..., SpanProcessor]) -> TracerProvider:
    # A queue far larger than the run: no case gets cheaper by dropping spans.
    provider = TracerProvider(sampler=sampler)
    provider.add_span_processor(processor(_Discard(), max_queue_size=1 << 20))
    return provider


def _configured(exporter: SpanExporter, max_queue_size: int) -> SpanProcessor:
    """The processor natstrace.configure() installs in front of an exporter other than
    its own OTLP one (here one that discards): the bounded one, in its slot. What
    exporting costs, with natstrace's processor, is bench_export's to measure."""
    return SpanProcessorSlot(BoundedBatchSpanProcessor(exporter, max_queue_size=max_queue_size))


async def _measure(
    url: str,
    count: int,
    wrap: Callable[[Client], object],
    publish: Callable[[object], Awaitable[None]],
    on_message: Callable[[Msg], Awaitable[None]] | None = None,
) -> float:
    """Seconds per message from the first publish to the last handled message."""
    pub_raw, sub_raw = await nats.connect(url), await nats.connect(url)
    publisher, subscriber = wrap(pub_raw), wrap(sub_raw)
    done = asyncio.Event()
    handled = 0

    async def handle(msg: Msg) -> None:
        nonlocal handled
        if on_message is not None:
            await on_message(msg)
        handled += 1
        if handled == count:
            done.set()

    await subscriber.subscribe("bench", cb=handle, pending_msgs_limit=count + 1)  # type: ignore[attr-defined]
    await sub_raw.flush()
    started = time.perf_counter()
    for _ in range(count):
        await publish(publisher)
    await asyncio.wait_for(done.wait(), 120)
    elapsed = time.perf_counter() - started
    await pub_raw.close()
    await sub_raw.close()
    return elapsed / count


async def raw(url: str, count: int) -> float:
    return await _measure(url, count, lambda nc: nc, lambda nc: nc.publish("bench", PAYLOAD))  # type: ignore[attr-defined]


async def raw_headers(url: str, count: int) -> float:
    return await _measure(
        url,
        count,
        lambda nc: nc,
        lambda nc: nc.publish("bench", PAYLOAD, headers=dict(HEADERS)),  # type: ignore[attr-defined]
    )


def _shared(operation: str) -> dict[str, object]:
    # The attributes natstrace puts on every span of the operation: the same keys and
    # value types (the values themselves cost nothing different).
    return {
        sc.MESSAGING_SYSTEM: sc.NATS,
        sc.MESSAGING_OPERATION_NAME: operation,
        sc.MESSAGING_OPERATION_TYPE: operation,
        sc.MESSAGING_DESTINATION_TEMPLATE: "bench",
        sc.SERVER_ADDRESS: "127.0.0.1",
        sc.SERVER_PORT: 4222,
    }


def _per_message(shared: dict[str, object]) -> dict[str, object]:
    # The floor's spans with the per-message attributes natstrace sets, on a fresh dict.
    return {
        **shared,
        sc.MESSAGING_DESTINATION_NAME: "bench",
        sc.MESSAGING_MESSAGE_ID: HEADERS["Nats-Msg-Id"],
        sc.MESSAGING_MESSAGE_CONVERSATION_ID: HEADERS["Correlation-Id"],
        sc.MESSAGING_MESSAGE_BODY_SIZE: len(PAYLOAD),
    }


def _floor_case(sampler: Sampler, attributes: bool) -> Case:
    tracer = _provider(sampler, BatchSpanProcessor).get_tracer("bench")
    sent, processed = _shared(sc.SEND), _shared(sc.PROCESS)

    def per_message(shared: dict[str, object]) -> dict[str, object] | None:
        return _per_message(shared) if attributes else None

    async def publish(nc: object) -> None:
        span = tracer.start_span(
            "send bench",
            kind=SpanKind.PRODUCER,
            attributes=per_message(sent),  # type: ignore[arg-type]
        )
        headers = dict(HEADERS)
        propagate.inject(headers, context=trace.set_span_in_context(span))
        await nc.publish("bench", PAYLOAD, headers=headers)  # type: ignore[attr-defined]
        span.end()

    async def consume(msg: Msg) -> None:
        # Current while the handler runs, as it must be for the handler's own spans,
        # logs and publishes to belong to the message's trace (natstrace's is too).
        with tracer.start_as_current_span(
            "process bench",
            context=propagate.extract(msg.headers or {}),
            kind=SpanKind.CONSUMER,
            attributes=per_message(processed),  # type: ignore[arg-type]
        ):
            pass

    async def case(url: str, count: int) -> float:
        return await _measure(url, count, lambda nc: nc, publish, consume)

    return case


def _natstrace_case(sampler: Sampler) -> Case:
    provider = _provider(sampler, _configured)
    metrics = NatstraceMetrics(CollectorRegistry(), service_name="bench")

    async def case(url: str, count: int) -> float:
        return await _measure(
            url,
            count,
            lambda nc: natstrace.instrument(nc, tracer_provider=provider, metrics=metrics),
            lambda nc: nc.publish("bench", PAYLOAD),  # type: ignore[attr-defined]
        )

    return case


CASES: dict[str, Case] = {
    "raw": raw,
    "raw+headers": raw_headers,
    "floor": _floor_case(ALWAYS_ON, attributes=False),
    "natstrace": _natstrace_case(ALWAYS_ON),
    "floor+attrs": _floor_case(ALWAYS_ON, attributes=True),
    "unsampled": _natstrace_case(ALWAYS_OFF),
    "floor unsampled": _floor_case(ALWAYS_OFF, attributes=False),
}
LIKE_FOR_LIKE = (("natstrace", "floor+attrs"), ("unsampled", "floor unsampled"))


def _round_order(number: int) -> list[str]:
    # Each like-for-like pair runs back to back, which of the two goes first
    # alternating from round to round: the machine's speed, which drifts on shared
    # machines, then weighs on both alike.
    order = [name for name in CASES if not any(name in pair for pair in LIKE_FOR_LIKE)]
    for pair in LIKE_FOR_LIKE:
        order.extend(pair if number % 2 == 0 else reversed(pair))
    return order


async def main(count: int, rounds: int) -> None:
    with EmbeddedNatsServer(jetstream=False) as server:
        results: dict[str, list[float]] = {name: [] for name in CASES}
        for case in CASES.values():  # warm up imports, caches and connections
            await case(server.url, min(count, 2000))
        for number in range(rounds):
            for name in _round_order(number):
                results[name].append(await CASES[name](server.url, count))
        # The same instrumented path, five times longer: a cost that grows with the
        # number of messages shows here.
        long_run = await CASES["natstrace"](server.url, count * 5)
        growth = long_run / statistics.median(results["natstrace"])
    median = {name: statistics.median(values) for name, values in results.items()}
    print(f"{count} messages x {rounds} rounds, 256-byte payload, median per message:\n")
    print("| case | µs/message | ratio |")
    print("|---|---:|---|")
    baselines = {
        "raw": None,
        "raw+headers": "raw",
        "floor": "raw+headers",
        "natstrace": "floor",
        "unsampled": "raw+headers",
        "floor+attrs": "floor",
        "floor unsampled": "raw+headers",
    }
    for name, base in baselines.items():
        ratio = f"{median[name] / median[base]:.2f}x {base}" if base else ""
        print(f"| {name} | {median[name] * 1e6:.1f} | {ratio} |")
    like = median["natstrace"] / median["floor+attrs"]
    like_unsampled = median["unsampled"] / median["floor unsampled"]
    print(
        f"\nlike for like: natstrace = {like:.2f}x floor+attrs (goal 1.15x); "
        f"unsampled = {like_unsampled:.2f}x floor unsampled (goal 1.10x)"
    )
    for case, floor in LIKE_FOR_LIKE:
        each = " ".join(f"{a / b:.2f}" for a, b in zip(results[case], results[floor], strict=True))
        print(f"  {case} / {floor}, round by round: {each}")
    print(
        f"growth: natstrace per message at {count * 5} messages / at {count}: "
        f"{growth:.2f}x (1.00 = no per-message state left behind)"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=5)
    arguments = parser.parse_args()
    asyncio.run(main(arguments.messages, arguments.rounds))
