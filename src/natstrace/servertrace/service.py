"""Run a server-trace collector as a process: connect, collect, stop on signal."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Callable
from typing import Final

import nats
from opentelemetry.sdk.trace.export import ConsoleSpanExporter, SpanExporter
from prometheus_client import CollectorRegistry, start_http_server

from natstrace.servertrace.collector import CollectorStats, ServerTraceCollector

__all__ = ["EXPORTERS", "build_exporter", "serve"]


def _otlp() -> SpanExporter:
    # Imported lazily: the gRPC stack is heavy and the console exporter needs none of it.
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

    return OTLPSpanExporter()


EXPORTERS: Final[dict[str, Callable[[], SpanExporter]]] = {
    "otlp": _otlp,
    "console": ConsoleSpanExporter,
}


def build_exporter(name: str) -> SpanExporter:
    """An exporter by name: ``otlp`` (configured by ``OTEL_EXPORTER_OTLP_*``) or ``console``."""
    try:
        return EXPORTERS[name]()
    except KeyError:
        raise ValueError(f"unknown exporter {name!r}; choose from {sorted(EXPORTERS)}") from None


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
    if metrics_port is not None:
        start_http_server(metrics_port, addr="127.0.0.1", registry=registry)
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
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.remove_signal_handler(sig)
    return collector.stats()
