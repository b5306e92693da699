"""Decode, parse and validate a trace event payload (plain JSON or gzip).

The payload is untrusted input: anything that does not have the expected shape
raises :class:`InvalidTraceEventError`, whose ``reason`` is a short, bounded
label a collector can count by. Unknown step types are skipped so that a newer
server does not break an older collector.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Mapping
from typing import Any, Final

from natstrace.servertrace.events import (
    Egress,
    Ingress,
    JetStreamStore,
    ServerInfo,
    ServiceImport,
    StreamExport,
    SubjectMapping,
    TraceEvent,
    TraceStep,
)
from natstrace.servertrace.timestamps import parse_rfc3339_ns

__all__ = ["INVALID_REASONS", "MAX_EVENT_BYTES", "InvalidTraceEventError", "parse_trace_event"]

# Large enough for an event with thousands of egresses, small enough that a
# gzip bomb on the trace subject cannot exhaust the collector's memory.
MAX_EVENT_BYTES: Final = 4 * 1024 * 1024
MAX_STEPS: Final = 10_000
INVALID_REASONS: Final = ("too_large", "encoding", "json", "schema")


class InvalidTraceEventError(ValueError):
    """A trace event payload that cannot be used; ``reason`` is in :data:`INVALID_REASONS`."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason


def parse_trace_event(
    payload: bytes, headers: Mapping[str, str] | None = None, *, max_bytes: int = MAX_EVENT_BYTES
) -> TraceEvent:
    """Decode (gzip or plain), parse and validate one trace event.

    Raises:
        InvalidTraceEventError: the payload is too large, badly encoded, not JSON,
            or not shaped like a trace event.
    """
    data = _decode(payload, headers or {}, max_bytes)
    try:
        document = json.loads(data)
    except (UnicodeDecodeError, ValueError) as exc:
        raise InvalidTraceEventError("json", str(exc)[:200]) from None
    try:
        return _build(document)
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidTraceEventError("schema", str(exc)[:200]) from None


def _decode(payload: bytes, headers: Mapping[str, str], max_bytes: int) -> bytes:
    encoding = next((v for k, v in headers.items() if k.lower() == "content-encoding"), "")
    gzipped = payload[:2] == b"\x1f\x8b"
    if encoding and encoding.lower() != "gzip":
        raise InvalidTraceEventError("encoding", f"unsupported Content-Encoding {encoding[:20]!r}")
    if not gzipped:
        if encoding:
            raise InvalidTraceEventError("encoding", "Content-Encoding gzip without gzip data")
        if len(payload) > max_bytes:
            raise InvalidTraceEventError("too_large", f"{len(payload)} bytes")
        return payload
    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    try:
        data = inflater.decompress(payload, max_bytes + 1)
    except zlib.error as exc:
        raise InvalidTraceEventError("encoding", f"bad gzip data: {exc}") from None
    if len(data) > max_bytes:
        raise InvalidTraceEventError("too_large", f"more than {max_bytes} bytes inflated")
    if not inflater.eof:
        raise InvalidTraceEventError("encoding", "truncated gzip data")
    return data


def _field(obj: Mapping[str, Any], key: str, kind: type, default: Any = None) -> Any:
    value = obj.get(key, default)
    if value is None and default is None:
        raise ValueError(f"missing {key!r}")
    # bool is an int subclass: a JSON true must not pass as a number.
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise TypeError(f"{key!r} is {type(value).__name__}, expected {kind.__name__}")
    return value


def _str(obj: Mapping[str, Any], key: str, default: str | None = "") -> str:
    value: str = _field(obj, key, str, default)
    return value


def _int(obj: Mapping[str, Any], key: str, default: int | None = 0) -> int:
    value: int = _field(obj, key, int, default)
    return value


def _error(obj: Mapping[str, Any]) -> str | None:
    return _str(obj, "error") or None


def _build(document: Any) -> TraceEvent:
    if not isinstance(document, dict):
        raise TypeError("event is not an object")
    server = _field(document, "server", dict)
    request = _field(document, "request", dict, {})
    raw_steps = _field(document, "events", list)
    if not raw_steps or len(raw_steps) > MAX_STEPS:
        raise ValueError(f"{len(raw_steps)} steps")
    steps = tuple(step for step in (_step(raw) for raw in raw_steps) if step is not None)
    if not steps or not isinstance(steps[0], Ingress):
        raise ValueError("the first step is not an ingress")
    if any(isinstance(step, Ingress) for step in steps[1:]):
        raise ValueError("more than one ingress")
    return TraceEvent(
        server=ServerInfo(
            id=_str(server, "id", None),
            name=_str(server, "name"),
            host=_str(server, "host"),
            cluster=_str(server, "cluster") or None,
            version=_str(server, "ver"),
            seq=_int(server, "seq"),
            time_ns=parse_rfc3339_ns(_str(server, "time", None)),
        ),
        headers=_headers(_field(request, "header", dict, {})),
        msg_size=_int(request, "msgsize"),
        hops=_int(document, "hops"),
        steps=steps,
    )


def _headers(raw: Mapping[str, Any]) -> dict[str, tuple[str, ...]]:
    headers: dict[str, tuple[str, ...]] = {}
    for key, values in raw.items():
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            raise TypeError(f"header {key[:40]!r} is not a list of strings")
        headers[key] = tuple(values)
    return headers


def _step(raw: Any) -> TraceStep | None:
    if not isinstance(raw, dict):
        raise TypeError("step is not an object")
    kind, ts = _str(raw, "type", None), parse_rfc3339_ns(_str(raw, "ts", None))
    if kind == "in":
        return Ingress(
            ts_ns=ts,
            kind=_int(raw, "kind"),
            cid=_int(raw, "cid"),
            name=_str(raw, "name"),
            account=_str(raw, "acc"),
            subject=_str(raw, "subj", None),
            error=_error(raw),
        )
    if kind == "sm":
        return SubjectMapping(ts_ns=ts, to=_str(raw, "to"))
    if kind == "se":
        return StreamExport(ts_ns=ts, account=_str(raw, "acc"), to=_str(raw, "to"))
    if kind == "si":
        return ServiceImport(
            ts_ns=ts, account=_str(raw, "acc"), from_subject=_str(raw, "from"), to=_str(raw, "to")
        )
    if kind == "js":
        return JetStreamStore(
            ts_ns=ts,
            stream=_str(raw, "stream"),
            subject=_str(raw, "subject"),
            no_interest=bool(_field(raw, "nointerest", bool, False)),
            error=_error(raw),
        )
    if kind == "eg":
        return Egress(
            ts_ns=ts,
            kind=_int(raw, "kind"),
            cid=_int(raw, "cid"),
            name=_str(raw, "name"),
            hop=_str(raw, "hop"),
            account=_str(raw, "acc"),
            subscription=_str(raw, "sub"),
            queue=_str(raw, "queue"),
            error=_error(raw),
        )
    return None
