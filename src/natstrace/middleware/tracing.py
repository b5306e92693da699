"""The tracing middleware of the publish chain (``send``/``request`` spans), and the
helpers every natstrace span shares: marking a failure, filtering baggage.

Names and attributes come from :mod:`natstrace.middleware.spans`; a handled
message's ``process`` span is its delivery's (:mod:`natstrace.middleware.delivery`).
"""

from __future__ import annotations

from opentelemetry import baggage
from opentelemetry import context as otel_context
from opentelemetry.trace import Span, SpanKind, Status, StatusCode, Tracer

from natstrace.middleware.contract import OutgoingMessage, PublishApp
from natstrace.middleware.spans import ServerAddress, SpanShapes
from natstrace.tracing import propagation
from natstrace.tracing import semconv as sc
from natstrace.tracing.semconv import error_type

__all__ = ["PublishTracing", "allowed_baggage", "record_error"]


def record_error(span: Span, exc: BaseException) -> None:
    """Mark ``span`` failed by ``exc``: status ERROR, ``error.type``, the exception event."""
    if span.is_recording():
        span.set_attribute(sc.ERROR_TYPE, error_type(exc))
        span.record_exception(exc)
        span.set_status(Status(StatusCode.ERROR, type(exc).__qualname__))


def allowed_baggage(
    context: otel_context.Context, allowlist: frozenset[str]
) -> otel_context.Context:
    """A fresh context holding only the baggage entries of ``context`` named in ``allowlist``.

    Everything else a propagator extracted (other baggage, vendor context) stays behind.
    """
    allowed = otel_context.Context()
    if allowlist:
        for key, value in baggage.get_all(context).items():
            if key in allowlist:
                allowed = baggage.set_baggage(key, value, allowed)
    return allowed


class PublishTracing:
    """Opens the producer span of a publish (``send``, PRODUCER) or request
    (``request``, CLIENT), injects its context into the headers, and ends it when
    nats-py returns (for a request: when the reply arrived)."""

    def __init__(self, app: PublishApp, *, tracer: Tracer, server: ServerAddress) -> None:
        self.app = app
        self.tracer = tracer
        self._shapes = SpanShapes(server)

    async def __call__(self, message: OutgoingMessage) -> object:
        operation = message.operation
        kind = SpanKind.CLIENT if operation == sc.REQUEST else SpanKind.PRODUCER
        shapes = self._shapes
        if shapes.drops(self.tracer):
            span = shapes.starter(self.tracer).start_unrecorded(
                shapes.name(operation, message.template), None, kind
            )
        else:
            name, attributes = shapes.for_message(
                operation, message.template, "", message.subject, len(message.payload), message
            )
            span = shapes.starter(self.tracer).start(name, attributes, kind=kind)
        message.span = span
        propagation.inject_span(message.headers, span)
        try:
            return await self.app(message)
        except BaseException as exc:
            record_error(span, exc)
            raise
        finally:
            span.end()
