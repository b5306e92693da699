"""What every JetStream consumer shares: reading a delivered message, and the
middleware that puts JetStream's metadata on the ``process`` span and into metrics.

The delivery count comes from the message's metadata (its ``$JS.ACK`` reply
subject) *before* the handle chain starts, so the tracing middleware's consumer
span policy sees it: with ``auto``, delivery 1 is a child of the producer and
every redelivery starts a new trace linked to it.

Labels stay bounded: the group (``messaging_consumer_group_name``) is the
consumer's name when the application named it (durable, queue or configured
name), and empty for an ephemeral consumer, whose generated name changes with
every subscription; the pending gauge calls those ``_ephemeral``. The real
name is always on the span (``natstrace.jetstream.consumer``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from time import time
from typing import TYPE_CHECKING, Any, Final

from nats.errors import NotJSMessageError

from natstrace.config import Trust
from natstrace.middleware.headers import read_incoming
from natstrace.middleware.jetstream_settle import SettleContext, SettlementRecorder
from natstrace.middleware.pipeline import Pipeline
from natstrace.middleware.types import HandleApp, HandleMiddleware, IncomingMessage
from natstrace.tracing import semconv as sc

if TYPE_CHECKING:
    from nats.aio.msg import Msg

__all__ = [
    "EPHEMERAL",
    "ConsumerSpec",
    "JetStreamConsumer",
    "JetStreamHandle",
    "metadata_attributes",
    "metadata_of",
]

EPHEMERAL: Final = "_ephemeral"
"""The ``consumer`` label (and span-name part) of a consumer the application did not name."""

_log = logging.getLogger(__name__)


def metadata_of(msg: Msg) -> Msg.Metadata | None:
    """The message's JetStream metadata, or ``None`` when its reply subject has none."""
    try:
        return msg.metadata
    except (NotJSMessageError, ValueError, IndexError):
        return None


def metadata_attributes(meta: Msg.Metadata) -> dict[str, object]:
    """The ``process`` span attributes read from a message's JetStream metadata."""
    return {
        sc.JS_STREAM: meta.stream,
        sc.JS_CONSUMER: meta.consumer,
        sc.JS_STREAM_SEQUENCE: meta.sequence.stream,
        sc.JS_CONSUMER_SEQUENCE: meta.sequence.consumer,
        sc.JS_DELIVERY_COUNT: meta.num_delivered,
        sc.JS_PENDING: meta.num_pending,
    }


@dataclass(frozen=True, slots=True)
class ConsumerSpec:
    """The bounded names one JetStream subscription is recorded under."""

    template: str
    """The filter subject template (``messaging_destination_name``)."""
    group: str
    """The consumer's name if the application named it, else ``""``."""
    stream: str
    trust: Trust | None = None
    """The subscription's trust setting; ``None``: the client's default."""

    @property
    def consumer_label(self) -> str:
        """The consumer's name in span names and the pending gauge."""
        return self.group or EPHEMERAL


class JetStreamHandle:
    """Handle middleware for JetStream messages, run right after the core ones.

    Records delivery latency, redeliveries and the consumer's pending count;
    tells the message's settlement recorder which span it settles. (Stream,
    consumer, sequences, delivery count and pending went onto the process span
    when it started: :meth:`JetStreamConsumer.incoming`.)
    """

    def __init__(self, app: HandleApp, *, consumer: JetStreamConsumer) -> None:
        self.app = app
        self.consumer = consumer

    async def __call__(self, message: IncomingMessage) -> None:
        msg = message.msg
        span = message.span
        recorder = msg._client
        if isinstance(recorder, SettlementRecorder):
            recorder.span = span
        meta = metadata_of(msg)
        if meta is not None:
            spec = self.consumer.spec
            # Clocks of server and client differ a little; never a negative latency.
            latency = max(0.0, time() - meta.timestamp.timestamp())
            metrics = self.consumer.pipeline.metrics
            metrics.record_delivery(
                spec.template,
                spec.group,
                latency,
                meta.num_delivered > 1,
                span.get_span_context(),
            )
            metrics.set_consumer_pending(meta.stream, spec.consumer_label, meta.num_pending)
        await self.app(message)


class JetStreamConsumer:
    """One JetStream subscription's view of the pipeline: envelopes and chains."""

    def __init__(self, pipeline: Pipeline, spec: ConsumerSpec) -> None:
        self.pipeline = pipeline
        self.spec = spec
        self.settle = SettleContext(pipeline.tracer, pipeline.metrics, spec.template, spec.group)

    def chain(self, app: HandleApp) -> HandleApp:
        """The handle chain around ``app``, with :class:`JetStreamHandle` inside."""
        inner: HandleMiddleware = self._middleware
        return self.pipeline.handle_chain(app, inner=[inner])

    def _middleware(self, app: HandleApp) -> HandleApp:
        return JetStreamHandle(app, consumer=self)

    def prepare(self, msg: Msg) -> Msg:
        """Route the message's settlement through a recorder (once per message)."""
        self.recorder(msg)
        return msg

    def recorder(self, msg: Msg) -> SettlementRecorder:
        """The message's settlement recorder, made (and its headers validated) on first call."""
        client: object = msg._client
        if isinstance(client, SettlementRecorder):
            return client
        recorder = SettlementRecorder(
            self.pipeline.nc, self.settle, msg.reply, read_incoming(msg.headers)
        )
        msg._client = recorder  # type: ignore[assignment]
        return recorder

    def incoming(self, msg: Msg) -> IncomingMessage:
        """The envelope for the handle chain, with the delivery count and the span
        attributes from the message's metadata.

        Headers and trace context come from the message's recorder: a pulled
        message had them read at fetch time, and they are not read twice.
        """
        spec = self.spec
        recorder = self.recorder(msg)
        message = self.pipeline.incoming(
            msg, spec.template, spec.group, spec.trust, headers=recorder.incoming_headers
        )
        message.trace_context = recorder.producer_context()
        meta = metadata_of(msg)
        if meta is not None:
            message.delivery_count = meta.num_delivered
            message.attributes = metadata_attributes(meta)
        return message

    def __repr__(self) -> str:
        return f"JetStreamConsumer({self.spec!r})"

    def observe_pending(self, msg: Any) -> None:
        """Set the pending gauge from a message's metadata (used at fetch time)."""
        meta = metadata_of(msg)
        if meta is not None:
            self.pipeline.metrics.set_consumer_pending(
                meta.stream, self.spec.consumer_label, meta.num_pending
            )
