"""Settlement of JetStream messages (ack, ack_sync, nak, term, in_progress), made visible.

nats-py settles a message by publishing to (or, for ``ack_sync``, requesting on)
the message's reply subject through ``msg._client``. natstrace points
``msg._client`` at a :class:`Settler`, which sends exactly what nats-py asked
for, on the real client, and records it against the message's delivery:

- the outcome, read from the payload nats-py wrote (``+ACK``/empty, ``-NAK``,
  ``+TERM``, ``+WPI``), counted in ``natstrace_settlements_total``;
- the time the settlement took, as operation ``settle`` of
  ``messaging_client_operation_duration_seconds``;
- on the trace of the message it settles: a span event named after the outcome
  on the ``process`` span while that span is open (the usual case: settling is
  part of handling, and an event costs far less than a span); once the process
  span has ended (nats-py's auto-ack of an iterated message taken later, a
  batch message acknowledged after the next one was taken, a message settled
  without ever being handed out), a short ``settle {template}`` CLIENT span
  instead, as a *child* of the ended process span: it belongs to that delivery,
  and a delivery settles a bounded number of times, so the trace stays bounded.

Nothing here decides to settle: a message is settled only when nats-py's code
(the user's call, or nats-py's own auto-ack) asks for it.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from time import perf_counter, time_ns
from typing import TYPE_CHECKING, Any, TypeVar

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import Link, SpanKind, Status, StatusCode, Tracer

from natstrace.metrics.instruments import NatstraceMetrics
from natstrace.middleware.spans import SpanShapes
from natstrace.tracing import semconv as sc
from natstrace.tracing.semconv import error_type

if TYPE_CHECKING:
    from nats.aio.client import Client

    from natstrace.middleware.delivery import Delivery

__all__ = ["SettleContext", "Settler", "outcome_of"]

T = TypeVar("T")


_log = logging.getLogger(__name__)
_hinted = False


def _hint_concurrent_batch() -> None:
    global _hinted  # once per process
    _hinted = True
    _log.warning(
        "natstrace: a fetched message was settled in another task after its handling "
        "had ended: its process span is short and that task's publishes are not part "
        "of its workflow. To handle a batch concurrently, use `await msgs.gather(handle)` "
        "instead of asyncio.gather."
    )


def outcome_of(payload: bytes) -> tuple[str, float | None]:
    """The settlement outcome nats-py's ``payload`` asks for, and a nak's delay in seconds."""
    if not payload or payload == b"+ACK":
        return sc.ACK, None
    if payload.startswith(b"-NAK"):
        delay = None
        _, _, options = payload.partition(b" ")
        if options:
            try:
                delay = int(json.loads(options)["delay"]) / 1e9
            except (ValueError, KeyError, TypeError):
                delay = None
        return sc.NAK, delay
    if payload == b"+WPI":
        return sc.IN_PROGRESS, None
    if payload.startswith(b"+TERM"):
        return sc.TERM, None
    # +NXT and anything newer: the server takes it as an acknowledgement.
    return sc.ACK, None


@dataclass(frozen=True, slots=True)
class SettleContext:
    """What every settlement of one consumer's messages is recorded with."""

    tracer: Tracer
    metrics: NatstraceMetrics
    shapes: SpanShapes
    template: str
    group: str


class Settler:
    """Stands in for the client on one delivered JetStream message (``msg._client``,
    set through :mod:`natstrace.client.internals`).

    It holds no state of its own: settling on the message's reply subject is
    recorded against the message's :class:`~natstrace.middleware.delivery.Delivery`
    (its span, or its producer's context if it was never handed out); everything
    else goes to the real client untouched.
    """

    __slots__ = ("_context", "_nc", "_reply", "delivery")

    def __init__(self, nc: Client, context: SettleContext, reply: str, delivery: Delivery) -> None:
        self._nc = nc
        self._context = context
        self._reply = reply
        self.delivery = delivery

    def __getattr__(self, name: str) -> Any:
        return getattr(self._nc, name)

    async def publish(
        self,
        subject: str,
        payload: bytes = b"",
        reply: str = "",
        headers: dict[str, str] | None = None,
    ) -> None:
        if subject != self._reply:
            await self._nc.publish(subject, payload, reply, headers)
            return
        outcome, delay = outcome_of(payload)
        await self._settle(
            outcome, delay, False, lambda: self._nc.publish(subject, payload, reply, headers)
        )

    async def request(
        self,
        subject: str,
        payload: bytes = b"",
        timeout: float = 0.5,
        old_style: bool = False,
        headers: dict[str, str] | None = None,
    ) -> Any:
        if subject != self._reply:
            return await self._nc.request(subject, payload, timeout, old_style, headers)
        outcome, delay = outcome_of(payload)
        return await self._settle(
            outcome,
            delay,
            True,
            lambda: self._nc.request(subject, payload, timeout=timeout, headers=headers),
        )

    async def _settle(
        self, outcome: str, delay: float | None, sync: bool, send: Callable[[], Awaitable[T]]
    ) -> T:
        started_ns = time_ns()
        started = perf_counter()
        failure: BaseException | None = None
        try:
            return await send()
        except BaseException as exc:
            failure = exc
            raise
        finally:
            self._record(outcome, delay, sync, failure, perf_counter() - started, started_ns)

    def _record(
        self,
        outcome: str,
        delay: float | None,
        sync: bool,
        failure: BaseException | None,
        duration: float,
        started_ns: int,
    ) -> None:
        context = self._context
        span = self.delivery.span
        span_context = span.get_span_context()
        failed = error_type(failure) if failure is not None else ""
        context.metrics.record_settlement(
            context.template, context.group, outcome, failed, duration, span_context
        )
        attributes: dict[str, Any] = {}
        if delay is not None:
            attributes[sc.JS_NAK_DELAY] = delay
        if sync:
            attributes[sc.JS_SYNC] = True
        if failed:
            attributes[sc.ERROR_TYPE] = failed
        if span.is_recording():
            span.add_event(outcome, attributes, started_ns)
            return
        if not _hinted and self.delivery.ended_in_another_task():
            _hint_concurrent_batch()
        self._settle_span(outcome, attributes, failure, started_ns)

    def _settle_span(
        self,
        outcome: str,
        attributes: dict[str, Any],
        failure: BaseException | None,
        started_ns: int,
    ) -> None:
        delivery = self.delivery
        span_context = delivery.span.get_span_context()
        links = None
        if span_context.is_valid:
            if not span_context.trace_flags.sampled:
                return
            parent = trace.set_span_in_context(delivery.span, Context())
        else:
            # Never handed to user code: a root span linked to the producer.
            parent = Context()
            producer = trace.get_current_span(delivery.producer_context()).get_span_context()
            links = [Link(producer)] if producer.is_valid else None
        context = self._context
        name, shared = context.shapes.get(sc.SETTLE, context.template, context.group)
        shared.update(attributes)
        shared[sc.JS_OUTCOME] = outcome
        if delivery.subject:
            shared[sc.MESSAGING_DESTINATION_NAME] = delivery.subject
        span = context.shapes.starter(context.tracer).start(
            name,
            shared,
            context=parent,
            kind=SpanKind.CLIENT,
            links=links,
            start_time=started_ns,
        )
        if failure is not None:
            span.set_status(Status(StatusCode.ERROR, type(failure).__qualname__))
        span.end()
