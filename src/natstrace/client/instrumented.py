"""The instrumented client: nats-py's publish / request / subscribe, through the chains.

``jetstream()`` returns a traced JetStream context. Everything else (``flush``,
``drain``, ``close``, properties) is passed through to the wrapped client unchanged.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from nats.aio.subscription import DEFAULT_SUB_PENDING_BYTES_LIMIT, DEFAULT_SUB_PENDING_MSGS_LIMIT

from natstrace.client.headers import CONTRACT_HEADERS, copy_outgoing
from natstrace.client.internals import route_message_client
from natstrace.client.subscription import InstrumentedSubscription, traced_callback
from natstrace.config import Trust
from natstrace.jetstream.context import InstrumentedJetStream
from natstrace.middleware.chain import ClientChains
from natstrace.middleware.contract import OutgoingMessage
from natstrace.tracing.semconv import REQUEST, SEND

if TYPE_CHECKING:
    from nats.aio.client import Client
    from nats.aio.msg import Msg

__all__ = ["InstrumentedClient"]

_CONTRACT_LOWER = frozenset(name.lower() for name in CONTRACT_HEADERS)


class InstrumentedClient:
    """A nats-py client whose publishes, requests and subscriptions are traced.

    Made by :func:`natstrace.instrument`; use it where you used the client.
    """

    def __init__(self, nc: Client, chains: ClientChains) -> None:
        self._nc = nc
        self._chains = chains
        self._responder = _Responder(self, nc)

    @property
    def client(self) -> Client:
        """The wrapped nats-py client (publishing on it directly is not traced)."""
        return self._nc

    def __getattr__(self, name: str) -> Any:
        return getattr(self._nc, name)

    async def publish(
        self,
        subject: str,
        payload: bytes = b"",
        reply: str = "",
        headers: dict[str, str] | None = None,
    ) -> None:
        """Publish like ``Client.publish``, inside a ``send`` span, with the contract headers.

        The caller's ``headers`` dict is copied, never modified; contract header names in
        it are matched case-insensitively (``correlation-id`` is ``Correlation-Id``).
        """
        # Positional: a dataclass with defaults takes keywords at twice the cost.
        await self._chains.publish(
            OutgoingMessage(
                subject,
                payload,
                reply,
                copy_outgoing(headers),
                SEND,
                self._chains.templates.for_publish(subject),
            )
        )

    async def request(
        self,
        subject: str,
        payload: bytes = b"",
        timeout: float = 0.5,
        old_style: bool = False,
        headers: dict[str, str] | None = None,
    ) -> Msg:
        """Request like ``Client.request``, inside a ``request`` span (CLIENT) that ends
        with the reply; no responders and timeouts mark it failed.

        ``old_style=True`` requests are passed to nats-py untraced: nats-py sends no
        headers on them, so there is no way to carry the trace.
        """
        if old_style:
            return await self._nc.request(subject, payload, timeout=timeout, old_style=True)
        reply: Msg = await self._chains.request(
            OutgoingMessage(
                subject,
                payload,
                "",
                copy_outgoing(headers),
                REQUEST,
                self._chains.templates.for_publish(subject),
                timeout,
            )
        )
        return reply

    async def subscribe(
        self,
        subject: str,
        queue: str = "",
        cb: Callable[[Msg], Awaitable[None]] | None = None,
        future: Any = None,
        max_msgs: int = 0,
        pending_msgs_limit: int = DEFAULT_SUB_PENDING_MSGS_LIMIT,
        pending_bytes_limit: int = DEFAULT_SUB_PENDING_BYTES_LIMIT,
        *,
        trust: Trust | None = None,
    ) -> InstrumentedSubscription:
        """Subscribe like ``Client.subscribe``; each message is handled in a ``process`` span.

        The span is named after the subscription's subject (its wildcard form),
        so names and metric labels stay bounded. ``trust="untrusted"`` for messages
        from outside your control: each starts a new trace linked to the
        producer's, sampled by your sampler alone, with only allowlisted baggage
        (default: the client's setting, see :func:`natstrace.instrument`).
        """
        template = self._chains.templates.for_subscription(subject)
        subscriber = self._chains.subscriber(template, queue, trust)
        traced = traced_callback(subscriber, cb, self._prepare) if cb is not None else None
        sub = await self._nc.subscribe(
            subject,
            queue=queue,
            cb=traced,
            future=future,
            max_msgs=max_msgs,
            pending_msgs_limit=pending_msgs_limit,
            pending_bytes_limit=pending_bytes_limit,
        )
        return InstrumentedSubscription(sub, self._chains, subscriber, self._prepare)

    async def drain(self) -> None:
        """Like ``Client.drain``; messages still handed out to pulling code finish first."""
        self._chains.finish_deliveries()
        await self._nc.drain()

    async def close(self) -> None:
        """Like ``Client.close``; messages still handed out to pulling code finish first."""
        self._chains.finish_deliveries()
        await self._nc.close()

    def jetstream(self, **options: Any) -> InstrumentedJetStream:
        """Like ``Client.jetstream``: a JetStream context whose publishes, consumers and
        settlements are traced (:class:`~natstrace.jetstream.context.InstrumentedJetStream`).

        Example::

            js = nc.jetstream()
            ack = await js.publish("orders.created", b"{}")   # send span, to the PubAck
        """
        return InstrumentedJetStream(self._nc.jetstream(**options), self._chains)

    def _prepare(self, msg: Msg) -> Msg:
        # Msg.respond() publishes through msg._client: point it at the responder so
        # replies are traced and carry fresh contract headers.
        route_message_client(msg, self._responder)
        return msg


class _Responder:
    """Stands in for the client on delivered messages, so ``msg.respond()`` is traced.

    nats-py's ``respond`` sends the request's own headers back; the contract
    headers among them are dropped (incoming values are never copied onward) and
    the reply gets its own. JetStream acknowledgements (``$JS.`` subjects) and
    anything else go to the real client untouched.
    """

    def __init__(self, client: InstrumentedClient, nc: Client) -> None:
        self._client = client
        self._nc = nc

    def __getattr__(self, name: str) -> Any:
        return getattr(self._nc, name)

    async def publish(
        self,
        subject: str,
        payload: bytes = b"",
        reply: str = "",
        headers: dict[str, str] | None = None,
    ) -> None:
        if subject.startswith("$JS."):
            await self._nc.publish(subject, payload, reply, headers)
            return
        if headers:
            headers = {k: v for k, v in headers.items() if k.lower() not in _CONTRACT_LOWER}
        await self._client.publish(subject, payload, reply, headers)
