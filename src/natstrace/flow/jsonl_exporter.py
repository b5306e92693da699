"""A span exporter that appends OTLP JSON lines to a file.

It writes what the OpenTelemetry Collector's file exporter writes: one
``ExportTraceServiceRequest`` per line, in OTLP/JSON (hex IDs, integer enums,
64-bit numbers as strings). So a file from a local run and a file from a Collector
are read the same way by the flow tools, and by anything else that reads OTLP.
"""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any, cast

from google.protobuf.json_format import MessageToDict  # type: ignore[import-untyped]
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from natstrace.flow.writer_lock import hold_writer_lock, release_writer_lock

__all__ = ["JsonLinesSpanExporter", "spans_to_otlp_json"]

_ID_KEYS = ("traceId", "spanId", "parentSpanId")


def _hex_ids(node: dict[str, Any]) -> None:
    # protobuf's JSON mapping writes bytes as base64; OTLP/JSON says hex. The proto
    # bytes are the IDs, so re-encoding them is exact.
    for key in _ID_KEYS:
        value = node.get(key)
        if isinstance(value, str) and value:
            node[key] = base64.b64decode(value).hex()


def spans_to_otlp_json(spans: Sequence[ReadableSpan]) -> dict[str, Any]:
    """``spans`` as one ``ExportTraceServiceRequest`` in OTLP/JSON, as a dict."""
    message = encode_spans(spans)
    request = cast(
        dict[str, Any],
        MessageToDict(message, use_integers_for_enums=True, preserving_proto_field_name=False),
    )
    for resource_spans in request.get("resourceSpans", ()):
        for scope_spans in resource_spans.get("scopeSpans", ()):
            for span in scope_spans.get("spans", ()):
                _hex_ids(span)
                for link in span.get("links", ()):
                    _hex_ids(link)
    return request


class JsonLinesSpanExporter(SpanExporter):
    """Appends each exported batch to ``path`` as one OTLP JSON line.

    Safe to share between span processors of several tracer providers in one
    process: writes are serialised and each line is flushed whole, so a reader
    never sees half a batch unless the process dies mid-write (and then the flow
    tools skip that one line). From its first write until :meth:`shutdown` it holds
    a shared lock on the file (see :mod:`.writer_lock`), which tells the flow tools
    the file is still being written.

    Example::

        provider.add_span_processor(BatchSpanProcessor(JsonLinesSpanExporter("traces.jsonl")))
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._closed = False
        self._writer_lock: IO[bytes] | None = None

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        """Write ``spans`` as one line; FAILURE if the file cannot be written."""
        if self._closed:
            return SpanExportResult.FAILURE
        if not spans:
            return SpanExportResult.SUCCESS
        line = json.dumps(spans_to_otlp_json(spans), separators=(",", ":")) + "\n"
        try:
            with self._lock:
                if self._writer_lock is None:
                    self._writer_lock = hold_writer_lock(self.path)
                with self.path.open("a", encoding="utf-8") as handle:
                    handle.write(line)
        except OSError:
            return SpanExportResult.FAILURE
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        """Refuse further exports and release the file: readers now see it finished."""
        with self._lock:
            self._closed = True
            release_writer_lock(self._writer_lock)
            self._writer_lock = None

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        """Nothing is buffered here: every export is written before it returns."""
        return True
