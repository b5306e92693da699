"""The header contract, and the checks that incoming header values must pass.

Headers from the wire are untrusted. :func:`read_incoming` keeps only values
that their specification allows (W3C trace context and baggage limits, the ID
charset of :mod:`natstrace.tracing.correlation`) and names the headers it
dropped, so they can be counted. Nothing here raises on bad input.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

from natstrace.tracing.correlation import is_valid_id

__all__ = [
    "BAGGAGE",
    "CAUSATION_ID",
    "CONTRACT_HEADERS",
    "CORRELATION_ID",
    "MSG_ID",
    "TRACEPARENT",
    "TRACESTATE",
    "IncomingHeaders",
    "read_incoming",
]

TRACEPARENT: Final = "traceparent"
TRACESTATE: Final = "tracestate"
BAGGAGE: Final = "baggage"
MSG_ID: Final = "Nats-Msg-Id"
CORRELATION_ID: Final = "Correlation-Id"
CAUSATION_ID: Final = "Causation-Id"

CONTRACT_HEADERS: Final = frozenset(
    {TRACEPARENT, TRACESTATE, BAGGAGE, MSG_ID, CORRELATION_ID, CAUSATION_ID}
)
"""Headers natstrace writes; incoming values of these are never copied onward."""

# W3C Trace Context: version 00 is exactly 55 characters; a later version may append
# fields after a dash. Version ff and all-zero IDs are invalid.
_TRACEPARENT = re.compile(
    r"(?!ff)[0-9a-f]{2}-(?!0{32})[0-9a-f]{32}-(?!0{16})[0-9a-f]{16}-[0-9a-f]{2}"
)
_TRACEPARENT_MAX = 256
# W3C: at most 32 list members; 512 characters is what every vendor must pass on.
_TRACESTATE_MAX = 512
_TRACESTATE_MEMBERS = 32
# W3C Baggage: at most 8192 bytes and 180 members in all.
_BAGGAGE_MAX = 8192
_BAGGAGE_MEMBERS = 180

# One list member of each, by the W3C grammars (OWS around members; empty
# tracestate members are allowed). A value that passes here is one the propagator
# can parse; anything else is dropped whole, never half-copied.
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

_TRACE_NAMES: Final = frozenset({TRACEPARENT, TRACESTATE, BAGGAGE})
_CONTRACT_NAMES: Final = {name: name for name in CONTRACT_HEADERS}
_LOWER_TO_CONTRACT: Final = {name.lower(): name for name in CONTRACT_HEADERS}


def _valid_traceparent(value: str) -> bool:
    if len(value) > _TRACEPARENT_MAX or not _TRACEPARENT.match(value):
        return False
    # Version 00 has no trailing fields; later versions may have more after a dash.
    return len(value) == 55 or (value[:2] != "00" and value[55:56] == "-")


def _valid_list(value: str, max_length: int, max_members: int, member: re.Pattern[str]) -> bool:
    if len(value) > max_length or value.count(",") >= max_members:
        return False
    return all(member.fullmatch(part) is not None for part in value.split(","))


def _valid_tracestate(value: str) -> bool:
    return _valid_list(value, _TRACESTATE_MAX, _TRACESTATE_MEMBERS, _TRACESTATE_MEMBER)


def _valid_baggage(value: str) -> bool:
    # A baggage header must name at least one entry; an empty member is not one.
    return _valid_list(value, _BAGGAGE_MAX, _BAGGAGE_MEMBERS, _BAGGAGE_MEMBER)


_VALIDATORS: Final = {
    TRACEPARENT: _valid_traceparent,
    TRACESTATE: _valid_tracestate,
    BAGGAGE: _valid_baggage,
    MSG_ID: is_valid_id,
    CORRELATION_ID: is_valid_id,
    CAUSATION_ID: is_valid_id,
}


@dataclass(frozen=True, slots=True)
class IncomingHeaders:
    """The contract headers of one incoming message, after validation."""

    trace: Mapping[str, str]
    """Valid trace-context and baggage headers under their lowercase names."""
    message_id: str | None
    correlation_id: str | None
    causation_id: str | None
    invalid: tuple[str, ...]
    """Names of contract headers whose values were dropped."""


_EMPTY = IncomingHeaders(MappingProxyType({}), None, None, None, ())


def read_incoming(headers: Mapping[str, str] | None) -> IncomingHeaders:
    """Pick the contract headers out of ``headers`` and validate them.

    Header names are matched case-insensitively (other clients canonicalise
    ``traceparent`` to ``Traceparent``); the first valid value of a name wins.
    """
    if not headers:
        return _EMPTY
    # One pass on every message: trace headers go straight into the mapping handed
    # to the propagator, the three IDs into ``found``.
    trace: dict[str, str] = {}
    found: dict[str, str] = {}
    invalid: list[str] = []
    for key, value in headers.items():
        # Exact names are the common case; lower() only for other spellings.
        name = _CONTRACT_NAMES.get(key) or _LOWER_TO_CONTRACT.get(key.lower())
        if name is None:
            continue
        kept = trace if name in _TRACE_NAMES else found
        if name in kept:
            continue
        if isinstance(value, str) and _VALIDATORS[name](value):
            kept[name] = value
        else:
            invalid.append(name)
    if not trace and not found and not invalid:
        return _EMPTY
    return IncomingHeaders(
        trace=trace,
        message_id=found.get(MSG_ID),
        correlation_id=found.get(CORRELATION_ID),
        causation_id=found.get(CAUSATION_ID),
        invalid=tuple(invalid) if invalid else (),
    )
