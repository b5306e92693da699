"""The instrumented JetStream context: ``nc.jetstream()`` on an instrumented client.

- ``publish`` runs the publish chain (correlation, tracing, metrics, yours) with
  nats-py's JetStream publish innermost: the ``send`` span (PRODUCER) covers the
  round trip to the PubAck and carries stream, stream sequence and
  ``duplicate``; ``Nats-Msg-Id`` is set (the caller's kept), so a retried
  publish is de-duplicated by the server. Failures (no stream, timeout, a
  failed expectation such as a wrong last sequence) mark the span and the
  metrics with ``error.type``, plus JetStream's error code on the span.
- ``subscribe`` and ``pull_subscribe`` return traced subscriptions
  (:mod:`.jetstream_push`, :mod:`.jetstream_pull`); settlements are recorded by
  :mod:`.jetstream_settle`.
- ``key_value`` and ``create_key_value`` return buckets whose watchers hand out
  an update that carries a trace context inside a ``process`` span
  (:mod:`.jetstream_kv`); ordinary updates pass as in nats-py, untraced.
- Everything else (stream and consumer management, ``object_store``,
  ``publish_async``) is nats-py's, untouched.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from nats.js.api import Header, PubAck
from nats.js.errors import APIError

from natstrace.config import Trust
from natstrace.middleware.jetstream_consume import ConsumerSpec, JetStreamConsumer
from natstrace.middleware.jetstream_kv import InstrumentedKeyValue
from natstrace.middleware.jetstream_pull import JetStreamPullSubscription
from natstrace.middleware.jetstream_push import JetStreamPushSubscription, PushCallback
from natstrace.middleware.pipeline import Pipeline
from natstrace.middleware.types import OutgoingMessage, PublishApp
from natstrace.tracing import semconv as sc

if TYPE_CHECKING:
    from nats.aio.msg import Msg
    from nats.js.api import ConsumerConfig, KeyValueConfig
    from nats.js.client import JetStreamContext

__all__ = ["InstrumentedJetStream"]


def _named(*names: str | None) -> str:
    """The first name the application gave the consumer, or ``""`` (ephemeral)."""
    return next((name for name in names if name), "")


class InstrumentedJetStream:
    """A nats-py ``JetStreamContext`` whose publishes and consumers are traced.

    Made by :meth:`natstrace.InstrumentedClient.jetstream`.

    Example::

        js = nc.jetstream()
        await js.add_stream(name="ORDERS", subjects=["orders.*"])
        ack = await js.publish("orders.created", b"{}")

        async def handle(msg):
            ...                                   # inside the process span

        await js.subscribe("orders.*", durable="billing", cb=handle)
    """

    def __init__(self, js: JetStreamContext, pipeline: Pipeline) -> None:
        self._js = js
        self._pipeline = pipeline
        self._publish: PublishApp = pipeline.publish_chain(self._send)

    @property
    def context(self) -> JetStreamContext:
        """The wrapped nats-py JetStream context (publishing on it is not traced)."""
        return self._js

    def __getattr__(self, name: str) -> Any:
        return getattr(self._js, name)

    async def publish(
        self,
        subject: str,
        payload: bytes = b"",
        timeout: float | None = None,
        stream: str | None = None,
        headers: dict[str, str] | None = None,
        msg_ttl: float | None = None,
    ) -> PubAck:
        """Publish like ``JetStreamContext.publish``, in a ``send`` span ending at the PubAck.

        The caller's ``headers`` dict is copied, never modified.
        """
        return await self.publish_message(subject, payload, timeout, stream, headers, msg_ttl)

    async def publish_message(
        self,
        subject: str,
        payload: bytes,
        timeout: float | None,
        stream: str | None,
        headers: dict[str, str] | None,
        msg_ttl: float | None,
        chain: PublishApp | None = None,
    ) -> PubAck:
        """``publish`` through ``chain`` (default: the usual one); the outbox relay's way in."""
        copied = dict(headers) if headers else {}
        # What nats-py would add itself, added here so it is part of the traced message.
        if stream is not None:
            copied[Header.EXPECTED_STREAM] = stream
        if msg_ttl is not None:
            copied[Header.MSG_TTL] = str(int(msg_ttl))
        message = OutgoingMessage(
            subject=subject,
            payload=payload,
            reply="",
            headers=copied,
            operation=sc.SEND,
            template=self._pipeline.templates.for_publish(subject),
            timeout=self._js._timeout if timeout is None else timeout,
        )
        ack: PubAck = await (chain or self._publish)(message)
        return ack

    def publish_chain(self, wrap: Callable[[PublishApp], PublishApp] | None = None) -> PublishApp:
        """A publish chain whose innermost app is ``wrap`` around the JetStream send."""
        return self._pipeline.publish_chain(wrap(self._send) if wrap else self._send)

    async def _send(self, message: OutgoingMessage) -> PubAck:
        span = message.span
        try:
            ack = await self._js.publish(
                message.subject, message.payload, timeout=message.timeout, headers=message.headers
            )
        except APIError as exc:
            if span.is_recording() and exc.err_code:
                span.set_attribute(sc.JS_ERROR_CODE, exc.err_code)
            raise
        if span.is_recording():
            span.set_attributes(
                {
                    sc.JS_STREAM: ack.stream,
                    sc.JS_STREAM_SEQUENCE: ack.seq,
                    sc.JS_DUPLICATE: bool(ack.duplicate),
                }
            )
        return ack

    async def key_value(self, bucket: str) -> InstrumentedKeyValue:
        """Bind to a bucket like ``JetStreamContext.key_value``; its watchers trace
        the updates that carry a trace context."""
        return InstrumentedKeyValue(await self._js.key_value(bucket), self._pipeline)

    async def create_key_value(
        self, config: KeyValueConfig | None = None, **params: Any
    ) -> InstrumentedKeyValue:
        """Create a bucket like ``JetStreamContext.create_key_value``; its watchers
        trace the updates that carry a trace context."""
        kv = await self._js.create_key_value(config, **params)
        return InstrumentedKeyValue(kv, self._pipeline)

    async def subscribe(
        self,
        subject: str,
        queue: str | None = None,
        cb: Callable[[Msg], Awaitable[None]] | None = None,
        durable: str | None = None,
        stream: str | None = None,
        config: ConsumerConfig | None = None,
        *,
        trust: Trust | None = None,
        **options: Any,
    ) -> JetStreamPushSubscription:
        """Push-subscribe like ``JetStreamContext.subscribe``; each message gets a
        ``process`` span, settlements are recorded. ``trust`` as for core
        subscriptions. Other keyword arguments (``manual_ack``,
        ``ordered_consumer``, ...) are nats-py's."""
        group = _named(
            durable, queue, config.durable_name if config else None, config.name if config else None
        )
        spec = ConsumerSpec(
            template=self._pipeline.templates.for_subscription(subject),
            group=group,
            stream=stream or "",
            trust=trust,
        )
        consumer = JetStreamConsumer(self._pipeline, spec)
        traced = PushCallback(consumer, cb) if cb is not None else None
        sub = None
        try:
            sub = await self._js.subscribe(
                subject,
                queue=queue,
                cb=traced.callback if traced is not None else None,
                durable=durable,
                stream=stream,
                config=config,
                **options,
            )
        finally:
            if traced is not None:
                traced.bind(sub)
        return JetStreamPushSubscription(sub, consumer)

    async def pull_subscribe(
        self,
        subject: str,
        durable: str | None = None,
        stream: str | None = None,
        config: ConsumerConfig | None = None,
        *,
        trust: Trust | None = None,
        **options: Any,
    ) -> JetStreamPullSubscription:
        """Pull-subscribe like ``JetStreamContext.pull_subscribe``; ``fetch()`` is traced;
        ``trust`` as for core subscriptions."""
        sub = await self._js.pull_subscribe(
            subject, durable=durable, stream=stream, config=config, **options
        )
        spec = ConsumerSpec(
            template=self._pipeline.templates.for_subscription(subject),
            group=_named(durable, config.durable_name if config else None),
            stream=sub._stream,
            trust=trust,
        )
        return JetStreamPullSubscription(sub, JetStreamConsumer(self._pipeline, spec))
