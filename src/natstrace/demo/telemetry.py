"""Tracing and metrics for one demo service process.

Where spans go: the OTLP JSON lines file (the embedded default, what
``natstrace flow`` reads) unless ``OTEL_EXPORTER_OTLP_ENDPOINT`` is set; then
OTLP, plus the file only when one was asked for explicitly.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

import natstrace
from natstrace.config import Settings
from natstrace.flow import DEFAULT_TRACE_FILE, JsonLinesSpanExporter
from natstrace.metrics import MetricsServer, start_http_server

__all__ = ["TraceTarget", "configure_service", "trace_target"]


@dataclasses.dataclass(frozen=True, slots=True)
class TraceTarget:
    """Where a run's spans go."""

    file: Path | None
    otlp_endpoint: str | None


def trace_target(trace_file: str | None, settings: Settings | None = None) -> TraceTarget:
    """The file and/or OTLP endpoint for ``trace_file`` (``None``: not given) and the env."""
    endpoint = (settings or Settings.from_env()).otlp_endpoint
    if trace_file:
        return TraceTarget(Path(trace_file), endpoint)
    return TraceTarget(None if endpoint else Path(DEFAULT_TRACE_FILE), endpoint)


def configure_service(
    name: str, target: TraceTarget, metrics_port: int | None, metrics_addr: str
) -> MetricsServer | None:
    """``natstrace.configure`` for service ``name``: its own ``service.name``, spans
    to ``target``, and its own metrics endpoint when ``metrics_port`` is given
    (``0``: a free port, bound here, so no other process can take it between
    choosing and binding; the returned server knows which)."""
    settings = dataclasses.replace(Settings.from_env(), prometheus_host=metrics_addr)
    if metrics_port is not None:
        # Served below, on that port: not a second time where OTEL_METRICS_EXPORTER says.
        settings = dataclasses.replace(settings, metrics_exporter=())
    to_file = target.file is not None and target.otlp_endpoint is None
    exporter = JsonLinesSpanExporter(target.file) if to_file and target.file else None
    natstrace.configure(service_name=name, settings=settings, span_exporter=exporter)
    if target.file is not None and target.otlp_endpoint is not None:
        # Both asked for: configure() built the OTLP pipeline; the file is a second one.
        provider = trace.get_tracer_provider()
        if isinstance(provider, TracerProvider):
            provider.add_span_processor(BatchSpanProcessor(JsonLinesSpanExporter(target.file)))
    if metrics_port is None:
        return None
    return start_http_server(metrics_port, metrics_addr)
