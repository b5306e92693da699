"""Tracing middlewares: the ``send``/``request`` and ``process`` spans.

Span names use the subject template; the concrete subject is the
``messaging.destination.name`` attribute. Attributes are passed when the span
starts (one allocation, and the sampler can see them); nothing more is set on
spans that are not recording. The name and the attributes that every span of one
operation on one template shares are built once (templates are bounded).
"""

from __future__ import annotations

from collections.abc import Callable

from opentelemetry import baggage, trace
from opentelemetry import context as otel_context
from opentelemetry.trace import Link, Span, SpanKind, Status, StatusCode, Tracer

from natstrace.config import ConsumerSpanPolicy
from natstrace.middleware.types import HandleApp, IncomingMessage, OutgoingMessage, PublishApp
from natstrace.tracing import propagation
from natstrace.tracing import semconv as sc
from natstrace.tracing.semconv import error_type, span_name

__all__ = [
    "HandleTracing",
    "PublishTracing",
    "add_server_attributes",
    "allowed_baggage",
    "record_error",
]

ServerAddress = Callable[[], tuple[str | None, int | None]]
"""Returns the host and port of the server the client is connected to right now."""


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


def add_server_attributes(
    attributes: dict[str, object], server: tuple[str | None, int | None]
) -> None:
    """Add ``server.address`` and ``server.port`` (from ``ServerAddress()``), when known."""
    host, port = server
    if host:
        attributes[sc.SERVER_ADDRESS] = host
    if port:
        attributes[sc.SERVER_PORT] = port


class _SpanShapes:
    """Span name and shared attributes per (operation, template, queue group),
    rebuilt when the client reconnects to another server."""

    def __init__(self, server: ServerAddress) -> None:
        self._server = server
        self._shapes: dict[
            tuple[str, str, str],
            tuple[tuple[str | None, int | None], str, dict[str, object]],
        ] = {}

    def get(self, operation: str, template: str, group: str = "") -> tuple[str, dict[str, object]]:
        """The span name, and a fresh copy of the shared attributes to add to."""
        server = self._server()
        key = (operation, template, group)
        shape = self._shapes.get(key)
        if shape is None or shape[0] is not server:
            attributes: dict[str, object] = {
                sc.MESSAGING_SYSTEM: sc.NATS,
                sc.MESSAGING_OPERATION_NAME: operation,
                sc.MESSAGING_OPERATION_TYPE: sc.OPERATION_TYPES[operation],
                sc.MESSAGING_DESTINATION_TEMPLATE: template,
            }
            if group:
                attributes[sc.MESSAGING_CONSUMER_GROUP_NAME] = group
            add_server_attributes(attributes, server)
            shape = (server, span_name(operation, template), attributes)
            self._shapes[key] = shape
        return shape[1], dict(shape[2])


class PublishTracing:
    """Opens the producer span of a publish (``send``, PRODUCER) or request
    (``request``, CLIENT), injects its context into the headers, and ends it when
    nats-py returns (for a request: when the reply arrived)."""

    def __init__(self, app: PublishApp, *, tracer: Tracer, server: ServerAddress) -> None:
        self.app = app
        self.tracer = tracer
        self._shapes = _SpanShapes(server)

    async def __call__(self, message: OutgoingMessage) -> object:
        operation = message.operation
        name, attributes = self._shapes.get(operation, message.template)
        attributes[sc.MESSAGING_DESTINATION_NAME] = message.subject
        attributes[sc.MESSAGING_MESSAGE_ID] = message.message_id
        attributes[sc.MESSAGING_MESSAGE_CONVERSATION_ID] = message.correlation_id
        attributes[sc.MESSAGING_MESSAGE_BODY_SIZE] = len(message.payload)
        if message.causation_id:
            attributes[sc.NATSTRACE_CAUSATION_ID] = message.causation_id
        span = self.tracer.start_span(
            name,
            kind=SpanKind.CLIENT if operation == sc.REQUEST else SpanKind.PRODUCER,
            attributes=attributes,  # type: ignore[arg-type]
        )
        message.span = span
        propagation.inject_span(message.headers, span)
        try:
            return await self.app(message)
        except GeneratorExit:
            # A parked chain being closed (see parking.py): not a failure of the message.
            raise
        except BaseException as exc:
            record_error(span, exc)
            raise
        finally:
            span.end()


class HandleTracing:
    """Opens the ``process`` span (CONSUMER) of a handled message and makes it current
    for the handler, so that publishes made while handling continue the trace.

    ``policy`` decides how the span refers to the producer: ``parent`` (same trace),
    ``link`` (a new trace linked to the producer) or ``auto`` (parent on the first
    delivery, link on redeliveries).

    A message from an untrusted subscription (``message.trusted`` false) always
    starts a new trace linked to the producer, whatever the policy: the sampler
    decides afresh, so a publisher's sampled flag cannot force this service to
    record and export every message; and only baggage keys in
    ``baggage_allowlist`` reach the handler (and its publishes).
    """

    def __init__(
        self,
        app: HandleApp,
        *,
        tracer: Tracer,
        policy: ConsumerSpanPolicy,
        server: ServerAddress,
        baggage_allowlist: frozenset[str] = frozenset(),
    ) -> None:
        self.app = app
        self.tracer = tracer
        self.policy = policy
        self.baggage_allowlist = baggage_allowlist
        self._shapes = _SpanShapes(server)

    async def __call__(self, message: IncomingMessage) -> None:
        incoming = message.trace_context
        if incoming is None:
            incoming = propagation.extract(message.trace_headers, validated=True)
        as_parent = message.trusted and (
            self.policy == "parent" or (self.policy == "auto" and message.delivery_count <= 1)
        )
        links = None
        if not as_parent:
            # Only a new trace needs the producer's span context: it is linked to it.
            producer = trace.get_current_span(incoming).get_span_context()
            if producer.is_valid:
                links = [Link(producer)]
        if not message.trusted:
            incoming = allowed_baggage(incoming, self.baggage_allowlist)
        msg = message.msg
        name, attributes = self._shapes.get(sc.PROCESS, message.template, message.queue)
        attributes[sc.MESSAGING_DESTINATION_NAME] = msg.subject
        attributes[sc.MESSAGING_MESSAGE_BODY_SIZE] = len(msg.data)
        if message.message_id:
            attributes[sc.MESSAGING_MESSAGE_ID] = message.message_id
        if message.correlation_id:
            attributes[sc.MESSAGING_MESSAGE_CONVERSATION_ID] = message.correlation_id
        if message.causation_id:
            attributes[sc.NATSTRACE_CAUSATION_ID] = message.causation_id
        if message.attributes:
            attributes.update(message.attributes)
        span = self.tracer.start_span(
            name,
            # Linking starts a new trace: an empty parent context, not the ambient one.
            context=incoming if as_parent else otel_context.Context(),
            kind=SpanKind.CONSUMER,
            attributes=attributes,  # type: ignore[arg-type]
            links=links,
        )
        message.span = span
        # Baggage from the producer stays visible to the handler in both policies
        # (on an untrusted subscription, only the allowlisted keys).
        token = otel_context.attach(trace.set_span_in_context(span, incoming))
        try:
            await self.app(message)
        except GeneratorExit:
            # A parked chain being closed (see parking.py): not a failure of the message.
            raise
        except BaseException as exc:
            record_error(span, exc)
            raise
        finally:
            otel_context.detach(token)
            span.end()
