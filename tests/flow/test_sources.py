"""The OTLP JSON lines source and exporter: round trip, corrupt lines, ID encodings."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from google.protobuf.json_format import Parse
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import Link, SpanKind, Status, StatusCode

from natstrace.flow import JsonLinesSpanExporter, SourceError, read_files
from natstrace.flow import SpanKind as FlowKind
from natstrace.flow import StatusCode as FlowStatus
from natstrace.flow.otlp_json import decode_id, decode_request


def _export(path: Path) -> tuple[int, int, int]:
    provider = TracerProvider(resource=Resource.create({"service.name": "orders"}))
    provider.add_span_processor(SimpleSpanProcessor(JsonLinesSpanExporter(path)))
    tracer = provider.get_tracer("test")
    with tracer.start_as_current_span("send orders.created", kind=SpanKind.PRODUCER) as first:
        first.set_attributes(
            {"messaging.message.id": "m1", "n": 7, "ratio": 0.5, "ok": True, "tags": ["a", "b"]}
        )
    with tracer.start_as_current_span(
        "process orders.*", kind=SpanKind.CONSUMER, links=[Link(first.get_span_context())]
    ) as second:
        child = tracer.start_span("inner")
        child.end()
        second.add_event("nak", {"delay": 2})
        second.set_status(Status(StatusCode.ERROR, "boom"))
    provider.shutdown()
    return (
        first.get_span_context().trace_id,
        second.get_span_context().span_id,
        child.get_span_context().span_id,
    )


def test_exported_spans_read_back_the_same(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    first_trace, second_span, child_span = _export(path)

    spans = {s.name: s for s in read_files([path]).spans}

    send, process, inner = spans["send orders.created"], spans["process orders.*"], spans["inner"]
    assert send.trace_id == f"{first_trace:032x}"
    assert send.kind is FlowKind.PRODUCER and send.service == "orders"
    assert dict(send.attributes) == {
        "messaging.message.id": "m1",
        "n": 7,
        "ratio": 0.5,
        "ok": True,
        "tags": ("a", "b"),
    }
    assert process.span_id == f"{second_span:016x}"
    assert process.links[0].trace_id == send.trace_id
    assert process.links[0].span_id == send.span_id
    assert (process.status, process.status_message) == (FlowStatus.ERROR, "boom")
    assert [(e.name, dict(e.attributes)) for e in process.events] == [("nak", {"delay": 2})]
    assert inner.parent_span_id == process.span_id and inner.span_id == f"{child_span:016x}"
    assert process.end_ns >= process.start_ns > 0


def test_the_file_is_otlp_json_that_opentelemetry_proto_parses(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    first_trace, _, _ = _export(path)

    line = path.read_text().splitlines()[0]
    request = Parse(line, ExportTraceServiceRequest())
    raw = request.resource_spans[0].scope_spans[0].spans[0]
    # OTLP/JSON IDs are hex; protobuf's parser reads them as base64, so the bytes it
    # yields re-encode to the same text (a check that we did write hex).
    assert base64.b64encode(raw.trace_id).decode() == f"{first_trace:032x}"
    assert json.loads(line)["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["kind"] == 4


def test_corrupt_lines_are_skipped_and_counted(tmp_path: Path) -> None:
    good = tmp_path / "t.jsonl"
    _export(good)
    lines = good.read_text().splitlines()
    mixed = tmp_path / "mixed.jsonl"
    mixed.write_text("\n".join([lines[0], '{"resourceSpans": [', "[1, 2]", *lines[1:]]) + "\n")

    result = read_files([mixed])

    assert len(result.spans) == 3
    assert result.skipped_lines == 2
    assert result.warning() == (f"skipped 2 line(s) that are not OTLP JSON ({mixed}:2, {mixed}:3)")


def test_a_file_with_nothing_readable_or_missing_is_an_error(tmp_path: Path) -> None:
    junk = tmp_path / "junk.jsonl"
    junk.write_text("not json\n\x00\x01\n")
    with pytest.raises(SourceError, match="no readable OTLP JSON line"):
        read_files([junk])
    with pytest.raises(SourceError, match="cannot read"):
        read_files([tmp_path / "absent.jsonl"])


def test_ids_are_read_as_hex_or_base64_and_bad_spans_are_counted() -> None:
    assert decode_id("0af7651916cd43dd8448eb211c80319c", 16) == "0af7651916cd43dd8448eb211c80319c"
    assert decode_id(base64.b64encode(bytes.fromhex("00f067aa0ba902b7")).decode(), 8) == (
        "00f067aa0ba902b7"
    )
    assert decode_id("0" * 16, 8) is None
    assert decode_id("xyz", 8) is None
    request = {
        "resourceSpans": [
            {
                "scopeSpans": [
                    {
                        "spans": [
                            {"traceId": "1" * 32, "spanId": "2" * 16, "kind": "SPAN_KIND_CLIENT"},
                            {"traceId": "bad", "spanId": "2" * 16},
                        ]
                    }
                ]
            }
        ]
    }
    from natstrace.flow.otlp_json import DecodeStats

    stats = DecodeStats()
    (only,) = decode_request(request, stats)
    assert only.kind is FlowKind.CLIENT and only.service == "unknown_service"
    assert stats.skipped_spans == 1


def test_a_json_line_that_is_not_otlp_is_skipped_not_read_as_no_spans(tmp_path: Path) -> None:
    mixed = tmp_path / "mixed.jsonl"
    _export(mixed)
    with mixed.open("a") as handle:
        handle.write('{"level": "info", "msg": "a log line, not spans"}\n')
    result = read_files([mixed])
    assert len(result.spans) == 3
    assert result.warning() == f"skipped 1 line(s) that are not OTLP JSON ({mixed}:4)"

    other = tmp_path / "app.log.jsonl"
    other.write_text('{"level": "info"}\n[1, 2]\n')
    with pytest.raises(SourceError, match="JSON without resourceSpans"):
        read_files([other])


_WRITER = """
import sys, time
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from natstrace.flow import JsonLinesSpanExporter
provider = TracerProvider()
provider.add_span_processor(SimpleSpanProcessor(JsonLinesSpanExporter(sys.argv[1])))
provider.get_tracer("t").start_span("send x").end()
print("written", flush=True)
sys.stdin.readline()
provider.shutdown() if sys.argv[2] == "shutdown" else None
time.sleep(60) if sys.argv[2] == "shutdown" else None
"""


@pytest.mark.parametrize("ending", ["shutdown", "exit"])
def test_a_file_reads_as_still_written_while_a_writer_holds_it(tmp_path: Path, ending: str) -> None:
    path = tmp_path / "t.jsonl"
    writer = subprocess.Popen(
        [sys.executable, "-c", _WRITER, str(path), ending],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert writer.stdout is not None and writer.stdin is not None
        assert writer.stdout.readline() == "written\n"
        live = read_files([path])
        assert len(live.spans) == 1 and live.still_written
        writer.stdin.write("\n")
        writer.stdin.flush()
        if ending == "exit":
            writer.wait(10)
        # Shut down (the process lives on) or exited: the file is finished.
        deadline = time.monotonic() + 10
        while read_files([path]).still_written:
            assert time.monotonic() < deadline, "the writer's lock was never released"
            time.sleep(0.02)
    finally:
        writer.kill()
        writer.wait()
