"""The server-trace collector: NATS subscription in, OpenTelemetry spans out.

It subscribes to the trace destination, parses each event (bad ones are
counted and skipped), groups them per message, and exports the spans of every
released message through the given ``SpanExporter``. Exporters block (OTLP
does network I/O), so exports run in a worker thread, one batch at a time.

Run one collector per trace destination: a queue group would split one
message's events between collectors, and neither could complete it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import asdict, dataclass
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from prometheus_client import CollectorRegistry

from natstrace.servertrace.assembler import AssembledMessage, TraceAssembler
from natstrace.servertrace.metrics import ServerTraceMetrics
from natstrace.servertrace.parsing import MAX_EVENT_BYTES, InvalidTraceEventError, parse_trace_event
from natstrace.servertrace.spans import build_spans
from natstrace.servertrace.subjects import SubjectTemplate, default_subject_template

__all__ = ["CollectorStats", "ServerTraceCollector"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class CollectorStats:
    """A snapshot of the collector's counters."""

    events_received: int
    events_invalid: int
    events_duplicate: int
    events_conflicting: int
    events_late: int
    events_overflow: int
    messages_complete: int
    messages_timed_out: int
    messages_evicted: int
    messages_pending: int
    spans_exported: int
    export_failures: int
    internal_errors: int


class ServerTraceCollector:
    """Listens on ``subject`` for trace events and exports server-hop spans.

    Args:
        nc: a connected ``nats.aio.client.Client``.
        subject: the trace destination (may be a wildcard such as ``traces.>``).
        exporter: where spans go; the caller owns it (it is not shut down here).
        registry: Prometheus registry for this collector's metrics (a fresh one if omitted).
        subject_template: maps a subject to a bounded name for span names and labels.
        timeout: seconds to wait for a message's missing hops before exporting anyway.
        max_pending: open messages held at most; the oldest is exported early beyond it.
        sweep_interval: how often timed-out messages are released and spans exported.
    """

    def __init__(
        self,
        nc: Any,
        subject: str,
        exporter: SpanExporter,
        *,
        registry: CollectorRegistry | None = None,
        subject_template: SubjectTemplate = default_subject_template,
        timeout: float = 5.0,
        max_pending: int = 10_000,
        sweep_interval: float = 0.25,
        max_event_bytes: int = MAX_EVENT_BYTES,
    ) -> None:
        self.nc = nc
        self.subject = subject
        self.exporter = exporter
        self.metrics = ServerTraceMetrics(registry or CollectorRegistry())
        self.subject_template = subject_template
        self.sweep_interval = sweep_interval
        self.max_event_bytes = max_event_bytes
        self.assembler = TraceAssembler(timeout=timeout, max_pending=max_pending)
        self._ready: list[ReadableSpan] = []
        self._export_lock = asyncio.Lock()
        self._subscription: Any = None
        self._task: asyncio.Task[None] | None = None
        self._invalid = 0
        self._spans_exported = 0
        self._export_failures = 0
        self._internal_errors = 0

    async def start(self) -> None:
        """Subscribe and start the background sweeper (safe to call twice)."""
        if self._subscription is not None:
            return
        self._subscription = await self.nc.subscribe(self.subject, cb=self._on_message)
        await self.nc.flush()
        self._task = asyncio.create_task(self._sweep_forever(), name="natstrace-servertrace")

    async def stop(self) -> None:
        """Unsubscribe, then export every message still open, complete or not."""
        subscription, self._subscription = self._subscription, None
        if subscription is not None:
            with contextlib.suppress(Exception):
                await subscription.unsubscribe()
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._take(self.assembler.flush())
        await self.export_ready()

    def feed(self, payload: bytes, headers: dict[str, str] | None = None) -> None:
        """Process one raw trace event (what the subscription does for each message)."""
        try:
            event = parse_trace_event(payload, headers, max_bytes=self.max_event_bytes)
        except InvalidTraceEventError as exc:
            self._invalid += 1
            self.metrics.invalid_events.labels(reason=exc.reason).inc()
            logger.debug("skipped a trace event: %s", exc)
            return
        self._take(self.assembler.add(event))

    async def sweep(self) -> None:
        """Release timed-out messages and export all spans that are ready."""
        self._take(self.assembler.expire())
        await self.export_ready()

    async def export_ready(self) -> None:
        """Export the spans built so far (one export at a time)."""
        async with self._export_lock:
            batch, self._ready = self._ready, []
            if not batch:
                return
            try:
                result = await asyncio.to_thread(self.exporter.export, batch)
            except Exception:
                logger.exception("span export failed")
                result = SpanExportResult.FAILURE
            if result is SpanExportResult.SUCCESS:
                self._spans_exported += len(batch)
            else:
                self._export_failures += 1

    def stats(self) -> CollectorStats:
        """The current counters."""
        grouping = asdict(self.assembler.stats)
        return CollectorStats(
            events_received=grouping["events"] + self._invalid,
            events_invalid=self._invalid,
            events_duplicate=grouping["duplicates"],
            events_conflicting=grouping["conflicts"],
            events_late=grouping["late"],
            events_overflow=grouping["overflow"],
            messages_complete=grouping["completed"],
            messages_timed_out=grouping["timed_out"],
            messages_evicted=grouping["evicted"],
            messages_pending=self.assembler.pending,
            spans_exported=self._spans_exported,
            export_failures=self._export_failures,
            internal_errors=self._internal_errors,
        )

    async def _on_message(self, msg: Any) -> None:
        try:
            self.feed(msg.data, msg.headers)
        except Exception:
            # A bug here must not kill the subscription: count it and go on.
            self._internal_errors += 1
            logger.exception("server trace event handling failed")

    def _take(self, released: list[AssembledMessage]) -> None:
        for message in released:
            try:
                built = build_spans(message, self.subject_template)
            except Exception:
                self._internal_errors += 1
                logger.exception("building server spans failed")
                continue
            self._ready.extend(built.spans)
            self.metrics.messages.labels(complete=str(message.complete).lower()).inc()
            if built.no_interest:
                self.metrics.no_interest.labels(
                    service_name=built.publisher, messaging_destination_name=built.destination
                ).inc()

    async def _sweep_forever(self) -> None:
        while True:
            await asyncio.sleep(self.sweep_interval)
            try:
                await self.sweep()
            except Exception:
                self._internal_errors += 1
                logger.exception("server trace sweep failed")
