"""What one instrumented client sends and handles through.

Publish: correlation -> tracing -> metrics -> user middlewares -> nats-py.
Correlation runs first so the span carries the IDs; metrics run inside the span
so their exemplar is the message's trace; user middlewares run innermost, with
the span current and every contract header already set.

Handle: every delivered message is a :class:`~natstrace.middleware.delivery.Delivery`
(span, correlation, counts) and the user's handle middlewares run around its
handling, with the span and correlation current.
"""

from __future__ import annotations

import weakref
from collections.abc import Awaitable, Callable, Iterable, Sequence
from functools import partial
from typing import TYPE_CHECKING, Any

from opentelemetry.trace import Tracer

from natstrace.client.payload_limit import check_max_payload
from natstrace.client.subjects import SubjectTemplates
from natstrace.config import ConsumerSpanPolicy, Trust
from natstrace.metrics.instruments import NatstraceMetrics
from natstrace.middleware.contract import (
    HandleMiddleware,
    OutgoingMessage,
    PublishApp,
    PublishMiddleware,
    build_chain,
)
from natstrace.middleware.correlation import PublishCorrelation
from natstrace.middleware.delivery import Delivery, Handout, Subscriber
from natstrace.middleware.metrics import PublishMetrics
from natstrace.middleware.spans import SpanShapes
from natstrace.middleware.tracing import PublishTracing

if TYPE_CHECKING:
    from nats.aio.client import Client

__all__ = ["ClientChains", "build_chain"]


class ClientChains:
    """Builds and holds the chains for one nats-py client."""

    def __init__(
        self,
        nc: Client,
        *,
        tracer: Tracer,
        metrics: NatstraceMetrics,
        templates: SubjectTemplates,
        policy: ConsumerSpanPolicy,
        publish_middleware: Sequence[PublishMiddleware] = (),
        handle_middleware: Sequence[HandleMiddleware] = (),
        trust: Trust = "trusted",
        baggage_allowlist: Iterable[str] = (),
    ) -> None:
        self.nc = nc
        self.trust: Trust = trust
        self.tracer = tracer
        self.metrics = metrics
        self.templates = templates
        self._server_url: Any = None
        self._server: tuple[str | None, int | None] = (None, None)
        publish: list[PublishMiddleware] = [
            PublishCorrelation,
            partial(PublishTracing, tracer=tracer, server=self.server_address),
            partial(PublishMetrics, metrics=metrics),
            *publish_middleware,
        ]
        send: PublishApp = self._send
        request: PublishApp = self._request
        self._publish = publish
        self.publish = build_chain(publish, send)
        self.request = build_chain(publish, request)
        self.policy: ConsumerSpanPolicy = policy
        self.baggage_allowlist = frozenset(baggage_allowlist)
        self.shapes = SpanShapes(self.server_address)
        self._handle_middleware = tuple(handle_middleware)
        self.handouts: weakref.WeakSet[Handout] = weakref.WeakSet()

    def publish_chain(self, app: PublishApp) -> PublishApp:
        """The publish chain around another innermost app (JetStream's publish)."""
        return build_chain(self._publish, app)

    def subscriber(
        self,
        template: str,
        group: str,
        trust: Trust | None = None,
        on_start: Callable[[Delivery], None] | None = None,
    ) -> Subscriber:
        """What the deliveries of one subscription share.

        ``trust`` is the subscription's setting (``None``: the client's default);
        ``on_start`` runs when each delivery has started (JetStream's metrics).
        """
        return Subscriber(
            tracer=self.tracer,
            metrics=self.metrics,
            shapes=self.shapes,
            policy=self.policy,
            trusted=(trust or self.trust) == "trusted",
            baggage_allowlist=self.baggage_allowlist,
            middlewares=self._handle_middleware,
            template=template,
            group=group,
            on_start=on_start,
        )

    def handout(self) -> Handout:
        """A holder for one subscription's pulled messages, finished with the client."""
        return Handout(self.handouts)

    def finish_deliveries(self) -> None:
        """The client is draining or closing: finish every pulled message still held."""
        for handout in list(self.handouts):
            handout.finish_all()

    def server_address(self) -> tuple[str | None, int | None]:
        """Host and port of the connected server (cached until the client reconnects)."""
        url = self.nc.connected_url
        if url is not self._server_url:
            self._server_url = url
            self._server = (url.hostname, url.port) if url is not None else (None, None)
        return self._server

    # Not coroutines themselves: they return nats-py's, which the chain awaits, one
    # coroutine less per message. A message over the limit raises when called, and
    # every caller in the chain calls inside its ``await``.
    def _send(self, message: OutgoingMessage) -> Awaitable[Any]:
        check_max_payload(message.payload, message.headers, self.nc.max_payload)
        return self.nc.publish(message.subject, message.payload, message.reply, message.headers)

    def _request(self, message: OutgoingMessage) -> Awaitable[Any]:
        check_max_payload(message.payload, message.headers, self.nc.max_payload)
        return self.nc.request(
            message.subject, message.payload, timeout=message.timeout, headers=message.headers
        )
