"""``NatsInstrumentor``: natstrace as an OpenTelemetry instrumentation.

Registered under the ``opentelemetry_instrumentor`` entry point as ``nats``, so
``opentelemetry-instrument`` loads it (``OTEL_PYTHON_DISABLED_INSTRUMENTATIONS=nats``
turns it off).
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any, Final

# The module is marked "type: ignore" upstream, so mypy sees no names in it.
from opentelemetry.instrumentation.instrumentor import (  # type: ignore[attr-defined]
    BaseInstrumentor,
)

from natstrace.client.instrument import INSTRUMENT_OPTIONS
from natstrace.client.instrument import instrument as instrument_client
from natstrace.client.instrumented import InstrumentedClient
from natstrace.instrumentor import patch
from natstrace.instrumentor.raw import RawClient

__all__ = ["NatsInstrumentor"]

INSTRUMENTS: Final = ("nats-py >= 2.9, < 3",)


class NatsInstrumentor(BaseInstrumentor):  # type: ignore[misc]
    """Traces every nats-py client of the process, through natstrace's middleware chain.

    ``instrument(**options)`` takes the keyword arguments of
    :func:`natstrace.instrument`, all of them (``tracer_provider``, ``metrics``,
    ``consumer_span_policy``, ``subject_templates``, ``trust``,
    ``baggage_allowlist``, ...); without them the global
    tracer provider, the default metrics and the ``NATSTRACE_*`` settings are used,
    which is what ``opentelemetry-instrument`` does. Calling ``instrument()`` or
    ``uninstrument()`` twice is harmless; ``uninstrument()`` puts nats-py's own
    functions back.

    Example::

        NatsInstrumentor().instrument(consumer_span_policy="link")
        nc = await nats.connect(url)          # still a nats.aio.client.Client
        await nc.publish("orders.created", b"{}")   # traced, with contract headers
        NatsInstrumentor().uninstrument()

    A client passed to :func:`natstrace.instrument` is traced by that wrapper only.
    """

    def instrumentation_dependencies(self) -> Collection[str]:
        """The nats-py versions this instruments."""
        return INSTRUMENTS

    def _instrument(self, **kwargs: Any) -> None:
        unknown = set(kwargs) - INSTRUMENT_OPTIONS
        if unknown:
            raise TypeError(f"NatsInstrumentor.instrument(): unknown options {sorted(unknown)}")
        options = dict(kwargs)

        def factory(raw: RawClient) -> InstrumentedClient:
            return instrument_client(raw, **options)  # type: ignore[arg-type]

        patch.install(factory)

    def _uninstrument(self, **kwargs: Any) -> None:
        patch.uninstall()
