"""Exemplars that lead to a trace the collector keeps.

The collector samples traces at the tail (collector-config/otelcol.yaml keeps
errors, slow traces, redeliveries and a share of the rest), so an exemplar taken
from just any sampled trace usually names one that Jaeger never receives. When a
series takes a new exemplar, natstrace marks the current span of that trace with
``natstrace.exemplar = true``; the collector's ``keep-exemplars`` policy keeps every
trace so marked. A trace natstrace cannot mark (no recording span of it is current
when the metric is recorded: a publish made outside any handler, a JetStream fetch)
gives no exemplar. An exemplar is held for :data:`HOLD_SECONDS` before a newer
trace may replace it, which bounds the traces kept this way to one per series and
bucket per hold period.
"""

from __future__ import annotations

from typing import Final

from opentelemetry import trace
from opentelemetry.trace import Span

__all__ = ["EXEMPLAR_ATTRIBUTE", "HOLD_SECONDS", "mark_exemplar_trace"]

EXEMPLAR_ATTRIBUTE: Final = "natstrace.exemplar"
"""Span attribute that tells the collector's tail sampling to keep the trace."""

HOLD_SECONDS: Final = 30.0
"""Seconds a marked exemplar stays before a newer trace may take its place."""


def mark_exemplar_trace(trace_id: int, span: Span | None = None) -> bool:
    """Mark the current span (or ``span``, when the caller knows the span that would
    be current) if it is a recording span of trace ``trace_id``.

    Returns whether it was marked: False when no recording span of that trace is
    current, and the trace then gives no exemplar.
    """
    if span is None:
        span = trace.get_current_span()
    if span.get_span_context().trace_id != trace_id or not span.is_recording():
        return False
    span.set_attribute(EXEMPLAR_ATTRIBUTE, True)
    return True
