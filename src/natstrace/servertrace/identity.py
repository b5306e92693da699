"""Which message a trace event belongs to, and deterministic trace and span IDs.

Every server on a message's path reports separately, so the collector needs a
key that all of them share. Forwarded messages keep their headers, so the key
comes from those: the publisher's ``traceparent`` (its ``send`` span is unique
per publish), refined by ``Nats-Msg-Id`` when present; else ``Nats-Msg-Id``
alone; else the trace destination (unique only if the publisher chose a
per-message destination, as the server's own tooling does).

IDs are hashes of that key and of the server's report, never random, so the
same events processed in any order, or twice, give byte-identical spans.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Final

from natstrace.servertrace.events import TraceEvent

__all__ = ["TraceParent", "message_key", "parse_traceparent", "span_id_for", "trace_id_for"]

# Longer header values are ignored for keying: they would let one hostile
# publisher make every pending-group key expensive to hash and store.
MAX_KEY_PART: Final = 256
_TRACEPARENT = re.compile(r"([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})")


@dataclass(frozen=True, slots=True)
class TraceParent:
    """A valid W3C ``traceparent``: the publisher's span."""

    trace_id: int
    span_id: int
    sampled: bool


def parse_traceparent(value: str | None) -> TraceParent | None:
    """Parse a W3C ``traceparent``; ``None`` if absent or invalid (never raises)."""
    if not value:
        return None
    match = _TRACEPARENT.fullmatch(value.strip().lower()[:MAX_KEY_PART])
    if match is None or match.group(1) == "ff":
        return None
    trace_id, span_id = int(match.group(2), 16), int(match.group(3), 16)
    if trace_id == 0 or span_id == 0:
        return None
    return TraceParent(trace_id, span_id, sampled=bool(int(match.group(4), 16) & 1))


def _bounded(value: str | None) -> str | None:
    return value if value and len(value) <= MAX_KEY_PART else None


def message_key(event: TraceEvent) -> str:
    """The key shared by every server's event for the same published message."""
    parent = parse_traceparent(event.header("traceparent"))
    msg_id = _bounded(event.header("Nats-Msg-Id"))
    if parent is not None:
        key = f"tp:{parent.trace_id:032x}:{parent.span_id:016x}"
        return f"{key}|id:{msg_id}" if msg_id else key
    if msg_id:
        return f"id:{msg_id}"
    return f"dest:{_bounded(event.header('Nats-Trace-Dest')) or ''}"


def _digest(*parts: str) -> bytes:
    # NUL cannot occur in a NATS subject or header, so the join is unambiguous.
    return hashlib.sha256("\0".join(parts).encode()).digest()


def trace_id_for(key: str) -> int:
    """A trace ID for a message that arrived without a ``traceparent``."""
    return int.from_bytes(_digest("trace", key)[:16], "big") or 1


def span_id_for(key: str, server_id: str, hop: str, seq: int, *extra: str) -> int:
    """The span ID of one server's report (``extra`` names a child such as a store)."""
    return int.from_bytes(_digest("span", key, server_id, hop, str(seq), *extra)[:8], "big") or 1
