"""Pick the span source the command line asked for."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from natstrace.flow.errors import SourceError
from natstrace.flow.file_source import read_files
from natstrace.flow.jaeger_source import JaegerClient
from natstrace.flow.spanset import SpanSet
from natstrace.flow.window import TimeWindow

__all__ = ["DEFAULT_TRACE_FILE", "SourceOptions", "load_spans"]

DEFAULT_TRACE_FILE: Final = "natstrace-traces.jsonl"
"""Where the tools look when given neither files nor Jaeger (and where the demo writes)."""


@dataclass(frozen=True, slots=True)
class SourceOptions:
    """Where spans come from: OTLP JSON lines files, or a Jaeger query address."""

    files: Sequence[str | Path] = ()
    jaeger_url: str | None = None
    services: Sequence[str] = ()
    """For Jaeger: the services to search (default: all it knows)."""
    window: TimeWindow = field(default_factory=TimeWindow)
    """For Jaeger, the search window; files are read whole (the analysis applies it)."""
    timeout: float = 10.0


def load_spans(options: SourceOptions) -> SpanSet:
    """Read the spans ``options`` point at.

    Raises:
        SourceError: the source cannot be read.
    """
    if options.jaeger_url:
        if options.files:
            raise SourceError("give trace files or --jaeger, not both")
        return JaegerClient(options.jaeger_url, timeout=options.timeout).read(
            options.window, options.services
        )
    # Files are read in full: a message sent inside the window may be processed
    # after it, and a workflow's linked traces may start before it.
    return read_files(options.files or [DEFAULT_TRACE_FILE])
