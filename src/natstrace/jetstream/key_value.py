"""Key-value buckets whose watchers trace the updates that carry a trace context.

nats-py builds a watcher's entries from JetStream messages but keeps only key,
value and metadata: ``KeyValue.Entry`` has no headers (nats-py 2.16). So each
``watch()`` runs nats-py's own watch on a JetStream context whose ``subscribe``
wraps the watcher's message callback; the wrapper remembers, by stream sequence,
the messages whose headers hold a valid ``traceparent``. When the user takes an
update with one of those revisions, it is handed out inside a ``process`` span,
as a pulled message (:mod:`natstrace.middleware.delivery`): the span stays open
while the user handles the entry and ends when the next update is requested or
the watcher stops.

An ordinary ``kv.put`` sends no headers: its update costs one truth test and
makes no span. Span names use the bucket's subject with the key wildcarded
(``process $KV.orders.>``); bucket, key and operation are attributes.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Final, NamedTuple

from nats.js.kv import KeyValue
from opentelemetry import trace

from natstrace.client.headers import TRACEPARENT, IncomingHeaders, read_incoming
from natstrace.client.internals import bucket_context, bucket_on, bucket_prefix
from natstrace.jetstream.consume import metadata_attributes, metadata_of
from natstrace.metrics.instruments import NatstraceMetrics
from natstrace.middleware.chain import ClientChains
from natstrace.middleware.delivery import Delivery
from natstrace.tracing import semconv as sc

if TYPE_CHECKING:
    from nats.aio.msg import Msg
    from nats.js.client import JetStreamContext

__all__ = ["InstrumentedKeyValue", "InstrumentedKeyWatcher"]

# nats-py's watcher queue holds 256 entries and its callback waits while it is full,
# so about that many traced updates can wait to be handed out; the margin covers the
# updates nats-py drops (``ignore_deletes``). Past it the oldest are forgotten: their
# entries are still delivered, only without a span.
_REMEMBERED: Final = 1024

_Callback = Callable[["Msg"], Awaitable[None]]


class _Remembered(NamedTuple):
    """A watched message that carries a trace context, kept until its entry is handed out."""

    sequence: int
    msg: Msg
    meta: Msg.Metadata
    headers: IncomingHeaders


class _WatchContext:
    """The JetStream context one nats-py watch runs on: the real one, except that the
    watcher's message callback first remembers the messages that carry a trace context."""

    def __init__(
        self, js: JetStreamContext, remembered: deque[_Remembered], metrics: NatstraceMetrics
    ) -> None:
        self._js = js
        self._remembered = remembered
        self._metrics = metrics

    def __getattr__(self, name: str) -> Any:
        return getattr(self._js, name)

    async def subscribe(self, subject: str, *, cb: _Callback | None = None, **options: Any) -> Any:
        """``JetStreamContext.subscribe``, with ``cb`` remembering traced messages."""
        if cb is not None:
            cb = self._remembering(cb)
        return await self._js.subscribe(subject, cb=cb, **options)

    def _remembering(self, cb: _Callback) -> _Callback:
        # nats-py accepts only coroutine functions as callbacks: a closure, not an instance.
        async def remember(msg: Msg) -> None:
            if msg.headers:
                self._remember(msg)
            await cb(msg)

        return remember

    def _remember(self, msg: Msg) -> None:
        headers = read_incoming(msg.headers)
        if TRACEPARENT in headers.trace:
            meta = metadata_of(msg)
            if meta is not None:
                self._remembered.append(_Remembered(meta.sequence.stream, msg, meta, headers))
        elif headers.invalid:
            # No handle chain runs for this update, so its metrics middleware cannot count them.
            self._metrics.count_invalid_headers(headers.invalid)


