"""Decode OTLP JSON (``ExportTraceServiceRequest``) into :class:`~.model.Span`.

A hand decoder over ``json.loads`` output rather than ``json_format.Parse``: on
100,000 spans it is several times faster (see ``benchmarks/bench_flow.py``), and it
can skip one bad span instead of rejecting the whole request.

OTLP/JSON writes trace and span IDs as hex; protobuf's generic JSON mapping (what
``json_format.MessageToJson`` emits) writes bytes as base64. Both are accepted.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from natstrace.flow import attributes as attr
from natstrace.flow.model import AttributeValue, Span, SpanEvent, SpanKind, SpanLink, StatusCode

__all__ = ["DecodeStats", "decode_id", "decode_request", "decode_value"]

_HEX = frozenset("0123456789abcdefABCDEF")
_UNKNOWN_SERVICE = "unknown_service"


@dataclass(slots=True)
class DecodeStats:
    """What was left out while decoding; sources add these up."""

    skipped_spans: int = 0


def decode_id(value: object, size: int) -> str | None:
    """A ``size``-byte ID as lowercase hex, from hex or base64 text; ``None`` if absent
    or malformed (an all-zero ID means "none" in OTLP, too)."""
    if type(value) is not str or not value:
        return None
    if len(value) == 2 * size and _HEX.issuperset(value):
        hex_id = value.lower()
    else:
        try:
            raw = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            return None
        if len(raw) != size:
            return None
        hex_id = raw.hex()
    return None if hex_id.count("0") == len(hex_id) else hex_id


def decode_value(value: object) -> AttributeValue:
    """An OTLP ``AnyValue`` (``{"stringValue": ...}`` and friends) as a Python value."""
    # ``dict``, not ``Mapping``: json.loads only makes dicts, and the abstract check
    # costs a third of the decoding time on a large file.
    if type(value) is not dict:
        return None
    text = value.get("stringValue")
    if text is not None:
        return text if type(text) is str else str(text)
    if "intValue" in value:
        # int64 travels as a JSON string in OTLP/JSON; some writers use a number.
        try:
            return int(value["intValue"])
        except (TypeError, ValueError):
            return None
    if "boolValue" in value:
        return bool(value["boolValue"])
    if "doubleValue" in value:
        try:
            return float(value["doubleValue"])
        except (TypeError, ValueError):
            return None
    if "arrayValue" in value:
        array = value["arrayValue"]
        items = array.get("values", ()) if type(array) is dict else ()
        return tuple(decode_value(item) for item in items)
    if "kvlistValue" in value:
        kvlist = value["kvlistValue"]
        return _attributes(kvlist.get("values")) if type(kvlist) is dict else {}
    if "bytesValue" in value:
        try:
            return base64.b64decode(str(value["bytesValue"]))
        except (binascii.Error, ValueError):
            return None
    return None


def _attributes(items: object) -> dict[str, AttributeValue]:
    if type(items) is not list:
        return {}
    result: dict[str, AttributeValue] = {}
    for item in items:
        if type(item) is dict:
            key = item.get("key")
            if type(key) is str:
                result[key] = decode_value(item.get("value"))
    return result


def _nanos(value: object) -> int:
    # uint64 is a string in OTLP/JSON; tolerate numbers and garbage (0: unknown).
    if type(value) is str:
        return int(value) if value.isdigit() else 0
    return value if type(value) is int else 0


def _enum(value: object, enum: type[SpanKind] | type[StatusCode], prefix: str) -> Any:
    # OTLP/JSON requires integers; protobuf's JSON mapping may write names.
    if isinstance(value, int):
        try:
            return enum(value)
        except ValueError:
            return enum(0)
    if isinstance(value, str) and value.startswith(prefix):
        return enum.__members__.get(value[len(prefix) :], enum(0))
    return enum(0)


def _span(raw: Mapping[str, Any], service: str) -> Span | None:
    trace_id = decode_id(raw.get("traceId"), 16)
    span_id = decode_id(raw.get("spanId"), 8)
    if trace_id is None or span_id is None:
        return None
    status = raw.get("status")
    status = status if type(status) is dict else {}
    links: list[SpanLink] = []
    for link in raw.get("links") or ():
        if type(link) is not dict:
            continue
        link_trace = decode_id(link.get("traceId"), 16)
        link_span = decode_id(link.get("spanId"), 8)
        if link_trace and link_span:
            links.append(SpanLink(link_trace, link_span, _attributes(link.get("attributes"))))
    events = tuple(
        SpanEvent(
            str(event.get("name", "")),
            _nanos(event.get("timeUnixNano")),
            _attributes(event.get("attributes")),
        )
        for event in raw.get("events") or ()
        if type(event) is dict
    )
    start = _nanos(raw.get("startTimeUnixNano"))
    return Span(
        trace_id=trace_id,
        span_id=span_id,
        parent_span_id=decode_id(raw.get("parentSpanId"), 8),
        name=str(raw.get("name", "")),
        kind=_enum(raw.get("kind"), SpanKind, "SPAN_KIND_"),
        service=service,
        start_ns=start,
        end_ns=_nanos(raw.get("endTimeUnixNano")) or start,
        attributes=_attributes(raw.get("attributes")),
        status=_enum(status.get("code"), StatusCode, "STATUS_CODE_"),
        status_message=str(status.get("message", "")),
        events=events,
        links=tuple(links),
    )


def decode_request(request: Mapping[str, Any], stats: DecodeStats | None = None) -> Iterator[Span]:
    """The spans of one ``ExportTraceServiceRequest`` in OTLP JSON.

    Also accepts Jaeger's envelope ``{"result": {...}}``. Spans without valid IDs
    are skipped and counted in ``stats``.
    """
    stats = stats if stats is not None else DecodeStats()
    result = request.get("result")
    if isinstance(result, Mapping) and "resourceSpans" in result:
        request = result
    for resource_spans in request.get("resourceSpans") or ():
        if not isinstance(resource_spans, Mapping):
            continue
        resource = resource_spans.get("resource")
        resource_attrs = (
            _attributes(resource.get("attributes")) if isinstance(resource, Mapping) else {}
        )
        service = resource_attrs.get(attr.SERVICE_NAME)
        service_name = service if isinstance(service, str) and service else _UNKNOWN_SERVICE
        # "instrumentationLibrarySpans": the name before OTLP 0.15, still in old files.
        scopes = resource_spans.get("scopeSpans") or resource_spans.get(
            "instrumentationLibrarySpans"
        )
        for scope_spans in scopes or ():
            if not isinstance(scope_spans, Mapping):
                continue
            for raw in scope_spans.get("spans") or ():
                span = _span(raw, service_name) if type(raw) is dict else None
                if span is None:
                    stats.skipped_spans += 1
                else:
                    yield span
