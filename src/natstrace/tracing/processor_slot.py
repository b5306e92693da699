"""A span processor whose processor can be replaced: configure, shut down, configure again.

OpenTelemetry allows one global tracer provider per process, and a processor
added to a provider cannot be taken out. The provider :func:`natstrace.configure`
installs holds a :class:`SpanProcessorSlot`: :func:`natstrace.shutdown` takes the
exporting processor out and stops it, and a later ``configure()`` puts a new one
in, so a process (a test suite, say) can configure again after shutting down.
"""

from __future__ import annotations

from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor

__all__ = ["SpanProcessorSlot"]


class SpanProcessorSlot(SpanProcessor):
    """Hands spans to the processor in it now; without one, spans go nowhere."""

    def __init__(self, processor: SpanProcessor | None = None) -> None:
        self.processor = processor

    def replace(self, processor: SpanProcessor | None) -> SpanProcessor | None:
        """Put ``processor`` in; return the one that was there (the caller stops it)."""
        previous, self.processor = self.processor, processor
        return previous

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        processor = self.processor
        if processor is not None:
            processor.on_start(span, parent_context)

    def on_end(self, span: ReadableSpan) -> None:
        processor = self.processor
        if processor is not None:
            processor.on_end(span)

    def shutdown(self) -> None:
        """Take the processor out and stop it (flushing its spans)."""
        processor = self.replace(None)
        if processor is not None:
            processor.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        processor = self.processor
        return processor.force_flush(timeout_millis) if processor is not None else True
