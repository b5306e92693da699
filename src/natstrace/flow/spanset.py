"""What a source hands back: the spans, and an account of what it had to skip."""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field

from natstrace.flow.model import Span

__all__ = ["SpanSet"]


@dataclass(slots=True)
class SpanSet:
    """Spans read from one or more sources, de-duplicated by (trace ID, span ID)."""

    spans: list[Span] = field(default_factory=list)
    skipped_lines: int = 0
    """Lines that were not an OTLP JSON request (corrupt, truncated, not JSON, other JSON)."""
    skipped_spans: int = 0
    """Spans inside readable lines that had no valid IDs."""
    first_skipped: list[str] = field(default_factory=list)
    """Where the first few skipped lines were (``file:line``), for the warning."""
    read_at_ns: int = field(default_factory=time.time_ns)
    """When the source was read (Unix nanoseconds)."""
    still_written: bool = False
    """Whether the source may still grow: a trace file a writer holds open, or Jaeger.
    Then the newest sends may still be waiting for their consumers."""

    def add(self, spans: Iterable[Span]) -> None:
        """Append ``spans``; call :meth:`deduplicate` once at the end."""
        self.spans.extend(spans)

    def deduplicate(self) -> None:
        """Drop repeated spans (a file read twice, a trace fetched by search and by ID)."""
        seen: set[tuple[str, str]] = set()
        unique: list[Span] = []
        for span in self.spans:
            key = (span.trace_id, span.span_id)
            if key not in seen:
                seen.add(key)
                unique.append(span)
        self.spans = unique

    def warning(self) -> str | None:
        """One line describing what was skipped, or ``None`` when nothing was."""
        if not self.skipped_lines and not self.skipped_spans:
            return None
        parts = []
        if self.skipped_lines:
            where = ", ".join(self.first_skipped)
            more = " ..." if self.skipped_lines > len(self.first_skipped) else ""
            parts.append(
                f"skipped {self.skipped_lines} line(s) that are not OTLP JSON ({where}{more})"
            )
        if self.skipped_spans:
            parts.append(f"skipped {self.skipped_spans} span(s) without valid IDs")
        return "; ".join(parts)