class InstrumentedKeyWatcher:
    """nats-py's ``KeyWatcher``; an update that carries a trace context is handed out
    inside its ``process`` span, which ends when the next update is requested or
    the watcher stops.

    Everything not defined here is the wrapped watcher's.
    """

    def __init__(
        self,
        watcher: KeyValue.KeyWatcher,
        remembered: deque[_Remembered],
        chains: ClientChains,
        template: str,
    ) -> None:
        self._watcher = watcher
        self._remembered = remembered
        self._subscriber = chains.subscriber(template, "")
        self._handout = chains.handout()

    @property
    def watcher(self) -> KeyValue.KeyWatcher:
        """The wrapped nats-py watcher."""
        return self._watcher

    def __getattr__(self, name: str) -> Any:
        return getattr(self._watcher, name)

    async def updates(self, timeout: float = 5.0) -> Any:
        """Like nats-py's ``updates``; the previous update's handling ends here."""
        self._handout.finish_current()
        entry = await self._watcher.updates(timeout)  # type: ignore[no-untyped-call]
        return await self._hand_out(entry)

    def __aiter__(self) -> InstrumentedKeyWatcher:
        return self

    async def __anext__(self) -> Any:
        self._handout.finish_current()
        entry = await self._watcher.__anext__()  # type: ignore[no-untyped-call]
        return await self._hand_out(entry)

    async def stop(self) -> None:
        """Finish the update being handled, then stop the watcher."""
        self._handout.finish_all()
        self._remembered.clear()
        await self._watcher.stop()  # type: ignore[no-untyped-call]

    async def _hand_out(self, entry: Any) -> Any:
        remembered = self._remembered
        if not remembered or not isinstance(entry, KeyValue.Entry) or entry.revision is None:
            return entry
        revision = entry.revision
        # Sequences only grow on a watcher's ordered consumer: anything older was
        # dropped by nats-py and will never be handed out.
        while remembered and remembered[0].sequence < revision:
            remembered.popleft()
        if remembered and remembered[0].sequence == revision:
            delivery = self._delivery(entry, remembered.popleft())
            if delivery is not None:
                before_handling = self._handout.hand_out(delivery)
                if before_handling is not None:
                    await before_handling
        return entry

    def _delivery(self, entry: KeyValue.Entry, update: _Remembered) -> Delivery | None:
        delivery = self._subscriber.delivery(update.msg, update.headers)
        # A configured propagator other than W3C may not read the traceparent: no
        # producer, so no span (updates without a trace context are not traced).
        producer = trace.get_current_span(delivery.producer_context()).get_span_context()
        if not producer.is_valid:
            return None
        delivery.delivery_count = update.meta.num_delivered
        delivery.attributes = {
            sc.KV_BUCKET: entry.bucket,
            sc.KV_KEY: entry.key,
            sc.KV_OPERATION: entry.operation or sc.KV_PUT,
            **metadata_attributes(update.meta),
        }
        return delivery


class InstrumentedKeyValue:
    """nats-py's ``KeyValue`` whose watchers trace the updates that carry a trace context.

    Made by :meth:`natstrace.jetstream.context.InstrumentedJetStream.key_value`
    and ``create_key_value``. Everything but ``watch`` and ``watchall`` (``put``,
    ``get``, ``keys``, ``history``, ...) is the wrapped bucket's; nats-py's ``put``
    sends no headers, so its updates are not traced.
    """

    def __init__(self, kv: KeyValue, chains: ClientChains) -> None:
        self._kv = kv
        self._chains = chains
        # The bucket's subject with the key wildcarded: keys are unbounded.
        self._template = chains.templates.for_subscription(f"{bucket_prefix(kv)}>")

    @property
    def key_value(self) -> KeyValue:
        """The wrapped nats-py bucket."""
        return self._kv

    def __getattr__(self, name: str) -> Any:
        return getattr(self._kv, name)

    async def watch(self, keys: str, **options: Any) -> InstrumentedKeyWatcher:
        """Watch ``keys`` like ``KeyValue.watch`` (options are nats-py's)."""
        remembered: deque[_Remembered] = deque(maxlen=_REMEMBERED)
        # Only this copy's watch subscribes through the remembering context; the
        # bucket keeps nats-py's own context for everything else.
        scoped = bucket_on(
            self._kv, _WatchContext(bucket_context(self._kv), remembered, self._chains.metrics)
        )
        watcher = await scoped.watch(keys, **options)
        return InstrumentedKeyWatcher(watcher, remembered, self._chains, self._template)

    async def watchall(self, **options: Any) -> InstrumentedKeyWatcher:
        """Watch every key of the bucket like ``KeyValue.watchall``."""
        return await self.watch(">", **options)
