"""The instrumented JetStream context: ``nc.jetstream()`` on an instrumented client.

- ``publish`` and ``publish_async`` run the publish chain (correlation,
  tracing, metrics, yours) with nats-py's JetStream publish innermost
  (:mod:`.publish`): the ``send`` span (PRODUCER) covers the round
  trip to the PubAck and carries stream, stream sequence and ``duplicate``;
  ``Nats-Msg-Id`` is set (the caller's kept), so a retried publish is
  de-duplicated by the server. Failures (no stream, timeout, a failed
  expectation such as a wrong last sequence) mark the span and the metrics
  with ``error.type``, plus JetStream's error code on the span.
  ``publish_async`` returns once the message is sent, with a future of the
  PubAck; the span ends when the PubAck arrives.
- ``subscribe`` and ``subscribe_bind`` return traced push subscriptions
  (:mod:`.push`); ``pull_subscribe`` and ``pull_subscribe_bind``
  traced pull subscriptions (:mod:`.pull`); settlements are recorded
  by :mod:`.settle`.
- ``key_value`` and ``create_key_value`` return buckets whose watchers hand out
  an update that carries a trace context inside a ``process`` span
  (:mod:`.key_value`); ordinary updates pass as in nats-py, untraced.
- Everything else (stream and consumer management, ``object_store``) is
  nats-py's, untouched.

Labels stay bounded: a consumer's group label is its name only where the
application named it (see :mod:`.consume`). A bound consumer has no
subject of its own to name its spans and metrics after: its filter subject
serves when ``subscribe_bind``'s config has exactly one, else the stream's
name; ``template=`` names it instead.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any

from nats.js.api import PubAck

from natstrace.client.internals import pull_consumer, pull_stream
from natstrace.config import Trust
from natstrace.jetstream.consume import ConsumerSpec, JetStreamConsumer
from natstrace.jetstream.key_value import InstrumentedKeyValue
from natstrace.jetstream.publish import JetStreamPublisher
from natstrace.jetstream.pull import JetStreamPullSubscription
from natstrace.jetstream.push import JetStreamPushSubscription, PushCallback
from natstrace.middleware.chain import ClientChains
from natstrace.middleware.contract import OutgoingMessage, PublishApp

if TYPE_CHECKING:
    from nats.aio.msg import Msg
    from nats.js.api import ConsumerConfig, KeyValueConfig
    from nats.js.client import JetStreamContext

__all__ = ["InstrumentedJetStream"]

Callback = Callable[["Msg"], Awaitable[None]]
_PushSubscribe = Callable[[Callback | None], Awaitable["JetStreamContext.PushSubscription"]]


def _named(*names: str | None) -> str:
    """The first name the application gave the consumer, or ``""`` (ephemeral)."""
    return next((name for name in names if name), "")


def _filter_subject(config: ConsumerConfig) -> str | None:
    """The consumer's one filter subject, or ``None`` (none, or several)."""
    if config.filter_subject:
        return config.filter_subject
    subjects = config.filter_subjects or []
    return subjects[0] if len(subjects) == 1 else None


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

    def __init__(self, js: JetStreamContext, chains: ClientChains) -> None:
        self._js = js
        self._chains = chains
        self._publisher = JetStreamPublisher(js, chains)

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
        message = self._publisher.message(subject, payload, timeout, stream, headers, msg_ttl)
        return await self._publisher.publish(message)

    def outgoing(
        self,
        subject: str,
        payload: bytes,
        headers: Mapping[str, str] | None,
        timeout: float | None = None,
    ) -> OutgoingMessage:
        """The message :meth:`publish` would send, for :meth:`publish_message`."""
        return self._publisher.message(subject, payload, timeout, None, headers, None)

    async def publish_message(
        self, message: OutgoingMessage, chain: PublishApp | None = None
    ) -> PubAck:
        """Publish ``message`` through ``chain`` (default: the usual one); the outbox
        relay's way in."""
        return await self._publisher.publish(message, chain)

    def publish_chain(self, wrap: Callable[[PublishApp], PublishApp] | None = None) -> PublishApp:
        """A publish chain whose innermost app is ``wrap`` around the JetStream send."""
        return self._publisher.chain(wrap)

    async def publish_async(
        self,
        subject: str,
        payload: bytes = b"",
        wait_stall: float | None = None,
        stream: str | None = None,
        headers: dict[str, str] | None = None,
        msg_ttl: float | None = None,
    ) -> asyncio.Future[PubAck]:
        """Publish like ``JetStreamContext.publish_async``: returns once the message is
        sent, with a future of its PubAck; the ``send`` span ends when the PubAck arrives.

        The caller's ``headers`` dict is copied, never modified.
        """
        publisher = self._publisher
        message = publisher.message(subject, payload, None, stream, headers, msg_ttl)
        return await publisher.publish_async(message, wait_stall)

    async def publish_async_completed(self) -> None:
        """Wait until every ``publish_async`` so far has its PubAck (or failed) and
        its ``send`` span ended."""
        await self._publisher.completed()

    async def key_value(self, bucket: str) -> InstrumentedKeyValue:
        """Bind to a bucket like ``JetStreamContext.key_value``; its watchers trace
        the updates that carry a trace context."""
        return InstrumentedKeyValue(await self._js.key_value(bucket), self._chains)

    async def create_key_value(
        self, config: KeyValueConfig | None = None, **params: Any
    ) -> InstrumentedKeyValue:
        """Create a bucket like ``JetStreamContext.create_key_value``; its watchers
        trace the updates that carry a trace context."""
        kv = await self._js.create_key_value(config, **params)
        return InstrumentedKeyValue(kv, self._chains)

    async def subscribe(
        self,
        subject: str,
        queue: str | None = None,
        cb: Callback | None = None,
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
            template=self._chains.templates.for_subscription(subject),
            group=group,
            stream=stream or "",
            trust=trust,
        )

        def subscribe(traced: Callback | None) -> Awaitable[JetStreamContext.PushSubscription]:
            return self._js.subscribe(
                subject,
                queue=queue,
                cb=traced,
                durable=durable,
                stream=stream,
                config=config,
                **options,
            )

        return await self._push(spec, cb, subscribe)

    async def subscribe_bind(
        self,
        stream: str,
        config: ConsumerConfig,
        consumer: str,
        cb: Callback | None = None,
        *,
        template: str | None = None,
        trust: Trust | None = None,
        **options: Any,
    ) -> JetStreamPushSubscription:
        """Push-subscribe to an existing consumer like ``JetStreamContext.subscribe_bind``,
        traced as :meth:`subscribe`.

        ``template``: the subject template for span names and metric labels (default:
        the config's one filter subject, else the stream's name). ``trust`` as for
        core subscriptions. Other keyword arguments (``manual_ack``, ...) are nats-py's.
        """
        spec = ConsumerSpec(
            template=template or self._bound_template(stream, _filter_subject(config)),
            # As for subscribe: the names the application put in the config, never
            # the server's name for an ephemeral consumer.
            group=_named(config.durable_name, config.deliver_group, config.name),
            stream=stream,
            trust=trust,
        )

        def subscribe(traced: Callback | None) -> Awaitable[JetStreamContext.PushSubscription]:
            return self._js.subscribe_bind(stream, config, consumer, cb=traced, **options)

        return await self._push(spec, cb, subscribe)

    async def _push(
        self, spec: ConsumerSpec, cb: Callback | None, subscribe: _PushSubscribe
    ) -> JetStreamPushSubscription:
        consumer = JetStreamConsumer(self._chains, spec)
        traced = PushCallback(consumer, cb) if cb is not None else None
        sub = None
        try:
            sub = await subscribe(traced.callback if traced is not None else None)
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
            template=self._chains.templates.for_subscription(subject),
            group=_named(durable, config.durable_name if config else None),
            stream=pull_stream(sub),
            trust=trust,
        )
        return JetStreamPullSubscription(sub, JetStreamConsumer(self._chains, spec))

    async def pull_subscribe_bind(
        self,
        consumer: str | None = None,
        stream: str | None = None,
        *,
        template: str | None = None,
        trust: Trust | None = None,
        **options: Any,
    ) -> JetStreamPullSubscription:
        """Bind to an existing pull consumer like ``JetStreamContext.pull_subscribe_bind``;
        ``fetch()`` is traced as for :meth:`pull_subscribe`.

        The consumer's name is its group label: binding names the consumer, so bind
        to durable or application-named consumers (a server-generated name would
        make a label series per consumer). ``template``: the subject template for
        span names and metric labels (default: the stream's name). ``trust`` as for
        core subscriptions. Other keyword arguments are nats-py's.
        """
        sub = await self._js.pull_subscribe_bind(consumer, stream, **options)
        spec = ConsumerSpec(
            template=template or self._bound_template(pull_stream(sub), None),
            # nats-py's pick among consumer, name and the older durable.
            group=pull_consumer(sub),
            stream=pull_stream(sub),
            trust=trust,
        )
        return JetStreamPullSubscription(sub, JetStreamConsumer(self._chains, spec))

    def _bound_template(self, stream: str, filter_subject: str | None) -> str:
        if filter_subject:
            return self._chains.templates.for_subscription(filter_subject)
        return stream
