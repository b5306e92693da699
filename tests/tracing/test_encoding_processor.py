"""The span processor that encodes spans as they end, over a real OTLP receiver: what
arrives is what the stock encoder makes of the same spans, batches leave on the
schedule or as soon as one is full, the queue keeps its bound while the receiver
fails, and no failure reaches the thread that ends a span."""

from __future__ import annotations

import logging
import subprocess
import sys
import textwrap
import time

import pytest
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanContext, TraceFlags
from prometheus_client import CollectorRegistry

from natstrace.config import Settings
from natstrace.metrics import NatstraceMetrics
from natstrace.tracing.export import EncodingSpanProcessor, OtlpSpanExporter
from natstrace.tracing.setup import build_span_processor
from tests.support.otlp_receiver import OtlpReceiver
from tests.support.span_samples import every_kind_of_field

pytestmark = pytest.mark.integration

PROTOCOLS = ["grpc", "http/protobuf"]


def _processor(receiver: OtlpReceiver, protocol: str, **options: float) -> EncodingSpanProcessor:
    exporter = OtlpSpanExporter(protocol, endpoint=receiver.endpoint(protocol))  # type: ignore[arg-type]
    return EncodingSpanProcessor(exporter, **options)  # type: ignore[arg-type]


def _interleaved() -> list[ReadableSpan]:
    """Spans of two resources and two scopes, in alternating order."""
    groups = [
        every_kind_of_field("orders", "natstrace"),
        every_kind_of_field("orders", "app"),
        every_kind_of_field("payments", "natstrace"),
    ]
    return [span for spans in zip(*groups, strict=True) for span in spans]


def _unsampled(span: ReadableSpan) -> ReadableSpan:
    context = span.get_span_context()
    return ReadableSpan(
        name="not sampled",
        context=SpanContext(context.trace_id, context.span_id + 1, False, TraceFlags(0)),
        resource=span.resource,
    )


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_what_arrives_is_what_the_stock_encoder_makes_of_the_sampled_spans(
    otlp_receiver: OtlpReceiver, clean_env: pytest.MonkeyPatch, protocol: str
) -> None:
    spans = _interleaved()
    processor = _processor(otlp_receiver, protocol, schedule_delay=30.0)
    for span in spans:
        processor.on_end(span)
        processor.on_end(_unsampled(span))
    assert processor.queued == len(spans), "unsampled spans are not exported"
    assert processor.force_flush()
    (arrived,) = otlp_receiver.requests
    stock = encode_spans(spans)
    assert [len(r.scope_spans) for r in stock.resource_spans] == [2, 1], "grouped like stock"
    assert arrived.request.SerializeToString(deterministic=True) == stock.SerializeToString(
        deterministic=True
    )
    processor.shutdown()


def test_a_batch_leaves_after_the_schedule_delay_without_a_flush(
    otlp_receiver: OtlpReceiver, clean_env: pytest.MonkeyPatch
) -> None:
    processor = _processor(otlp_receiver, "http/protobuf", schedule_delay=0.2)
    spans = every_kind_of_field()[:3]
    for span in spans:
        processor.on_end(span)
    arrived = otlp_receiver.wait_for(3, timeout=5)
    assert [s.name for s in arrived] == [s.name for s in spans]
    assert processor.queued == 0
    processor.shutdown()


