"""How long ``natstrace flow`` takes on a file of 100,000 spans.

Writes a synthetic OTLP JSON lines file (25,000 four-hop workflows: send ->
process -> send -> process, the second hop on a linked trace, 100 spans per
line as a batching exporter writes them), then times the command end to end
(read, join, render as JSON) and its parts. For comparison it also times
decoding the same file with protobuf's ``json_format.Parse``.

    .venv/bin/python benchmarks/bench_flow.py [--spans 100000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from natstrace.flow import read_files, reconstruct_flow
from natstrace.flow.cli import add_flow_arguments, run_flow

SPANS_PER_LINE = 100


def _value(value: object) -> dict[str, Any]:
    if isinstance(value, int):
        return {"intValue": str(value)}
    return {"stringValue": str(value)}


def _span(
    rng: random.Random,
    trace: str,
    parent: str | None,
    name: str,
    kind: int,
    start: int,
    attributes: dict[str, object],
    links: list[tuple[str, str]] = (),  # type: ignore[assignment]
) -> tuple[str, dict[str, Any]]:
    span_id = f"{rng.getrandbits(64):016x}"
    span: dict[str, Any] = {
        "traceId": trace,
        "spanId": span_id,
        "name": name,
        "kind": kind,
        "startTimeUnixNano": str(start),
        "endTimeUnixNano": str(start + rng.randint(50_000, 5_000_000)),
        "attributes": [{"key": k, "value": _value(v)} for k, v in attributes.items()],
        "status": {},
    }
    if parent:
        span["parentSpanId"] = parent
    if links:
        span["links"] = [{"traceId": t, "spanId": s} for t, s in links]
    return span_id, span


def generate(path: Path, spans: int, seed: int = 1) -> str:
    """Write ``spans`` spans to ``path``; returns a correlation ID that is in it."""
    rng = random.Random(seed)
    records: list[tuple[str, dict[str, Any]]] = []
    start = 1_700_000_000_000_000_000
    for number in range(spans // 4):
        cid = f"order-{number}"
        t1, t2 = f"{rng.getrandbits(128):032x}", f"{rng.getrandbits(128):032x}"
        base = {"messaging.system": "nats", "messaging.message.conversation_id": cid}
        at = start + number * 1_000_000
        send1, s1 = _span(
            rng,
            t1,
            None,
            "send orders.created",
            4,
            at,
            {
                **base,
                "messaging.operation.type": "send",
                "messaging.destination.template": "orders.created",
                "messaging.message.id": f"m{number}a",
            },
        )
        proc1, p1 = _span(
            rng,
            t1,
            send1,
            "process orders.*",
            5,
            at + 500_000,
            {
                **base,
                "messaging.operation.type": "process",
                "messaging.destination.template": "orders.*",
                "messaging.message.id": f"m{number}a",
            },
        )
        send2, s2 = _span(
            rng,
            t1,
            proc1,
            "send payments.done",
            4,
            at + 900_000,
            {
                **base,
                "messaging.operation.type": "send",
                "messaging.destination.template": "payments.done",
                "messaging.message.id": f"m{number}b",
                "natstrace.causation_id": f"m{number}a",
            },
        )
        _, p2 = _span(
            rng,
            t2,
            None,
            "process payments.done",
            5,
            at + 1_400_000,
            {
                **base,
                "messaging.operation.type": "process",
                "messaging.destination.template": "payments.done",
                "messaging.message.id": f"m{number}b",
                "natstrace.jetstream.delivery_count": 1,
            },
            [(t1, send2)],
        )
        for service, span in (("orders", s1), ("payments", p1), ("payments", s2), ("shipping", p2)):
            records.append((service, span))
    with path.open("w") as handle:
        for offset in range(0, len(records), SPANS_PER_LINE):
            batch = records[offset : offset + SPANS_PER_LINE]
            by_service: dict[str, list[dict[str, Any]]] = {}
            for service, span in batch:
                by_service.setdefault(service, []).append(span)
            request = {
                "resourceSpans": [
                    {
                        "resource": {
                            "attributes": [
                                {"key": "service.name", "value": {"stringValue": service}}
                            ]
                        },
                        "scopeSpans": [{"scope": {"name": "natstrace"}, "spans": spans_}],
                    }
                    for service, spans_ in by_service.items()
                ]
            }
            handle.write(json.dumps(request, separators=(",", ":")) + "\n")
    return f"order-{spans // 8}"


def _time(repeat: int, call: Callable[[], object]) -> float:
    times = []
    for _ in range(repeat):
        began = time.perf_counter()
        call()
        times.append(time.perf_counter() - began)
    return statistics.median(times)


def _cli(path: Path, correlation_id: str) -> None:
    parser = argparse.ArgumentParser()
    add_flow_arguments(parser)
    args = parser.parse_args([correlation_id, "-f", str(path), "--format", "json"])
    with contextlib.redirect_stdout(io.StringIO()):
        assert run_flow(args) == 0


def _protobuf(path: Path) -> None:
    from google.protobuf.json_format import Parse
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
    )

    with path.open() as handle:
        for line in handle:
            Parse(line, ExportTraceServiceRequest())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spans", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "spans.jsonl"
        correlation_id = generate(path, options.spans)
        size = path.stat().st_size / 1e6
        print(f"{options.spans} spans, {size:.1f} MB, median of {options.repeat} runs:")
        spans = read_files([path]).spans
        assert len(spans) == options.spans
        flow = reconstruct_flow(spans, correlation_id)
        assert len(flow.spans) == 4 and len(flow.trace_ids) == 2
        rows = [
            ("natstrace flow ID --format json (end to end)", lambda: _cli(path, correlation_id)),
            ("  read the file (hand decoder)", lambda: read_files([path])),
            ("  join and build the tree", lambda: reconstruct_flow(spans, correlation_id)),
            ("protobuf json_format.Parse of the file", lambda: _protobuf(path)),
        ]
        for label, call in rows:
            print(f"  {label:<48} {_time(options.repeat, call):6.2f} s")


if __name__ == "__main__":
    main()
