"""natstrace's OTLP exporter over a real OTLP receiver (gRPC and HTTP): what arrives
is what the stock exporter sends, and a failing receiver is handled as the stock
exporter handles it."""

from __future__ import annotations

import logging
import time
from typing import Any

import grpc
import pytest
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (
    OTLPSpanExporter as StockGrpcExporter,
)
from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
    OTLPSpanExporter as StockHttpExporter,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SpanExportResult
from prometheus_client import CollectorRegistry

from natstrace.config import Settings
from natstrace.metrics import NatstraceMetrics
from natstrace.tracing.export.exporter import OtlpSpanExporter
from natstrace.tracing.setup import build_span_processor
from tests.support.otlp_receiver import OtlpReceiver
from tests.support.span_samples import every_kind_of_field

pytestmark = pytest.mark.integration

PROTOCOLS = ["grpc", "http/protobuf"]


def _ours(receiver: OtlpReceiver, protocol: Any, **env: str) -> OtlpSpanExporter:
    return OtlpSpanExporter(protocol, endpoint=receiver.endpoint(protocol))


def _stock(receiver: OtlpReceiver, protocol: str) -> Any:
    if protocol == "grpc":
        return StockGrpcExporter(endpoint=receiver.grpc_endpoint, insecure=True)
    return StockHttpExporter(endpoint=receiver.endpoint(protocol))


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_what_arrives_is_what_the_stock_exporter_sends(
    otlp_receiver: OtlpReceiver, clean_env: pytest.MonkeyPatch, protocol: str
) -> None:
    clean_env.setenv("OTEL_EXPORTER_OTLP_TRACES_HEADERS", "tenant=acme,api-key=s%20ecret")
    clean_env.setenv("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip")
    spans = every_kind_of_field()
    for exporter in (_stock(otlp_receiver, protocol), _ours(otlp_receiver, protocol)):
        assert exporter.export(spans) is SpanExportResult.SUCCESS
        exporter.shutdown()
    stock, ours = otlp_receiver.requests
    assert ours.transport == stock.transport
    assert ours.request.SerializeToString(deterministic=True) == stock.request.SerializeToString(
        deterministic=True
    )
    assert len(ours.request.resource_spans[0].scope_spans[0].spans) == 21
    assert ours.headers["tenant"] == "acme"
    assert ours.headers["api-key"] == "s ecret"
    if protocol != "grpc":
        assert ours.headers["content-encoding"] == "gzip"
        assert ours.headers["content-type"] == "application/x-protobuf"


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_unavailable_is_retried_with_the_collectors_delay(
    otlp_receiver: OtlpReceiver, clean_env: pytest.MonkeyPatch, protocol: str
) -> None:
    otlp_receiver.faults.failures = 2
    otlp_receiver.faults.retry_after = 0.05
    exporter = _ours(otlp_receiver, protocol)
    started = time.monotonic()
    assert exporter.export(every_kind_of_field()) is SpanExportResult.SUCCESS
    assert time.monotonic() - started < 2, "waited the collector's delay, not the default backoff"
    assert otlp_receiver.faults.attempts == 3
    assert len(otlp_receiver.requests) == 1
    assert len(otlp_receiver.spans) == 21


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_without_a_delay_the_backoff_is_the_stock_one(
    otlp_receiver: OtlpReceiver, clean_env: pytest.MonkeyPatch, protocol: str
) -> None:
    otlp_receiver.faults.failures = 1
    exporter = _ours(otlp_receiver, protocol)
    started = time.monotonic()
    assert exporter.export(every_kind_of_field()) is SpanExportResult.SUCCESS
    assert 0.8 <= time.monotonic() - started < 3, "1 s +- 20 % before the second attempt"
    assert otlp_receiver.faults.attempts == 2


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_retries_give_up_at_the_timeout_and_are_counted(
    otlp_receiver: OtlpReceiver,
    clean_env: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    protocol: str,
) -> None:
    clean_env.setenv("OTEL_EXPORTER_OTLP_TIMEOUT", "0.5")
    otlp_receiver.faults.failures = 1000
    otlp_receiver.faults.retry_after = 0.1
    registry = CollectorRegistry()
    metrics = NatstraceMetrics(registry=registry)
    exporter = _ours(otlp_receiver, protocol)
    processor = build_span_processor(Settings(), exporter, metrics.count_spans_dropped)
    spans = every_kind_of_field()
    started = time.monotonic()
    with caplog.at_level(logging.DEBUG):
        for span in spans:
            processor.on_end(span)
        processor.force_flush()
        processor.on_end(spans[0])
        processor.force_flush()
    assert time.monotonic() - started < 3
    # One line for the whole outage: retries and the second failure log at DEBUG.
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1, [r.getMessage() for r in warnings]
    assert warnings[0].exc_info is None
    assert sum("retrying" in r.getMessage() for r in caplog.records) >= 2
    assert 4 <= otlp_receiver.faults.attempts <= 12
    assert otlp_receiver.spans == []
    dropped = registry.get_sample_value(
        "natstrace_spans_dropped_total",
        {"service_name": "unknown_service", "reason": "export_failed"},
    )
    assert dropped == len(spans) + 1
    processor.shutdown()


@pytest.mark.parametrize(
    ("protocol", "code", "status"),
    [("grpc", grpc.StatusCode.INVALID_ARGUMENT, 0), ("http/protobuf", None, 400)],
)
def test_a_permanent_error_is_not_retried(
    otlp_receiver: OtlpReceiver,
    clean_env: pytest.MonkeyPatch,
    protocol: str,
    code: grpc.StatusCode | None,
    status: int,
) -> None:
    otlp_receiver.faults.failures = 1
    if code is not None:
        otlp_receiver.faults.grpc_code = code
    otlp_receiver.faults.http_status = status
    exporter = _ours(otlp_receiver, protocol)
    assert exporter.export(every_kind_of_field()) is SpanExportResult.FAILURE
    assert otlp_receiver.faults.attempts == 1


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_a_partial_success_is_a_success_and_is_logged(
    otlp_receiver: OtlpReceiver,
    clean_env: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    protocol: str,
) -> None:
    otlp_receiver.faults.rejected = 5
    exporter = _ours(otlp_receiver, protocol)
    with caplog.at_level(logging.WARNING, logger="natstrace"):
        assert exporter.export(every_kind_of_field()) is SpanExportResult.SUCCESS
        assert exporter.export(every_kind_of_field()) is SpanExportResult.SUCCESS
    assert otlp_receiver.faults.attempts == 2, "a partial success is not retried"
    assert len(otlp_receiver.requests) == 2
    assert caplog.text.count("rejected 5 of 21 spans: over quota") == 1, "once a minute"


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_an_application_provider_can_use_it_from_the_environment(
    otlp_receiver: OtlpReceiver, clean_env: pytest.MonkeyPatch, protocol: str
) -> None:
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    from natstrace import OtlpSpanExporter as PublicExporter

    base = otlp_receiver.grpc_endpoint if protocol == "grpc" else otlp_receiver.http_endpoint
    clean_env.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", base)
    clean_env.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", protocol)
    provider = TracerProvider(resource=Resource.create({"service.name": "own-provider"}))
    provider.add_span_processor(BatchSpanProcessor(PublicExporter()))
    with provider.get_tracer("app").start_as_current_span("work"):
        pass
    provider.shutdown()
    (span,) = otlp_receiver.wait_for(1)
    assert (span.name, span.service_name) == ("work", "own-provider")
    assert span.transport == ("grpc" if protocol == "grpc" else "http")
