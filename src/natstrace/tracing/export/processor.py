"""Encode each span as it ends; send the encoded spans in batches from a worker thread.

The span processor for :class:`~natstrace.tracing.export.exporter.OtlpSpanExporter`.
The SDK's batch processor keeps every finished span object until the worker thread
encodes a batch of them; this one keeps bytes. Encoding a span when it ends, on the
thread that ends it, costs less CPU in all than encoding it later on the worker:
the span is still in the CPU's caches, it is freed at once instead of waiting in
the queue (fewer long-lived objects for the garbage collector to walk), and the
worker no longer holds the interpreter lock for the milliseconds a batch of 512
spans takes to encode while the event loop waits for it. A queued span takes
a few hundred bytes instead of a span object graph.

The queue has a fixed bound: a span that does not fit is dropped before it is
encoded and counted (``on_dropped("queue_full", 1)``), with one warning per
``log_interval``. A batch the exporter could not deliver is counted as
``export_failed``. Sending, with its retries, happens on the worker thread only:
a collector that is down or slow never holds up the thread that ends a span.
"""

from __future__ import annotations

import logging
import os
import threading
import weakref
from collections import deque
from collections.abc import Callable

from opentelemetry.context import _SUPPRESS_INSTRUMENTATION_KEY, attach, detach, set_value
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor
from opentelemetry.sdk.trace.export import SpanExportResult
from opentelemetry.trace import TraceFlags

from natstrace.tracing.export.encoder import EncodedSpan
from natstrace.tracing.export.exporter import OtlpSpanExporter
from natstrace.tracing.export.queue_full import QueueFull

__all__ = ["EncodingSpanProcessor"]

_log = logging.getLogger(__name__)

_SAMPLED = TraceFlags.SAMPLED


class EncodingSpanProcessor(SpanProcessor):
    """Encodes sampled spans as they end and exports them in batches.

    For an application with its own tracer provider::

        provider.add_span_processor(EncodingSpanProcessor(OtlpSpanExporter("grpc")))

    Args:
        exporter: sends the batches (its encoder encodes the spans).
        max_queue_size: most spans waiting for export (``OTEL_BSP_MAX_QUEUE_SIZE``).
        max_export_batch_size: spans per export; capped at ``max_queue_size``.
        schedule_delay: seconds the worker waits for a full batch before it sends
            what it has (``OTEL_BSP_SCHEDULE_DELAY``).
        on_dropped: called with ``("queue_full", 1)`` for every span that did not
            fit, ``("export_failed", n)`` for a batch not delivered.
        log_interval: seconds between two warnings about a full queue.
    """

    def __init__(
        self,
        exporter: OtlpSpanExporter,
        *,
        max_queue_size: int = 2048,
        max_export_batch_size: int = 512,
        schedule_delay: float = 5.0,
        on_dropped: Callable[[str, int], None] | None = None,
        log_interval: float = 60.0,
    ) -> None:
        self.max_queue_size = max_queue_size
        self._exporter = exporter
        self._encode = exporter.encoder.span
        self._request = exporter.encoder.request
        self._batch_size = min(max_export_batch_size, max_queue_size)
        self._schedule_delay = schedule_delay
        self._on_dropped = on_dropped
        self._full = QueueFull(max_queue_size, on_dropped, log_interval)
        self._shut_down = False
        self._start()
        # A forked child has no worker thread and a copy of the parent's queue (whose
        # spans the parent sends): it starts afresh. Weakly, so that the registration
        # does not keep a discarded processor alive.
        restart = weakref.WeakMethod(self._start)

        def _after_fork_in_child() -> None:
            start = restart()
            if start is not None:
                start()

        os.register_at_fork(after_in_child=_after_fork_in_child)

    def _start(self) -> None:
        self._queue: deque[EncodedSpan] = deque()
        self._wake = threading.Event()
        self._export_lock = threading.Lock()
        self._worker = threading.Thread(
            target=self._work, name="natstrace-span-export", daemon=True
        )
        self._worker.start()

    @property
    def queued(self) -> int:
        """Spans encoded and waiting for export."""
        return len(self._queue)

    @property
    def dropped(self) -> int:
        """Spans dropped here because the queue was full."""
        return self._full.dropped

    # No on_start: the base class's does nothing, and spans start faster when every
    # processor is known to ignore them there.

    def on_end(self, span: ReadableSpan) -> None:
        context = span.context
        # The flag tested as a bit: TraceFlags.sampled is a property building a bool.
        if context is None or not context.trace_flags & _SAMPLED or self._shut_down:
            return
        queue = self._queue
        if len(queue) >= self.max_queue_size:
            self._full.drop()
            return
        try:
            encoded = self._encode(span)
        except Exception:
            _log.exception("natstrace: could not encode a span for OTLP")
            self._count("export_failed", 1)
            return
        queue.append((span.resource, span.instrumentation_scope, encoded))
        if len(queue) >= self._batch_size and not self._wake.is_set():
            self._wake.set()

    def _count(self, reason: str, count: int) -> None:
        if self._on_dropped is not None:
            self._on_dropped(reason, count)

    def _work(self) -> None:
        while not self._shut_down:
            woken = self._wake.wait(self._schedule_delay)
            self._wake.clear()
            if self._shut_down:
                return
            # Woken by a full batch: send full batches; after the delay: everything.
            self._export(everything=not woken)

    def _export(self, everything: bool, timeout: float = -1) -> bool:
        # One export at a time: the worker's, a flush's or the last one at shutdown.
        if not self._export_lock.acquire(timeout=timeout):
            return False
        try:
            queue = self._queue
            while queue and (everything or len(queue) >= self._batch_size):
                batch = [queue.popleft() for _ in range(min(self._batch_size, len(queue)))]
                self._send(batch)
        finally:
            self._export_lock.release()
        return True

    def _send(self, batch: list[EncodedSpan]) -> None:
        # An instrumented HTTP or gRPC client must not trace the export itself.
        token = attach(set_value(_SUPPRESS_INSTRUMENTATION_KEY, True))
        try:
            result = self._exporter.export_encoded(self._request(batch), len(batch))
        except Exception:
            _log.exception("natstrace: span export raised")
            result = SpanExportResult.FAILURE
        finally:
            detach(token)
        if result is not SpanExportResult.SUCCESS:
            self._count("export_failed", len(batch))

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        """Export every span queued now; whether it was done within the timeout."""
        return self._export(everything=True, timeout=timeout_millis / 1000) and not self._queue

    def shutdown(self) -> None:
        """Stop retrying, export what is queued (one attempt), stop the worker."""
        if self._shut_down:
            return
        self._exporter.stop_retrying()
        self._shut_down = True
        self._wake.set()
        self._worker.join()
        self._export(everything=True)
        self._exporter.shutdown()
