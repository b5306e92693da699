"""Zero-code instrumentation: trace every nats-py client without touching the code.

Under ``opentelemetry-instrument`` nothing is needed beyond installing natstrace
with ``opentelemetry-instrumentation``::

    opentelemetry-instrument --service_name orders python app.py

``app.py`` keeps calling ``nats.connect()``; every client it makes then publishes,
requests and handles messages through the same middleware chain as
:func:`natstrace.instrument`. Without the command, instrument in code::

    from natstrace.instrumentor import NatsInstrumentor

    NatsInstrumentor().instrument(tracer_provider=provider)
    nc = await nats.connect("nats://localhost:4222")   # a plain nats-py Client, traced
    ...
    NatsInstrumentor().uninstrument()                   # nats-py exactly as it was

:class:`NatsInstrumentor` needs ``opentelemetry-instrumentation``; it is imported
on first use, so :mod:`natstrace.instrumentor.patch` (which
:func:`natstrace.instrument` consults) works without that package.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from natstrace.instrumentor.nats_instrumentor import NatsInstrumentor

__all__ = ["NatsInstrumentor"]


def __getattr__(name: str) -> Any:
    # Lazy, so that importing the dependency-free patch module from natstrace's core
    # does not require opentelemetry-instrumentation.
    if name == "NatsInstrumentor":
        from natstrace.instrumentor.nats_instrumentor import NatsInstrumentor

        return NatsInstrumentor
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