def test_a_full_batch_leaves_at_once_and_the_rest_waits_for_the_schedule(
    otlp_receiver: OtlpReceiver, clean_env: pytest.MonkeyPatch
) -> None:
    processor = _processor(
        otlp_receiver, "http/protobuf", schedule_delay=60.0, max_export_batch_size=4
    )
    spans = every_kind_of_field()[:5]
    for span in spans:
        processor.on_end(span)
    arrived = otlp_receiver.wait_for(4, timeout=5)
    assert [s.name for s in arrived] == [s.name for s in spans[:4]]
    assert len(otlp_receiver.requests) == 1
    assert processor.queued == 1, "a partial batch waits for the delay"
    assert processor.force_flush()
    assert [s.name for s in otlp_receiver.spans] == [s.name for s in spans]
    processor.shutdown()


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_a_failing_receiver_never_holds_up_the_ending_thread_and_the_queue_keeps_its_bound(
    otlp_receiver: OtlpReceiver,
    clean_env: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    protocol: str,
) -> None:
    clean_env.setenv("OTEL_EXPORTER_OTLP_TIMEOUT", "2")
    otlp_receiver.faults.failures = 1_000_000
    otlp_receiver.faults.retry_after = 0.2
    registry = CollectorRegistry()
    metrics = NatstraceMetrics(registry=registry)
    settings = Settings(span_queue_size=8, span_batch_size=4, span_schedule_delay=60.0)
    exporter = OtlpSpanExporter(protocol, endpoint=otlp_receiver.endpoint(protocol))  # type: ignore[arg-type]
    processor = build_span_processor(settings, exporter, metrics.count_spans_dropped)
    assert isinstance(processor, EncodingSpanProcessor)
    spans = every_kind_of_field() * 5  # 105
    with caplog.at_level(logging.WARNING):
        # The first full batch wakes the worker, which then retries for up to 2 s.
        for span in spans[:4]:
            processor.on_end(span)
        deadline = time.monotonic() + 5
        while otlp_receiver.faults.attempts == 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert otlp_receiver.faults.attempts > 0, "the worker is sending"
        started = time.monotonic()
        for span in spans[4:]:
            processor.on_end(span)
            assert processor.queued <= 8
        ending = time.monotonic() - started
    assert ending < 0.5, f"101 spans ended in {ending:.3f} s while the export was retrying"

    def dropped(reason: str) -> float:
        value = registry.get_sample_value(
            "natstrace_spans_dropped_total",
            {"service_name": "unknown_service", "reason": reason},
        )
        return value or 0.0

    assert dropped("queue_full") == processor.dropped >= len(spans) - 4 - 8
    full = [r for r in caplog.records if "span export queue full" in r.getMessage()]
    assert len(full) == 1, "one warning, not one per span"
    started = time.monotonic()
    processor.shutdown()
    assert time.monotonic() - started < 3, "shutdown stops the retries"
    # Every span is accounted for: none arrived, each was dropped and counted.
    assert otlp_receiver.spans == []
    assert dropped("queue_full") + dropped("export_failed") == len(spans)


def test_a_span_that_cannot_be_encoded_is_counted_and_the_others_still_go(
    otlp_receiver: OtlpReceiver, clean_env: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    counted: list[tuple[str, int]] = []
    exporter = OtlpSpanExporter("http/protobuf", endpoint=otlp_receiver.endpoint("http/protobuf"))
    processor = EncodingSpanProcessor(
        exporter, schedule_delay=60.0, on_dropped=lambda reason, n: counted.append((reason, n))
    )
    good = every_kind_of_field()[:2]
    broken = ReadableSpan(
        name="broken",
        context=SpanContext(1, 2, False, TraceFlags(TraceFlags.SAMPLED)),
        kind=None,  # type: ignore[arg-type]
        resource=Resource.create({"service.name": "exported"}),
    )
    with caplog.at_level(logging.ERROR):
        for span in (good[0], broken, good[1]):
            processor.on_end(span)
    assert counted == [("export_failed", 1)]
    assert "could not encode a span" in caplog.text
    assert processor.force_flush()
    assert [s.name for s in otlp_receiver.spans] == [s.name for s in good]
    processor.shutdown()


_FORK_SCRIPT = textwrap.dedent(
    """
    import os, sys, time
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from natstrace.tracing.export import EncodingSpanProcessor, OtlpSpanExporter

    exporter = OtlpSpanExporter("http/protobuf", endpoint=sys.argv[1])
    processor = EncodingSpanProcessor(exporter, schedule_delay=0.05)
    provider = TracerProvider(resource=Resource.create({"service.name": "forked"}))
    provider.add_span_processor(processor)
    tracer = provider.get_tracer("fork")
    with tracer.start_as_current_span("before fork"):
        pass
    pid = os.fork()
    if pid == 0:
        with tracer.start_as_current_span("in child"):
            pass
        # Nothing flushes: only a worker thread of the child's own can send it.
        deadline = time.monotonic() + 10
        while processor.queued and time.monotonic() < deadline:
            time.sleep(0.01)
        sent = processor.queued == 0
        processor.shutdown()  # joins the worker, so its send completes
        os._exit(0 if sent else 3)
    _, status = os.waitpid(pid, 0)
    with tracer.start_as_current_span("in parent"):
        pass
    provider.shutdown()
    sys.exit(os.waitstatus_to_exitcode(status))
    """
)


def test_a_forked_child_exports_its_own_spans_once(
    otlp_receiver: OtlpReceiver, clean_env: pytest.MonkeyPatch
) -> None:
    run = subprocess.run(
        [sys.executable, "-c", _FORK_SCRIPT, otlp_receiver.endpoint("http/protobuf")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 0, run.stderr
    names = sorted(span.name for span in otlp_receiver.wait_for(3))
    assert names == ["before fork", "in child", "in parent"], names
