"""Trace context in NATS headers, through the configured OpenTelemetry propagator.

The propagator never knows the carrier; these adapters let
``opentelemetry.propagate.inject/extract`` (and so ``OTEL_PROPAGATORS``, W3C
trace context and baggage) work on nats-py's ``dict[str, str]`` headers.
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping

from opentelemetry import propagate
from opentelemetry.context import Context
from opentelemetry.propagators.textmap import Getter, Setter

__all__ = ["NatsHeadersGetter", "NatsHeadersSetter", "extract", "inject"]


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
    """Writes NATS headers for a propagator (one value per key, as NATS allows)."""

    def set(self, carrier: MutableMapping[str, str], key: str, value: str) -> None:
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


def inject(headers: MutableMapping[str, str], context: Context | None = None) -> None:
    """Write the trace context of ``context`` (default: current) into ``headers``."""
    propagate.inject(headers, context=context, setter=_SETTER)


def extract(
    headers: Mapping[str, str] | None, context: Context | None = None, *, normalized: bool = False
) -> Context:
    """Read a trace context from ``headers``; bad or missing input returns ``context`` as is.

    ``normalized=True`` says the keys are already lowercase (as
    :func:`natstrace.middleware.headers.read_incoming` leaves them), which skips the
    case-insensitive search for absent headers on every message.
    """
    if not headers:
        return context if context is not None else Context()
    getter = _EXACT_GETTER if normalized else _GETTER
    return propagate.extract(headers, context=context, getter=getter)
