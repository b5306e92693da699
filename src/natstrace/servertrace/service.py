"""Run a server-trace collector as a process: connect, collect, stop on signal."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from dataclasses import replace
from typing import Final

import nats
from opentelemetry.sdk.trace.export import SpanExporter
from prometheus_client import CollectorRegistry

from natstrace.config import Settings
from natstrace.metrics.http import MetricsServer, start_http_server
from natstrace.servertrace.collector import CollectorStats, ServerTraceCollector
from natstrace.tracing.setup import build_span_exporter

__all__ = ["EXPORTERS", "build_exporter", "serve"]


EXPORTERS: Final = ("otlp", "console")


def build_exporter(name: str) -> SpanExporter:
    """An exporter by name: ``otlp`` (configured by the ``OTEL_EXPORTER_OTLP_*``
    variables, as for :func:`natstrace.configure`) or ``console``."""
    if name not in EXPORTERS:
        raise ValueError(f"unknown exporter {name!r}; choose from {', '.join(EXPORTERS)}")
    exporter = build_span_exporter(replace(Settings.from_env(), traces_exporter=name))
    assert exporter is not None  # only "none" builds none
    return exporter


async def serve(
    url: str,
    subject: str,
    exporter: SpanExporter,
    *,
    timeout: float = 5.0,
    max_pending: int = 10_000,
    metrics_port: int | None = None,
    duration: float | None = None,
    stop: asyncio.Event | None = None,
) -> CollectorStats:
    """Collect until SIGINT/SIGTERM, ``stop`` is set, or ``duration`` seconds pass.

    Exports what is still open, shuts the exporter down and returns the final counters.
    """
    stop = stop or asyncio.Event()
    registry = CollectorRegistry()
    metrics_server: MetricsServer | None = None
    if metrics_port is not None:
        metrics_server = start_http_server(metrics_port, "127.0.0.1", registry)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    nc = await nats.connect(url, name="natstrace-server-trace")
    collector = ServerTraceCollector(
        nc, subject, exporter, registry=registry, timeout=timeout, max_pending=max_pending
    )
    try:
        await collector.start()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=duration)
    finally:
        await collector.stop()
        await nc.drain()
        exporter.shutdown()
        if metrics_server is not None:
            metrics_server.shutdown()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.remove_signal_handler(sig)
    return collector.stats()
