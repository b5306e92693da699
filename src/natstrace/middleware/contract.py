"""The types of the middleware protocol: the two message envelopes and the callables.

A middleware is any callable that takes the next app in the chain and returns an
app; a class with ``__init__(self, app, **options)`` and ``async __call__(self,
message)`` is the usual shape (when ``await self.app(message)`` returns or raises,
for callbacks, pulled messages, failures and cancellation: ``docs/middleware.md``)::

    class StampTenant:
        def __init__(self, app: PublishApp, tenant: str) -> None:
            self.app, self.tenant = app, tenant

        async def __call__(self, message: OutgoingMessage) -> object:
            message.headers["Tenant"] = self.tenant
            return await self.app(message)

    nc = natstrace.instrument(raw, publish_middleware=[partial(StampTenant, tenant="acme")])
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from opentelemetry.trace import INVALID_SPAN, Span

if TYPE_CHECKING:
    from nats.aio.msg import Msg

__all__ = [
    "HandleApp",
    "HandleMiddleware",
    "IncomingMessage",
    "OutgoingMessage",
    "PublishApp",
    "PublishMiddleware",
    "build_chain",
]


@dataclass(slots=True)
class OutgoingMessage:
    """A message on its way out (``publish`` or ``request``).

    ``headers`` is natstrace's own copy of the caller's headers: middlewares may
    write to it. The correlation middleware fills the IDs; the tracing
    middleware sets ``span`` (the producer span) before calling the next app.
    Options of one call travel here too, for the innermost app that sends.
    """

    subject: str
    payload: bytes
    reply: str
    headers: dict[str, str]
    operation: str
    """``send`` or ``request`` (``messaging.operation.name``)."""
    template: str
    """The subject template used in span names and metric labels."""
    timeout: float = 0.5
    """Reply timeout, for ``request`` only."""
    message_id: str = ""
    correlation_id: str = ""
    causation_id: str | None = None
    span: Span = INVALID_SPAN
    wait_stall: float | None = None
    """JetStream ``publish_async`` only: nats-py's ``wait_stall``."""
    sent: asyncio.Future[bool] | None = None
    """JetStream ``publish_async`` only: set to ``True`` by the innermost app once
    nats-py has sent the message, when the caller's call returns."""
    carried_trace: Mapping[str, str] | None = None
    """Trace headers to send instead of the send span's (the outbox relay: the
    context of the code that wrote the event); the send span links to them."""


@dataclass(slots=True)
class IncomingMessage:
    """A message being handled: nats-py's ``Msg`` plus what natstrace read from it.

    Only header values that passed validation are here; ``invalid_headers`` names
    the ones that were dropped.
    """

    msg: Msg
    template: str
    """The subscription's subject template."""
    queue: str
    """The queue group, or ``""``."""
    trace_headers: Mapping[str, str]
    """Valid ``traceparent``/``tracestate``/``baggage`` values, for the propagator."""
    message_id: str | None = None
    """The ``Nats-Msg-Id``, or the identity given at receipt to a message without one."""
    correlation_id: str | None = None
    causation_id: str | None = None
    invalid_headers: tuple[str, ...] = ()
    delivery_count: int = 1
    """How often the message was delivered (JetStream); 1 for core NATS."""
    trusted: bool = True
    """``False`` on a ``trust="untrusted"`` subscription: the producer's trace context
    and baggage did not steer this handling (a new trace, linked; allowlisted baggage)."""
    span: Span = INVALID_SPAN
    attributes: dict[str, object] | None = None
    """More attributes of the ``process`` span (JetStream's stream, consumer,
    sequences), given when it started."""


PublishApp = Callable[[OutgoingMessage], Awaitable[Any]]
"""Sends an outgoing message; returns what nats-py returned (the reply for ``request``)."""

HandleApp = Callable[[IncomingMessage], Awaitable[None]]
"""Handles an incoming message."""

PublishMiddleware = Callable[[PublishApp], PublishApp]
"""Wraps the next publish app."""

HandleMiddleware = Callable[[HandleApp], HandleApp]
"""Wraps the next handle app."""

App = TypeVar("App")


def build_chain(middlewares: Sequence[Callable[[App], App]], app: App) -> App:
    """Wrap ``app`` in ``middlewares``; the first one listed runs first."""
    for middleware in reversed(middlewares):
        app = middleware(app)
    return app
