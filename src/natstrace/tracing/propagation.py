"""Trace context in NATS headers, through the configured OpenTelemetry propagator.

The propagator never knows the carrier; these adapters let
``opentelemetry.propagate.inject/extract`` (and so ``OTEL_PROPAGATORS``, W3C
trace context and baggage) work on nats-py's ``dict[str, str]`` headers.

When the global propagator is OpenTelemetry's default (``tracecontext`` with or
without ``baggage``) and a message carries nothing but a ``traceparent``, the
header is written and read here directly: the generic path costs about 6.5 µs
a message (inject and extract) in lookups and context copies, the direct one
about half of that, with the same result and the same W3C validation.
Any other propagator, a ``tracestate`` or baggage takes the generic path.
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping

from opentelemetry import baggage, propagate, trace
from opentelemetry.baggage.propagation import W3CBaggagePropagator
from opentelemetry.context import Context
from opentelemetry.propagators.composite import CompositePropagator
from opentelemetry.propagators.textmap import Getter, Setter, TextMapPropagator
from opentelemetry.trace import NonRecordingSpan, Span, SpanContext, TraceFlags
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from natstrace.tracing.w3c import is_valid_traceparent, is_valid_tracestate, valid_baggage

__all__ = [
    "NatsHeadersGetter",
    "NatsHeadersSetter",
    "extract",
    "inject",
    "inject_span",
]

_TRACEPARENT = "traceparent"
_TRACESTATE = "tracestate"
_BAGGAGE = "baggage"

_FLAGS = {f"{flags:02x}": TraceFlags(flags) for flags in range(256)}
"""Every ``trace-flags`` field a valid ``traceparent`` can hold, parsed once."""
_FLAGS_TEXT = {flags: text for text, flags in _FLAGS.items()}
_NO_CONTEXT = Context()
"""What the W3C propagator extracts into when given no context: an empty one."""


class NatsHeadersGetter(Getter[Mapping[str, str]]):
    """Reads NATS headers for a propagator.

    NATS header keys are case-sensitive, but clients in other languages
    canonicalise them (Go writes ``Traceparent``): an exact match wins, then a
    case-insensitive one.
    """

    def get(self, carrier: Mapping[str, str], key: str) -> list[str] | None:
        value = carrier.get(key)
        if value is None:
            lowered = key.lower()
            for name, candidate in carrier.items():
                if name.lower() == lowered:
                    value = candidate
                    break
            else:
                return None
        return [value]

    def keys(self, carrier: Mapping[str, str]) -> list[str]:
        return list(carrier)


class NatsHeadersSetter(Setter[MutableMapping[str, str]]):
    """Writes NATS headers for a propagator (one value per key, as NATS allows).

    Trace-context and baggage values the W3C grammars reject are not written
    (baggage loses only its invalid members): a propagator's quirk must not put an
    invalid header on the wire. OpenTelemetry's baggage propagator, for one, reads
    ``+=`` as a key of ``+`` decoded to a space, strips it and writes ``=``.
    """

    def set(self, carrier: MutableMapping[str, str], key: str, value: str) -> None:
        if key == _BAGGAGE:
            checked = valid_baggage(value)
            if checked is None:
                return
            value = checked
        elif (key == _TRACESTATE and not is_valid_tracestate(value)) or (
            key == _TRACEPARENT and not is_valid_traceparent(value)
        ):
            return
        carrier[key] = value


class _ExactGetter(Getter[Mapping[str, str]]):
    """For carriers whose keys are already the propagators' lowercase names."""

    def get(self, carrier: Mapping[str, str], key: str) -> list[str] | None:
        value = carrier.get(key)
        return None if value is None else [value]

    def keys(self, carrier: Mapping[str, str]) -> list[str]:
        return list(carrier)


_GETTER = NatsHeadersGetter()
_EXACT_GETTER = _ExactGetter()
_SETTER = NatsHeadersSetter()


class _Global:
    """Whether the global propagator is OpenTelemetry's W3C default, re-checked
    only when the application installs another one."""

    propagator: TextMapPropagator | None = None
    w3c = False


def _w3c_default() -> bool:
    propagator = propagate.get_global_textmap()
    if propagator is not _Global.propagator:
        # CompositePropagator has no public accessor for its members.
        members = getattr(propagator, "_propagators", None)
        kinds = [type(member) for member in members] if members is not None else []
        _Global.w3c = type(propagator) is CompositePropagator and kinds in (
            [TraceContextTextMapPropagator, W3CBaggagePropagator],
            [TraceContextTextMapPropagator],
        )
        _Global.propagator = propagator
    return _Global.w3c


def inject(headers: MutableMapping[str, str], context: Context | None = None) -> None:
    """Write the trace context of ``context`` (default: current) into ``headers``."""
    propagate.inject(headers, context=context, setter=_SETTER)


def inject_span(headers: MutableMapping[str, str], span: Span) -> None:
    """Write the trace context of ``span``, with the current baggage, into ``headers``."""
    span_context = span.get_span_context()
    flags = _FLAGS_TEXT.get(span_context.trace_flags)
    if (
        flags is not None
        and span_context.is_valid
        and not span_context.trace_state
        and _w3c_default()
        and not baggage.get_all()
    ):
        # The IDs as big-endian bytes in hex: 30% less than formatting the integers.
        headers[_TRACEPARENT] = "-".join(
            (
                "00",
                span_context.trace_id.to_bytes(16, "big").hex(),
                span_context.span_id.to_bytes(8, "big").hex(),
                flags,
            )
        )
        return
    propagate.inject(headers, context=trace.set_span_in_context(span), setter=_SETTER)


def extract(
    headers: Mapping[str, str] | None, context: Context | None = None, *, validated: bool = False
) -> Context:
    """Read a trace context from ``headers``; bad or missing input returns ``context`` as is.

    ``validated=True`` says ``headers`` is the ``trace`` mapping of
    :func:`natstrace.client.headers.read_incoming`: lowercase keys, values
    that passed the W3C checks. That skips the case-insensitive search for absent
    headers and a second check of the ``traceparent``.
    """
    if not headers:
        return context if context is not None else Context()
    if validated and len(headers) == 1 and _w3c_default():
        traceparent = headers.get(_TRACEPARENT)
        if traceparent is not None:
            # Positional, with the flags looked up rather than parsed: this read costs a
            # fifth less. The propagator starts from an empty context, not the current one.
            span_context = SpanContext(
                int(traceparent[3:35], 16),
                int(traceparent[36:52], 16),
                True,
                _FLAGS[traceparent[53:55]],
            )
            return trace.set_span_in_context(
                NonRecordingSpan(span_context), _NO_CONTEXT if context is None else context
            )
    getter = _EXACT_GETTER if validated else _GETTER
    return propagate.extract(headers, context=context, getter=getter)
