"""Put ``trace_id``, ``span_id`` and ``correlation_id`` on stdlib log records.

One line at start-up::

    natstrace.enable_log_correlation()
    logging.basicConfig(format="%(levelname)s [%(trace_id)s %(correlation_id)s] %(message)s")

or, for chosen handlers only, ``handler.addFilter(natstrace.TraceContextFilter())``.
Fields are ``""`` outside a span or correlation, so formats never fail.
"""

from __future__ import annotations

import logging
from typing import Any

from opentelemetry import trace

from natstrace.tracing import correlation

__all__ = ["TraceContextFilter", "enable_log_correlation"]


def _annotate(record: logging.LogRecord) -> None:
    span_context = trace.get_current_span().get_span_context()
    if span_context.is_valid:
        record.trace_id = format(span_context.trace_id, "032x")
        record.span_id = format(span_context.span_id, "016x")
    else:
        record.trace_id = record.span_id = ""
    current = correlation.current()
    record.correlation_id = (current.correlation_id if current else None) or ""


class TraceContextFilter(logging.Filter):
    """A logging filter that adds the trace and correlation fields and keeps every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        _annotate(record)
        return True


_installed = False


def enable_log_correlation() -> None:
    """Add the fields to every log record made from now on (safe to call twice)."""
    global _installed
    if _installed:
        return
    _installed = True
    previous = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        _annotate(record)
        return record

    logging.setLogRecordFactory(factory)
