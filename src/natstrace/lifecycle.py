"""Process-wide set-up: :func:`configure` at start, :func:`shutdown` at exit."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

from opentelemetry import trace
from opentelemetry.sdk.resources import SERVICE_NAME, SERVICE_VERSION
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SpanExporter
from opentelemetry.sdk.trace.sampling import Sampler
from prometheus_client import REGISTRY, CollectorRegistry

from natstrace.config import Settings
from natstrace.metrics.http import MetricsServer, start_http_server
from natstrace.metrics.instruments import NatstraceMetrics
from natstrace.tracing.processor_slot import SpanProcessorSlot
from natstrace.tracing.setup import (
    InstalledTracing,
    build_span_exporter,
    build_span_processor,
    install_tracer_provider,
)

__all__ = ["configure", "current_settings", "default_metrics", "shutdown"]

_log = logging.getLogger(__name__)

DEFAULT_SHUTDOWN_TIMEOUT = 5.0
"""Seconds :func:`shutdown` waits for the last spans to be exported."""


@dataclass
class _State:
    settings: Settings
    tracing: InstalledTracing | None
    metrics_server: MetricsServer | None


_lock = threading.Lock()
_state: _State | None = None
_metrics: NatstraceMetrics | None = None
_metrics_configured = False
"""Whether ``_metrics`` is configure()'s (else default_metrics() made it, unlabelled)."""
# The tracing natstrace installed, kept across shutdown(): OpenTelemetry allows one
# global tracer provider per process, so configure() after shutdown() reuses it.
_installed: InstalledTracing | None = None


def _resource_attribute(name: str) -> str | None:
    provider = trace.get_tracer_provider()
    if isinstance(provider, TracerProvider):
        value = provider.resource.attributes.get(name)
        return str(value) if value else None
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

    Clients instrumented before it record into what it sets up. Calling it again
    does nothing (a warning is logged); after :func:`shutdown` it configures
    again: a new exporter and registry, on the tracer provider of the first call
    (OpenTelemetry allows one per process), so the service name, version and
    sampler stay those of the first call.

    Example::

        natstrace.configure(service_name="orders")

    Raises:
        ValueError: an environment variable has an unusable value (the message names
            it), or after :func:`shutdown`, a service name, version or sampler other
            than the first call's.
    """
    global _state, _metrics, _metrics_configured, _installed
    with _lock:
        if _state is not None:
            _log.warning("natstrace.configure() called again: keeping the first configuration")
            return
        settings = settings or Settings.from_env()
        if _installed is not None:
            _check_same_provider(_installed, service_name, service_version, sampler)
        # An application's own tracer provider names the service; else the argument
        # or OTEL_SERVICE_NAME, as the resource will.
        name = _resource_attribute(SERVICE_NAME) or service_name or settings.service_name
        name = name or "unknown_service"
        if _metrics is None:
            _metrics = NatstraceMetrics(registry, service_name=name)
        elif _metrics.registry is not registry or _metrics.service_name != name:
            # Clients instrumented before this call record into these. What an earlier
            # configure() recorded stays in its registry; what was recorded before any
            # configure() (as unknown_service, in the default registry) does not.
            _metrics.rebind(registry, name, keep=_metrics_configured)
        _metrics_configured = True
        if _installed is None:
            tracing = _installed = install_tracer_provider(
                settings,
                service_name=service_name,
                service_version=service_version,
                sampler=sampler,
                exporter=span_exporter,
                on_dropped=_metrics.count_spans_dropped,
            )
        else:
            tracing = _restart(_installed, settings, span_exporter, _metrics)
        server = None
        if metrics_port is not None or "prometheus" in settings.metrics_exporter:
            port = settings.prometheus_port if metrics_port is None else metrics_port
            server = start_http_server(port, settings.prometheus_host, _metrics.registry)
        _state = _State(settings, tracing, server)


def _check_same_provider(
    installed: InstalledTracing,
    service_name: str | None,
    service_version: str | None,
    sampler: Sampler | None,
) -> None:
    """Refuse what the tracer provider of the first configure() cannot change."""
    resource = installed.provider.resource.attributes
    for argument, given, key in (
        ("service_name", service_name, SERVICE_NAME),
        ("service_version", service_version, SERVICE_VERSION),
    ):
        first = resource.get(key)
        if given is not None and given != first:
            raise ValueError(
                f"natstrace.configure({argument}={given!r}): this process traces as "
                f"{first!r} since its first configure() (OpenTelemetry allows one tracer "
                f"provider per process); pass {argument}={first!r} or leave it out"
            )
    if sampler is not None and sampler is not installed.provider.sampler:
        raise ValueError(
            "natstrace.configure(sampler=...): the sampler of the first configure() stays "
            "for the process (OpenTelemetry allows one tracer provider per process); "
            "leave sampler out"
        )


def _restart(
    installed: InstalledTracing,
    settings: Settings,
    span_exporter: SpanExporter | None,
    metrics: NatstraceMetrics,
) -> InstalledTracing | None:
    """Export again, after shutdown(), from the tracer provider natstrace installed."""
    slot = installed.processor
    if not isinstance(slot, SpanProcessorSlot):
        return None
    exporter = span_exporter if span_exporter is not None else build_span_exporter(settings)
    if exporter is not None:
        slot.replace(build_span_processor(settings, exporter, metrics.count_spans_dropped))
    return installed


def current_settings() -> Settings:
    """The settings :func:`configure` used, or the environment's when it was not called."""
    return _state.settings if _state is not None else Settings.from_env()


def default_metrics() -> NatstraceMetrics:
    """The metrics :func:`natstrace.instrument` records into unless given others."""
    global _metrics
    with _lock:
        if _metrics is None:
            name = _resource_attribute(SERVICE_NAME) or Settings.from_env().service_name
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
