"""What every JetStream consumer shares: a delivered message's delivery, with
JetStream's metadata on the ``process`` span and in metrics.

The delivery count comes from the message's metadata (its ``$JS.ACK`` reply
subject) *before* the delivery starts, so the consumer span policy sees it: with
``auto``, delivery 1 is a child of the producer and every redelivery starts a
new trace linked to it.

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

from natstrace.client.headers import read_incoming
from natstrace.client.internals import message_client, route_message_client
from natstrace.config import Trust
from natstrace.jetstream.settle import SettleContext, Settler
from natstrace.middleware.chain import ClientChains
from natstrace.middleware.delivery import Delivery
from natstrace.tracing import semconv as sc

if TYPE_CHECKING:
    from nats.aio.msg import Msg

__all__ = [
    "EPHEMERAL",
    "ConsumerSpec",
    "JetStreamConsumer",
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


class JetStreamConsumer:
    """One JetStream subscription: its deliveries, with JetStream's metadata on the
    ``process`` span and in metrics, and their settlements recorded.

    Stream, consumer, sequences, delivery count and pending go onto the process
    span when it starts; when it has started, the delivery latency, redeliveries
    and the consumer's pending count are recorded.
    """

    def __init__(self, chains: ClientChains, spec: ConsumerSpec) -> None:
        self.chains = chains
        self.spec = spec
        self.subscriber = chains.subscriber(
            spec.template, spec.group, spec.trust, on_start=self._started
        )
        self.settle = SettleContext(
            chains.tracer, chains.metrics, chains.shapes, spec.template, spec.group
        )

    def delivery(self, msg: Msg) -> Delivery:
        """The message's delivery, made (headers validated, settlement routed) on first call."""
        client = message_client(msg)
        if isinstance(client, Settler):
            return client.delivery
        delivery = self.subscriber.delivery(msg, read_incoming(msg.headers))
        meta = metadata_of(msg)
        if meta is not None:
            delivery.delivery_count = meta.num_delivered
            delivery.attributes = metadata_attributes(meta)
        route_message_client(msg, Settler(self.chains.nc, self.settle, msg.reply, delivery))
        return delivery

    def _started(self, delivery: Delivery) -> None:
        msg = delivery.msg
        meta = metadata_of(msg) if msg is not None else None
        if meta is None:
            return
        spec = self.spec
        # Clocks of server and client differ a little; never a negative latency.
        latency = max(0.0, time() - meta.timestamp.timestamp())
        metrics = self.chains.metrics
        span = delivery.span
        # The exemplars mark the process span directly: it need not be current here.
        metrics.record_delivery(
            spec.template,
            spec.group,
            latency,
            meta.num_delivered > 1,
            span.get_span_context(),
            span,
        )
        metrics.set_consumer_pending(meta.stream, spec.consumer_label, meta.num_pending)

    def __repr__(self) -> str:
        return f"JetStreamConsumer({self.spec!r})"

    def observe_pending(self, msg: Any) -> None:
        """Set the pending gauge from a message's metadata (used at fetch time)."""
        meta = metadata_of(msg)
        if meta is not None:
            self.chains.metrics.set_consumer_pending(
                meta.stream, self.spec.consumer_label, meta.num_pending
            )
