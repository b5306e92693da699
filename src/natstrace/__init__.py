"""natstrace: make event-driven systems on NATS debuggable.

Wrap a nats-py client once; every publish, request and handled message then
carries W3C trace context and correlation IDs, gets an OpenTelemetry span, and
is counted in Prometheus metrics whose exemplars point at the trace::

    import nats, natstrace

    natstrace.configure(service_name="orders")
    nc = natstrace.instrument(await nats.connect("nats://localhost:4222"))
    await nc.publish("orders.created", b"{}")

    async def handle(msg):
        natstrace.current_correlation()   # this message's workflow
        await nc.publish("payments.requested", b"{}")   # same workflow, same trace

    await nc.subscribe("orders.*", queue="payments", cb=handle)

See README for the configuration and the header, span and metric reference.
"""

from natstrace.client.instrument import instrument
from natstrace.client.instrumented import InstrumentedClient
from natstrace.client.subscription import InstrumentedSubscription
from natstrace.config import ConsumerSpanPolicy, Settings
from natstrace.lifecycle import configure, shutdown
from natstrace.middleware.contract import (
    HandleApp,
    HandleMiddleware,
    IncomingMessage,
    OutgoingMessage,
    PublishApp,
    PublishMiddleware,
)
from natstrace.tracing.correlation import Correlation, InvalidIdError, correlation_scope
from natstrace.tracing.correlation import current as current_correlation
from natstrace.tracing.export import EncodingSpanProcessor, OtlpSpanExporter
from natstrace.tracing.log_correlation import TraceContextFilter, enable_log_correlation

__all__ = [
    "ConsumerSpanPolicy",
    "Correlation",
    "EncodingSpanProcessor",
    "HandleApp",
    "HandleMiddleware",
    "IncomingMessage",
    "InstrumentedClient",
    "InstrumentedSubscription",
    "InvalidIdError",
    "OtlpSpanExporter",
    "OutgoingMessage",
    "PublishApp",
    "PublishMiddleware",
    "Settings",
    "TraceContextFilter",
    "configure",
    "correlation_scope",
    "current_correlation",
    "enable_log_correlation",
    "instrument",
    "shutdown",
]
