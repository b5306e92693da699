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


def _ignore_start(span: Span, parent_context: Context | None = None) -> None:
    """An empty slot's ``on_start``: spans go nowhere."""


def _ignore_end(span: ReadableSpan) -> None:
    """An empty slot's ``on_end``: spans go nowhere."""


class SpanProcessorSlot(SpanProcessor):
    """Hands spans to the processor in it now; without one, spans go nowhere.

    ``on_start`` and ``on_end`` are the processor's own bound methods, set when it is
    put in: every span starts and ends with one call less than through a method
    of the slot that looks up the processor and passes the span on.
    """

    def __init__(self, processor: SpanProcessor | None = None) -> None:
        self._processor: SpanProcessor | None = None
        self.replace(processor)

    @property
    def processor(self) -> SpanProcessor | None:
        """The processor spans go to (``None``: nowhere); put one in with :meth:`replace`."""
        return self._processor

    def replace(self, processor: SpanProcessor | None) -> SpanProcessor | None:
        """Put ``processor`` in; return the one that was there (the caller stops it)."""
        previous, self._processor = self._processor, processor
        # Instance attributes win over the methods below for the SDK's calls. A span
        # started or ended meanwhile in another thread goes to the old processor or
        # the new one, as it did when the methods read the processor on each call.
        if processor is None:
            self.on_start = _ignore_start  # type: ignore[method-assign]
            self.on_end = _ignore_end  # type: ignore[method-assign]
        else:
            self.on_start = processor.on_start  # type: ignore[method-assign]
            self.on_end = processor.on_end  # type: ignore[method-assign]
        return previous

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        # Shadowed per instance by replace(); kept for the SpanProcessor interface.
        processor = self._processor
        if processor is not None:
            processor.on_start(span, parent_context)

    def on_end(self, span: ReadableSpan) -> None:
        # Shadowed per instance by replace(); kept for the SpanProcessor interface.
        processor = self._processor
        if processor is not None:
            processor.on_end(span)

    def shutdown(self) -> None:
        """Take the processor out and stop it (flushing its spans)."""
        processor = self.replace(None)
        if processor is not None:
            processor.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        processor = self._processor
        return processor.force_flush(timeout_millis) if processor is not None else True
