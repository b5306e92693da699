"""What a valid W3C Trace Context and Baggage header value is.

The grammars and size limits of ``traceparent``, ``tracestate`` and ``baggage``:
incoming values are checked against them (:mod:`natstrace.client.headers`),
and so are the values a propagator writes (:mod:`natstrace.tracing.propagation`),
so nothing invalid reaches the wire in either direction.
"""

from __future__ import annotations

import re

__all__ = ["is_valid_baggage", "is_valid_traceparent", "is_valid_tracestate", "valid_baggage"]

# Version 00 is exactly 55 characters; a later version may append fields after a
# dash. Version ff and all-zero IDs are invalid.
_TRACEPARENT = re.compile(
    r"(?!ff)[0-9a-f]{2}-(?!0{32})[0-9a-f]{32}-(?!0{16})[0-9a-f]{16}-[0-9a-f]{2}"
)
_TRACEPARENT_MAX = 256
# At most 32 list members; 512 characters is what every vendor must pass on.
_TRACESTATE_MAX = 512
_TRACESTATE_MEMBERS = 32
# At most 8192 bytes and 180 members in all.
_BAGGAGE_MAX = 8192
_BAGGAGE_MEMBERS = 180

# One list member of each (OWS around members; empty tracestate members are
# allowed). A value that passes here is one a propagator can parse.
_TS_CHARS = r"[a-z0-9_\-*/]"
_TS_KEY = rf"(?:[a-z]{_TS_CHARS}{{0,255}}|[a-z0-9]{_TS_CHARS}{{0,240}}@[a-z]{_TS_CHARS}{{0,13}})"
_TS_VALUE = r"[\x20-\x2b\x2d-\x3c\x3e-\x7e]{0,255}[\x21-\x2b\x2d-\x3c\x3e-\x7e]"
_TRACESTATE_MEMBER = re.compile(rf"[ \t]*(?:{_TS_KEY}={_TS_VALUE})?[ \t]*")
_TOKEN = r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+"
_BAGGAGE_VALUE = r"[\x21\x23-\x2b\x2d-\x3a\x3c-\x5b\x5d-\x7e]*"
_BAGGAGE_PROPERTY = rf"{_TOKEN}(?:[ \t]*=[ \t]*{_BAGGAGE_VALUE})?"
_BAGGAGE_MEMBER = re.compile(
    rf"[ \t]*{_TOKEN}[ \t]*=[ \t]*{_BAGGAGE_VALUE}(?:[ \t]*;[ \t]*{_BAGGAGE_PROPERTY})*[ \t]*"
)


def is_valid_traceparent(value: str) -> bool:
    """Whether ``value`` is a ``traceparent`` the W3C Trace Context grammar accepts."""
    if len(value) > _TRACEPARENT_MAX or not _TRACEPARENT.match(value):
        return False
    # Version 00 has no trailing fields; later versions may have more after a dash.
    return len(value) == 55 or (value[:2] != "00" and value[55:56] == "-")


def _valid_list(value: str, max_length: int, max_members: int, member: re.Pattern[str]) -> bool:
    if len(value) > max_length or value.count(",") >= max_members:
        return False
    return all(member.fullmatch(part) is not None for part in value.split(","))


def is_valid_tracestate(value: str) -> bool:
    """Whether ``value`` is a ``tracestate`` within the W3C grammar and limits."""
    return _valid_list(value, _TRACESTATE_MAX, _TRACESTATE_MEMBERS, _TRACESTATE_MEMBER)


def is_valid_baggage(value: str) -> bool:
    """Whether ``value`` is a ``baggage`` header within the W3C grammar and limits.

    Every member must name an entry: an empty member makes the header invalid.
    """
    return _valid_list(value, _BAGGAGE_MAX, _BAGGAGE_MEMBERS, _BAGGAGE_MEMBER)


def valid_baggage(value: str) -> str | None:
    """``value`` without the members the W3C grammar rejects; ``None`` if none is left
    or the header is over the size limits."""
    if is_valid_baggage(value):
        return value
    kept = [part for part in value.split(",") if _BAGGAGE_MEMBER.fullmatch(part)]
    joined = ",".join(kept)
    return joined if kept and is_valid_baggage(joined) else None
