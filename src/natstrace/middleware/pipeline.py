"""The middleware chains of one instrumented client, in their fixed order.

Publish: correlation -> tracing -> metrics -> user middlewares -> nats-py.
Handle:  correlation -> tracing -> metrics -> user middlewares -> the handler.

Correlation runs first so the span carries the IDs; metrics run inside the span
so their exemplar is the message's trace; user middlewares run innermost, with
the span current and every contract header already set.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from functools import partial
from typing import TYPE_CHECKING, Any, TypeVar

from opentelemetry.trace import Tracer

from natstrace.config import ConsumerSpanPolicy, Trust
from natstrace.metrics.instruments import NatstraceMetrics
from natstrace.middleware.correlation import HandleCorrelation, PublishCorrelation
from natstrace.middleware.headers import IncomingHeaders, read_incoming
from natstrace.middleware.metrics import HandleMetrics, PublishMetrics
from natstrace.middleware.payload_limit import check_max_payload
from natstrace.middleware.subjects import SubjectTemplates
from natstrace.middleware.tracing import HandleTracing, PublishTracing
from natstrace.middleware.types import (
    HandleApp,
    HandleMiddleware,
    IncomingMessage,
    OutgoingMessage,
    PublishApp,
    PublishMiddleware,
)

if TYPE_CHECKING:
    from nats.aio.client import Client
    from nats.aio.msg import Msg

__all__ = ["Pipeline", "build_chain"]

App = TypeVar("App")


def build_chain(middlewares: Sequence[Callable[[App], App]], app: App) -> App:
    """Wrap ``app`` in ``middlewares``; the first one listed runs first."""
    for middleware in reversed(middlewares):
        app = middleware(app)
    return app


class Pipeline:
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
        self._handle_core: list[HandleMiddleware] = [
            HandleCorrelation,
            partial(
                HandleTracing,
                tracer=tracer,
                policy=policy,
                server=self.server_address,
                baggage_allowlist=frozenset(baggage_allowlist),
            ),
            partial(HandleMetrics, metrics=metrics),
        ]
        self._handle_user = list(handle_middleware)

    def publish_chain(self, app: PublishApp) -> PublishApp:
        """The publish chain around another innermost app (JetStream's publish)."""
        return build_chain(self._publish, app)

    def handle_chain(self, app: HandleApp, inner: Sequence[HandleMiddleware] = ()) -> HandleApp:
        """The handle chain around ``app`` (the user's handler, or parking).

        ``inner`` are natstrace's protocol middlewares (JetStream): they run after
        the core ones, with the span open, and before the user's.
        """
        return build_chain([*self._handle_core, *inner, *self._handle_user], app)

    def incoming(
        self,
        msg: Msg,
        template: str,
        queue: str,
        trust: Trust | None = None,
        headers: IncomingHeaders | None = None,
    ) -> IncomingMessage:
        """The envelope of a delivered message, with its headers validated.

        ``trust`` is the subscription's setting; ``None``: the client's default.
        ``headers``: the message's headers, if they were validated already.
        """
        if headers is None:
            headers = read_incoming(msg.headers)
        return IncomingMessage(
            msg=msg,
            template=template,
            queue=queue,
            trace_headers=headers.trace,
            message_id=headers.message_id,
            correlation_id=headers.correlation_id,
            causation_id=headers.causation_id,
            invalid_headers=headers.invalid,
            trusted=(trust or self.trust) == "trusted",
        )

    def server_address(self) -> tuple[str | None, int | None]:
        """Host and port of the connected server (cached until the client reconnects)."""
        url = self.nc.connected_url
        if url is not self._server_url:
            self._server_url = url
            self._server = (url.hostname, url.port) if url is not None else (None, None)
        return self._server

    async def _send(self, message: OutgoingMessage) -> Any:
        check_max_payload(message.payload, message.headers, self.nc.max_payload)
        await self.nc.publish(message.subject, message.payload, message.reply, message.headers)

    async def _request(self, message: OutgoingMessage) -> Any:
        check_max_payload(message.payload, message.headers, self.nc.max_payload)
        return await self.nc.request(
            message.subject, message.payload, timeout=message.timeout, headers=message.headers
        )
