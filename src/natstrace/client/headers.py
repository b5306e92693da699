"""The header contract, and the checks that incoming header values must pass.

Headers from the wire are untrusted. :func:`read_incoming` keeps only values
that their specification allows (W3C trace context and baggage limits, the ID
charset of :mod:`natstrace.tracing.correlation`) and names the headers it
dropped, so they can be counted. Nothing here raises on bad input.

Names are matched case-insensitively both ways: :func:`read_incoming` finds a
``Traceparent`` as Go clients write it, and :func:`copy_outgoing` files a
caller's ``correlation-id`` under ``Correlation-Id``, so one message never carries
two spellings of a contract header.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final, NamedTuple

from natstrace.tracing.correlation import is_valid_id
from natstrace.tracing.w3c import is_valid_baggage, is_valid_traceparent, is_valid_tracestate

__all__ = [
    "BAGGAGE",
    "CAUSATION_ID",
    "CONTRACT_HEADERS",
    "CORRELATION_ID",
    "MSG_ID",
    "TRACEPARENT",
    "TRACESTATE",
    "IncomingHeaders",
    "copy_outgoing",
    "read_incoming",
]

TRACEPARENT: Final = "traceparent"
TRACESTATE: Final = "tracestate"
BAGGAGE: Final = "baggage"
MSG_ID: Final = "Nats-Msg-Id"
CORRELATION_ID: Final = "Correlation-Id"
CAUSATION_ID: Final = "Causation-Id"

_CONTRACT_ORDER: Final = (TRACEPARENT, TRACESTATE, BAGGAGE, MSG_ID, CORRELATION_ID, CAUSATION_ID)
CONTRACT_HEADERS: Final = frozenset(_CONTRACT_ORDER)
"""Headers natstrace writes; incoming values of these are never copied onward."""

_TRACE_NAMES: Final[tuple[str, ...]] = (TRACEPARENT, TRACESTATE, BAGGAGE)
_LOWER_TO_CONTRACT: Final = {name.lower(): name for name in CONTRACT_HEADERS}
_CONTRACT_LOWER: Final = frozenset(_LOWER_TO_CONTRACT)
_SPAN_CONTEXT: Final = frozenset({TRACEPARENT, TRACESTATE})


_VALIDATORS: Final = {
    TRACEPARENT: is_valid_traceparent,
    TRACESTATE: is_valid_tracestate,
    BAGGAGE: is_valid_baggage,
    MSG_ID: is_valid_id,
    CORRELATION_ID: is_valid_id,
    CAUSATION_ID: is_valid_id,
}


class IncomingHeaders(NamedTuple):
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
    ``traceparent`` to ``Traceparent``): the exact name wins, then the first
    valid value of another spelling.
    """
    if not headers:
        return _EMPTY
    # What natstrace itself sends: a traceparent and the IDs under their exact names,
    # nothing else. Four lookups decide it, with the result of the general reading.
    get = headers.get
    traceparent = get(TRACEPARENT)
    message_id = get(MSG_ID)
    correlation_id = get(CORRELATION_ID)
    causation_id = get(CAUSATION_ID)
    if (
        (traceparent is not None)
        + (message_id is not None)
        + (correlation_id is not None)
        + (causation_id is not None)
        == len(headers)
        and (message_id is None or (type(message_id) is str and is_valid_id(message_id)))
        and (
            correlation_id is None or (type(correlation_id) is str and is_valid_id(correlation_id))
        )
        and (causation_id is None or (type(causation_id) is str and is_valid_id(causation_id)))
    ):
        if traceparent is None:
            return IncomingHeaders({}, message_id, correlation_id, causation_id, ())
        if type(traceparent) is str and is_valid_traceparent(traceparent):
            return IncomingHeaders(
                {TRACEPARENT: traceparent}, message_id, correlation_id, causation_id, ()
            )
    return _read_any(headers)


def _read_any(headers: Mapping[str, str]) -> IncomingHeaders:
    """:func:`read_incoming` for any headers: other spellings, invalid values, the
    other trace headers."""
    # Exact names first: on every message between natstrace services that is all
    # there is, and six lookups cost less than a pass over every key.
    kept: dict[str, str] = {}
    invalid: list[str] = []
    for name in _CONTRACT_ORDER:
        value = headers.get(name)
        if value is not None:
            if isinstance(value, str) and _VALIDATORS[name](value):
                kept[name] = value
            else:
                invalid.append(name)
    if len(kept) + len(invalid) < len(headers):
        for key, value in headers.items():
            other = _LOWER_TO_CONTRACT.get(key.lower())
            if other is None or other == key or other in kept:
                continue
            if isinstance(value, str) and _VALIDATORS[other](value):
                kept[other] = value
            else:
                invalid.append(other)
    if not kept and not invalid:
        return _EMPTY
    trace: dict[str, str] = {name: kept[name] for name in _TRACE_NAMES if name in kept}
    return IncomingHeaders(
        trace, kept.get(MSG_ID), kept.get(CORRELATION_ID), kept.get(CAUSATION_ID), tuple(invalid)
    )


def copy_outgoing(headers: Mapping[str, str] | None) -> dict[str, str]:
    """natstrace's copy of a caller's headers, with the contract headers under the
    contract's spelling; the caller's mapping is left as it was.

    Names are matched case-insensitively, as on the way in: a caller's
    ``correlation-id`` or ``nats-msg-id`` is honoured as ``Correlation-Id`` or
    ``Nats-Msg-Id``. When a caller gives one of them in two spellings, the
    contract's spelling wins, else the first given; the others are dropped. A
    caller's ``traceparent`` and ``tracestate`` (any spelling) are dropped: a message
    carries the trace context of its send span, and only that one.
    """
    if not headers:
        return {}
    copied = dict(headers)
    # Most callers' headers hold no contract header: one pass in C says so.
    if _CONTRACT_LOWER.isdisjoint(map(str.lower, headers)):
        return copied
    for key in headers:
        name = _LOWER_TO_CONTRACT.get(key.lower())
        if name is None or (key == name and name not in _SPAN_CONTEXT):
            continue
        value = copied.pop(key)
        if name not in _SPAN_CONTEXT:
            copied.setdefault(name, value)
    return copied
