"""The frame every demo service process runs in.

A service module supplies a name and a ``start`` coroutine that subscribes and
may spawn background work; this module does the rest, the same way for all:
arguments, ``natstrace.configure``, an instrumented connection, a ``ready``
line on standard output for the supervisor, and a clean stop on SIGTERM,
SIGINT or, under the supervisor, end of standard input (so a service never
outlives a supervisor that was killed), after which the connection is drained
and the spans are flushed.

Any service can also be run by hand against a running server::

    python -m natstrace.demo.inventory --nats-url nats://localhost:4222
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import signal
import sys
import threading
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from typing import Any

import nats

import natstrace
from natstrace.demo.telemetry import configure_service, trace_target

__all__ = ["ServiceContext", "parse_service_args", "run_service"]

_log = logging.getLogger("natstrace.demo")

DRAIN_TIMEOUT = 3.0
"""Seconds a stopping service gives in-flight handlers to finish."""
SPAN_FLUSH_TIMEOUT = 5.0


def parse_service_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The options the supervisor passes to every service (some are for ``orders`` only)."""
    parser = argparse.ArgumentParser(description="one service of the natstrace demo")
    parser.add_argument("--nats-url", default="nats://localhost:4222")
    parser.add_argument("--run-id", default="demo", help="tag in this run's order IDs")
    parser.add_argument("--trace-file", help="OTLP JSON lines file for spans")
    parser.add_argument(
        "--metrics-port", type=int, help="serve Prometheus metrics here (0: a free port)"
    )
    parser.add_argument("--metrics-addr", default="localhost")
    parser.add_argument("--orders", type=int, default=0, help="orders: how many; 0 unbounded")
    parser.add_argument("--interval", type=float, default=0.1, help="orders: seconds apart")
    parser.add_argument(
        "--stop-on-stdin-eof", action="store_true", help="stop when standard input closes"
    )
    return parser.parse_args(argv)


@dataclass
class ServiceContext:
    """What a service's ``start`` gets: its client, its options, the stop signal."""

    name: str
    nc: natstrace.InstrumentedClient
    options: argparse.Namespace
    stop: asyncio.Event
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    def spawn(self, work: Coroutine[Any, Any, None]) -> None:
        """Run ``work`` in the background; it should return soon after ``stop`` is set."""
        self.tasks.append(asyncio.create_task(work))


Start = Callable[[ServiceContext], Awaitable[None]]


def _watch_stdin(loop: asyncio.AbstractEventLoop, stop: asyncio.Event) -> None:
    # A blocking read on a daemon thread: the supervisor holds the other end of
    # the pipe, so EOF means it closed it or died.
    def wait_for_eof() -> None:
        with contextlib.suppress(OSError, ValueError):
            while sys.stdin.buffer.read(4096):
                pass
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(stop.set)

    threading.Thread(target=wait_for_eof, name="stdin-eof", daemon=True).start()


async def _log_error(exc: Exception) -> None:
    _log.warning("nats: %s: %s", type(exc).__name__, exc)


async def _serve(name: str, start: Start, options: argparse.Namespace, metrics: str) -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    if options.stop_on_stdin_eof:
        _watch_stdin(loop, stop)
    raw = await nats.connect(
        options.nats_url,
        name=f"demo-{name}",
        drain_timeout=int(DRAIN_TIMEOUT),
        error_cb=_log_error,
        max_reconnect_attempts=3,
    )
    context = ServiceContext(name, natstrace.instrument(raw), options, stop)
    try:
        await start(context)
        await raw.flush()
        print(json.dumps({"service": name, "ready": True, "metrics": metrics}), flush=True)
        _log.info("%s ready", name)
        await stop.wait()
        _log.info("%s stopping", name)
        if context.tasks:
            _, pending = await asyncio.wait(context.tasks, timeout=DRAIN_TIMEOUT)
            for task in pending:
                task.cancel()
    finally:
        with contextlib.suppress(Exception):
            await raw.drain()


def run_service(name: str, start: Start, argv: Sequence[str] | None = None) -> int:
    """Run service ``name`` until stopped; returns the process exit status."""
    options = parse_service_args(argv)
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(levelname)s [%(correlation_id)s] %(name)s: %(message)s",
    )
    natstrace.enable_log_correlation()
    target = trace_target(options.trace_file)
    server = configure_service(name, target, options.metrics_port, options.metrics_addr)
    metrics = "" if server is None else f"http://{options.metrics_addr}:{server.address[1]}/metrics"
    try:
        asyncio.run(_serve(name, start, options, metrics))
    finally:
        if server is not None:
            server.shutdown()
        flushed = natstrace.shutdown(SPAN_FLUSH_TIMEOUT)
        _log.info("%s stopped (spans flushed: %s)", name, flushed)
    return 0
