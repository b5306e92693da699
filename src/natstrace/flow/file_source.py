"""Read spans from OTLP JSON lines files (the Collector's file exporter format).

One ``ExportTraceServiceRequest`` per line. A line that is not readable JSON (a
crash mid-write, a disk hiccup), or JSON that is not an OTLP request (no
``resourceSpans``: some other log), is skipped and counted; the rest of the file is
still used.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any, TypeGuard

from natstrace.flow.bulk import paused_gc
from natstrace.flow.errors import SourceError
from natstrace.flow.otlp_json import DecodeStats, decode_request
from natstrace.flow.spanset import SpanSet
from natstrace.flow.window import TimeWindow
from natstrace.flow.writer_lock import being_written

__all__ = ["read_files"]

_REPORTED_SKIPS = 3


def read_files(paths: Iterable[str | Path], window: TimeWindow | None = None) -> SpanSet:
    """Read every span from the OTLP JSON lines ``paths``, keeping those that start
    inside ``window``.

    Raises:
        SourceError: a file is missing or unreadable, or no line of any file was
            readable at all.
    """
    with paused_gc():
        return _read(list(map(Path, paths)), window)


def _is_otlp_request(request: object) -> TypeGuard[dict[str, Any]]:
    # An empty request is still OTLP ({} or "resourceSpans": []); any other object
    # without resourceSpans is a different kind of log, not zero spans.
    return isinstance(request, dict) and (not request or "resourceSpans" in request)


def _read(paths: list[Path], window: TimeWindow | None) -> SpanSet:
    # A file a writer still holds may grow: note it before reading, so what is read
    # is at least as complete as that answer says.
    result = SpanSet(still_written=any(being_written(path) for path in paths))
    stats = DecodeStats()
    lines_seen = 0
    for path in paths:
        try:
            handle = path.open("rb")
        except OSError as exc:
            raise SourceError(f"cannot read {path}: {exc.strerror or exc}") from None
        with handle:
            for number, line in enumerate(handle, 1):
                if not line.strip():
                    continue
                lines_seen += 1
                try:
                    request = json.loads(line)
                except (ValueError, UnicodeDecodeError):
                    request = None
                if not _is_otlp_request(request):
                    result.skipped_lines += 1
                    if len(result.first_skipped) < _REPORTED_SKIPS:
                        result.first_skipped.append(f"{path}:{number}")
                    continue
                spans = decode_request(request, stats)
                if window is None:
                    result.add(spans)
                else:
                    result.add(span for span in spans if window.contains(span.start_ns))
    result.skipped_spans = stats.skipped_spans
    if lines_seen and result.skipped_lines == lines_seen:
        raise SourceError(
            f"no readable OTLP JSON line in {', '.join(map(str, paths))} "
            f"({lines_seen} line(s) skipped: not JSON, or JSON without resourceSpans)"
        )
    result.deduplicate()
    return result
