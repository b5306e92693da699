"""Process-wide set-up: :func:`configure` at start, :func:`shutdown` at exit."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SpanExporter
from opentelemetry.sdk.trace.sampling import Sampler
from prometheus_client import REGISTRY, CollectorRegistry

from natstrace.config import Settings
from natstrace.metrics.http import MetricsServer, start_http_server
from natstrace.metrics.instruments import NatstraceMetrics
from natstrace.tracing.setup import TracingPipeline, install_tracer_provider

__all__ = ["configure", "current_settings", "default_metrics", "shutdown"]

_log = logging.getLogger(__name__)

DEFAULT_SHUTDOWN_TIMEOUT = 5.0
"""Seconds :func:`shutdown` waits for the last spans to be exported."""


@dataclass
class _State:
    settings: Settings
    tracing: TracingPipeline | None
    metrics_server: MetricsServer | None


_lock = threading.Lock()
_state: _State | None = None
_metrics: NatstraceMetrics | None = None


def _resource_service_name() -> str | None:
    provider = trace.get_tracer_provider()
    if isinstance(provider, TracerProvider):
        name = provider.resource.attributes.get("service.name")
        return str(name) if name else None
    return None


def configure(
    service_name: str | None = None,
    *,
    service_version: str | None = None,
    settings: Settings | None = None,
    sampler: Sampler | None = None,
    span_exporter: SpanExporter | None = None,
    registry: CollectorRegistry = REGISTRY,
    metrics_port: int | None = None,
) -> None:
    """Set up tracing and metrics for this process, from ``OTEL_*`` variables and arguments.

    - Tracing: a tracer provider with a resource (service name, version, a fresh
      ``service.instance.id``), the sampler from ``OTEL_TRACES_SAMPLER``, the OTLP
      exporter (``OTEL_EXPORTER_OTLP_*``) and a batch span processor. If the
      application already installed a tracer provider, it is used as it is.
    - Metrics: natstrace's instruments in ``registry``, labelled with the service
      name; an HTTP endpoint when ``metrics_port`` is given or
      ``OTEL_METRICS_EXPORTER=prometheus`` (host and port from
      ``OTEL_EXPORTER_PROMETHEUS_HOST``/``_PORT``, default ``localhost:9464``).

    Calling it again does nothing (a warning is logged).

    Example::

        natstrace.configure(service_name="orders")

    Raises:
        ValueError: an environment variable has an unusable value (the message names it).
    """
    global _state, _metrics
    with _lock:
        if _state is not None:
            _log.warning("natstrace.configure() called again: keeping the first configuration")
            return
        settings = settings or Settings.from_env()
        if _metrics is None:
            # An application's own tracer provider names the service; else the argument
            # or OTEL_SERVICE_NAME, as the resource will.
            name = _resource_service_name() or service_name or settings.service_name
            _metrics = NatstraceMetrics(registry, service_name=name or "unknown_service")
        tracing = install_tracer_provider(
            settings,
            service_name=service_name,
            service_version=service_version,
            sampler=sampler,
            exporter=span_exporter,
            on_dropped=_metrics.count_spans_dropped,
        )
        server = None
        if metrics_port is not None or "prometheus" in settings.metrics_exporter:
            port = settings.prometheus_port if metrics_port is None else metrics_port
            server = start_http_server(port, settings.prometheus_host, _metrics.registry)
        _state = _State(settings, tracing, server)


def current_settings() -> Settings:
    """The settings :func:`configure` used, or the environment's when it was not called."""
    return _state.settings if _state is not None else Settings.from_env()


def default_metrics() -> NatstraceMetrics:
    """The metrics :func:`natstrace.instrument` records into unless given others."""
    global _metrics
    with _lock:
        if _metrics is None:
            name = _resource_service_name() or Settings.from_env().service_name
            _metrics = NatstraceMetrics(REGISTRY, service_name=name or "unknown_service")
        return _metrics


def shutdown(timeout: float = DEFAULT_SHUTDOWN_TIMEOUT) -> bool:
    """Export the spans still buffered and stop what :func:`configure` started.

    Returns within ``timeout`` seconds even when the collector is down or silent;
    returns whether everything was flushed in time.
    """
    global _state
    with _lock:
        state, _state = _state, None
    if state is None:
        return True
    if state.metrics_server is not None:
        state.metrics_server.shutdown()
    if state.tracing is not None:
        return state.tracing.shutdown(timeout)
    return True
