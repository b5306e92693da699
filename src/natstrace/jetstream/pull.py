"""Pull consumers: ``fetch()`` as a ``receive`` span, then one ``process`` span per message.

Each fetch that returns messages records a ``receive {stream}/{consumer}`` span
(CLIENT) covering the round trip, linked to the producer span of every message
in the batch. It is created when the fetch returns, with the fetch's start
time: only then are the messages, and so the links, known, and a sampler sees
links only at span start. Each message's ``process`` span starts later, when
the user takes the message from the batch (see
:mod:`natstrace.jetstream.batch`).

A fetch that times out with no messages is an empty poll, the normal state of an
idle consumer: it is timed (``error_type="TimeoutError"``) but gets no span, so
idle consumers do not fill the trace backend. Any other failure gets a span
marked with ``error.type``.
"""

from __future__ import annotations

from collections.abc import Sequence
from time import perf_counter, time_ns
from typing import TYPE_CHECKING, Any

from opentelemetry import trace
from opentelemetry.trace import INVALID_SPAN_CONTEXT, Link, SpanContext, SpanKind

from natstrace.jetstream.batch import FetchedMessages
from natstrace.jetstream.consume import JetStreamConsumer
from natstrace.middleware.delivery import Delivery
from natstrace.middleware.tracing import record_error
from natstrace.tracing import semconv as sc
from natstrace.tracing.semconv import error_type

if TYPE_CHECKING:
    from nats.aio.msg import Msg
    from nats.js.client import JetStreamContext

__all__ = ["JetStreamPullSubscription"]


def _producer_link(delivery: Delivery) -> Link | None:
    context = trace.get_current_span(delivery.producer_context()).get_span_context()
    return Link(context) if context.is_valid else None


class JetStreamPullSubscription:
    """nats-py's ``PullSubscription`` with traced fetches and handed-out messages.

    Example::

        sub = await js.pull_subscribe("orders.*", durable="billing")
        for msg in await sub.fetch(50):   # one receive span
            await bill(msg)                 # inside this message's process span
            await msg.ack()                 # an "ack" event on that span

    Everything not defined here (``consumer_info()``, ``pending_msgs``, ...) is
    the wrapped subscription's.
    """

    def __init__(self, sub: JetStreamContext.PullSubscription, consumer: JetStreamConsumer) -> None:
        self._sub = sub
        self._consumer = consumer
        self._handout = consumer.chains.handout()

    @property
    def subscription(self) -> JetStreamContext.PullSubscription:
        """The wrapped nats-py pull subscription."""
        return self._sub

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sub, name)

    async def fetch(
        self, batch: int = 1, timeout: float | None = 5, heartbeat: float | None = None
    ) -> list[Msg]:
        """Like nats-py's ``fetch``; returns a list whose messages are traced as taken."""
        self._handout.finish_current()
        started_ns = time_ns()
        started = perf_counter()
        try:
            msgs = await self._sub.fetch(batch, timeout, heartbeat)
        except TimeoutError as exc:
            self._record(batch, (), started_ns, perf_counter() - started, exc, span=False)
            raise
        except Exception as exc:
            self._record(batch, (), started_ns, perf_counter() - started, exc, span=True)
            raise
        duration = perf_counter() - started
        consumer = self._consumer
        deliveries = [consumer.delivery(msg) for msg in msgs]
        if msgs:
            consumer.observe_pending(msgs[-1])
        self._record(batch, deliveries, started_ns, duration, None, span=True)
        return FetchedMessages(msgs, deliveries, self._handout, consumer.subscriber)

    def _record(
        self,
        batch: int,
        delivered: Sequence[Delivery],
        started_ns: int,
        duration: float,
        failure: BaseException | None,
        *,
        span: bool,
    ) -> None:
        spec = self._consumer.spec
        chains = self._consumer.chains
        span_context: SpanContext = INVALID_SPAN_CONTEXT
        if span:
            links = [link for link in map(_producer_link, delivered) if link is not None]
            name, attributes = chains.shapes.get(
                sc.RECEIVE, spec.template, spec.group, f"{spec.stream}/{spec.consumer_label}"
            )
            attributes[sc.MESSAGING_BATCH_MESSAGE_COUNT] = len(delivered)
            attributes[sc.JS_STREAM] = spec.stream
            attributes[sc.JS_BATCH_SIZE] = batch
            receive = chains.shapes.starter(chains.tracer).start(
                name,
                attributes,
                kind=SpanKind.CLIENT,
                links=links,
                start_time=started_ns,
            )
            if failure is not None:
                record_error(receive, failure)
            receive.end()
            span_context = receive.get_span_context()
        chains.metrics.record_receive(
            spec.template, error_type(failure) if failure else "", duration, span_context
        )

    async def unsubscribe(self) -> None:
        """Finish the messages being handled, then unsubscribe."""
        self._handout.finish_all()
        await self._sub.unsubscribe()
