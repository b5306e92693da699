"""CPU per span of OTLP encoding alone: OpenTelemetry's encoder against natstrace's.

    .venv/bin/python benchmarks/bench_encoder.py [--spans 10240] [--repeat 5]

Spans shaped like natstrace's ``send`` spans (the shared messaging attributes,
the destination, unique message, correlation and causation IDs, the body size),
finished by the SDK, encoded in batches of 512 (the default batch size). A fresh
natstrace encoder per batch, so what it caches between batches does not help it.
Best of ``--repeat`` runs (process CPU time).
"""

from __future__ import annotations

import argparse
import time
import uuid
from collections.abc import Callable, Sequence

from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from bench_overhead import _shared
from natstrace.tracing import semconv as sc
from natstrace.tracing.export.encoder import SpanEncoder

BATCH = 512


def _spans(count: int) -> list[ReadableSpan]:
    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "bench"}))
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("natstrace", "0.1.0")
    shared = _shared(sc.SEND)
    for index in range(count):
        attributes = {
            **shared,
            sc.MESSAGING_DESTINATION_NAME: f"orders.{index % 10}",
            sc.MESSAGING_MESSAGE_ID: uuid.uuid4().hex[:22],
            sc.MESSAGING_MESSAGE_CONVERSATION_ID: uuid.uuid4().hex[:22],
            sc.NATSTRACE_CAUSATION_ID: uuid.uuid4().hex[:22],
            sc.MESSAGING_MESSAGE_BODY_SIZE: 100 + index % 50,
        }
        with tracer.start_as_current_span(
            "send orders.*", kind=SpanKind.PRODUCER, attributes=attributes
        ):
            pass
    return list(memory.get_finished_spans())


def _best(
    encode: Callable[[Sequence[ReadableSpan]], bytes], spans: list[ReadableSpan], repeat: int
) -> float:
    batches = [spans[i : i + BATCH] for i in range(0, len(spans), BATCH)]
    best = float("inf")
    for _ in range(repeat):
        started = time.process_time()
        for batch in batches:
            encode(batch)
        best = min(best, time.process_time() - started)
    return best / len(spans)


def main(count: int, repeat: int) -> None:
    spans = _spans(count)
    stock = _best(lambda batch: encode_spans(batch).SerializeToString(), spans, repeat)
    ours = _best(lambda batch: SpanEncoder().encode(batch), spans, repeat)
    print(f"{count} spans in batches of {BATCH}, best of {repeat}:\n")
    print("| encoder | CPU µs/span |")
    print("|---|---:|")
    print(f"| OpenTelemetry (encode_spans + SerializeToString) | {stock * 1e6:.1f} |")
    print(f"| natstrace (SpanEncoder) | {ours * 1e6:.1f} ({stock / ours:.1f}x faster) |")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spans", type=int, default=10240)
    parser.add_argument("--repeat", type=int, default=5)
    arguments = parser.parse_args()
    main(arguments.spans, arguments.repeat)
