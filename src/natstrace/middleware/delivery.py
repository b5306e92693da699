"""One delivered message, from the moment user code gets it until its handling ends.

A :class:`Delivery` holds everything natstrace keeps for one message: its
validated headers and the producer's trace context, its ``process`` span, its
correlation, its in-flight count and timings. It is started when the message is
handed to user code and finished exactly once:

- a callback: when the callback returns or raises (:meth:`Subscriber.callback`);
- a pulled message (``async for``, ``next_msg()``, a fetched batch, a key-value
  update): at the next pull in the same task, when the subscription is
  unsubscribed or drained, when the client is drained or closed, when the
  pulling task ends (cancelled, failed or done), and, as a last resort, when the
  subscription holding it is garbage-collected (:class:`Handout`).

Context rules: a callback's span and correlation are attached right before its
``try:`` and detached in its ``finally:``, in its own task. A pulled message's
are made current in the pulling task and taken off again only by that task,
and only while they are still the current ones; finishing from another task (a
``drain()``, the garbage collector) ends the span and the counts but leaves the
pulling task's context to the pulling task. No token is ever reset in a
context it was not set in.

The user's handle middlewares run around the handling (see ``docs/middleware.md``):
for a callback, around the callback; for a pulled message, in a task of their own
whose innermost ``await self.app(message)`` returns (or raises the handling's
error) when the delivery finishes.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import Awaitable, Callable, Sequence
from time import perf_counter
from typing import TYPE_CHECKING, Any, Final

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import INVALID_SPAN, Link, Span, SpanKind, Tracer

from natstrace.client import internals
from natstrace.client.headers import IncomingHeaders, read_incoming
from natstrace.config import ConsumerSpanPolicy
from natstrace.metrics.instruments import NatstraceMetrics
from natstrace.middleware.contract import HandleApp, HandleMiddleware, IncomingMessage, build_chain
from natstrace.middleware.spans import SpanShapes
from natstrace.middleware.tracing import allowed_baggage, record_error
from natstrace.tracing import correlation, propagation
from natstrace.tracing import semconv as sc
from natstrace.tracing.correlation import Correlation, new_message_id
from natstrace.tracing.semconv import error_type

if TYPE_CHECKING:
    from nats.aio.msg import Msg

__all__ = ["Delivery", "Handout", "Subscriber"]

_log = logging.getLogger(__name__)

_ROOT: Final = Context()
"""The parent context of a span that starts a new trace."""

_NEW: Final = 0
_OPEN: Final = 1
_DONE: Final = 2


def _current_task() -> asyncio.Task[Any] | None:
    try:
        return asyncio.current_task()
    except RuntimeError:
        return None


class Subscriber:
    """What every delivery of one subscription shares: its names, its trust, and the
    client's tracer, metrics, policy and handle middlewares."""

    def __init__(
        self,
        *,
        tracer: Tracer,
        metrics: NatstraceMetrics,
        shapes: SpanShapes,
        policy: ConsumerSpanPolicy,
        trusted: bool,
        baggage_allowlist: frozenset[str],
        middlewares: Sequence[HandleMiddleware],
        template: str,
        group: str,
        on_start: Callable[[Delivery], None] | None = None,
    ) -> None:
        self.tracer = tracer
        self.metrics = metrics
        self.shapes = shapes
        self.policy = policy
        self.trusted = trusted
        self.baggage_allowlist = baggage_allowlist
        self.middlewares = tuple(middlewares)
        self.template = template
        self.group = group
        self.on_start = on_start
        self.in_flight = metrics.in_flight_gauge(template, group)
        # The name of a process span that starts bare (not recorded): made once here.
        self.process_name = shapes.name(sc.PROCESS, template)

    def delivery(self, msg: Msg, headers: IncomingHeaders | None = None) -> Delivery:
        """A new, not yet started delivery of ``msg`` (headers validated here unless given)."""
        return Delivery(self, msg, read_incoming(msg.headers) if headers is None else headers)

    def callback(self, app: HandleApp) -> Callable[[Msg], Awaitable[None]]:
        """A nats-py message callback that runs ``app`` (the user's middlewares around it)
        for every message, inside the message's delivery."""
        chain = build_chain(self.middlewares, app)

        async def deliver(msg: Msg) -> None:
            await Delivery(self, msg, read_incoming(msg.headers)).run(chain)

        return deliver

    def chain(self, app: HandleApp) -> HandleApp:
        """The user's handle middlewares around ``app``."""
        return build_chain(self.middlewares, app)


class Delivery:
    """One message handed to user code: span, correlation, counts and timings.

    Made by :meth:`Subscriber.delivery`; extra span attributes and the delivery
    count (JetStream) may be set before :meth:`start`.
    """

    __slots__ = (
        "_companion",
        "_context",
        "_owner",
        "_previous",
        "_producer",
        "_started",
        "_state",
        "attributes",
        "correlation",
        "delivery_count",
        "headers",
        "message",
        "msg",
        "span",
        "subject",
        "subscriber",
    )

    def __init__(self, subscriber: Subscriber, msg: Msg, headers: IncomingHeaders) -> None:
        self.subscriber = subscriber
        self.msg: Msg | None = msg
        self.subject = msg.subject
        self.headers = headers
        self.attributes: dict[str, object] | None = None
        self.delivery_count = 1
        self.message: IncomingMessage | None = None
        self.span: Span = INVALID_SPAN
        self.correlation: Correlation | None = None
        self._producer: Context | None = None
        self._context: Context | None = None
        self._state = _NEW
        self._started = 0.0
        self._owner: asyncio.Task[Any] | None = None
        self._previous: tuple[Context, Correlation | None] | None = None
        self._companion: _Companion | None = None

    @property
    def started(self) -> bool:
        """Whether the message was handed to user code (its span exists)."""
        return self._state != _NEW

    def ended_in_another_task(self) -> bool:
        """Whether this pulled message's handling has ended and the running task is not
        the one that took it (a batch handed to tasks that natstrace did not start)."""
        return (
            self._state == _DONE and self._owner is not None and _current_task() is not self._owner
        )

    def producer_context(self) -> Context:
        """The trace context propagated with the message, extracted on first use."""
        if self._producer is None:
            self._producer = propagation.extract(self.headers.trace, validated=True)
        return self._producer

    def start(self) -> IncomingMessage:
        """Open the ``process`` span, count the message in flight; once only."""
        if self._state != _NEW:
            raise RuntimeError("a delivery starts once")
        self._state = _OPEN
        sub = self.subscriber
        msg = self.msg
        assert msg is not None
        headers = self.headers
        if headers.invalid:
            sub.metrics.count_invalid_headers(headers.invalid)
        # A message without IDs (a plain nats-py publisher) still starts one workflow:
        # the identity it gets here is what its handler's publishes share and name.
        message_id = headers.message_id or new_message_id()
        correlation_id = headers.correlation_id or message_id
        self.correlation = correlation.handled(correlation_id, message_id, headers.causation_id)
        # Positional: a dataclass with defaults takes keywords at twice the cost.
        message = IncomingMessage(
            msg,
            sub.template,
            sub.group,
            headers.trace,
            message_id,
            correlation_id,
            headers.causation_id,
            headers.invalid,
            self.delivery_count,
            sub.trusted,
            INVALID_SPAN,
            self.attributes,
        )
        self.message = message
        self._open_span(message, msg)
        sub.in_flight.inc()
        self._started = perf_counter()
        if sub.on_start is not None:
            # Not made current for it: its exemplars mark self.span directly.
            sub.on_start(self)
        return message

    def _open_span(self, message: IncomingMessage, msg: Msg) -> None:
        sub = self.subscriber
        incoming = self.producer_context()
        trusted = sub.trusted
        policy = sub.policy
        as_parent = trusted and (
            policy == "parent" or (policy == "auto" and self.delivery_count <= 1)
        )
        links = None
        if not as_parent:
            # Only a new trace needs the producer's span context: it is linked to it.
            producer = trace.get_current_span(incoming).get_span_context()
            if producer.is_valid:
                links = [Link(producer)]
        if not trusted:
            incoming = allowed_baggage(incoming, sub.baggage_allowlist)
        # Linking starts a new trace: an empty parent context, not the ambient one.
        parent = incoming if as_parent else _ROOT
        shapes = sub.shapes
        if shapes.drops(sub.tracer, parent):
            span = shapes.starter(sub.tracer).start_unrecorded(
                sub.process_name, parent, SpanKind.CONSUMER
            )
            self.span = message.span = span
            self._context = trace.set_span_in_context(span, incoming)
            return
        name, attributes = shapes.for_message(
            sc.PROCESS, sub.template, sub.group, msg.subject, len(msg.data), message
        )
        if self.attributes:
            attributes.update(self.attributes)
        span = shapes.starter(sub.tracer).start(
            name, attributes, context=parent, kind=SpanKind.CONSUMER, links=links
        )
        self.span = message.span = span
        # Baggage from the producer stays visible to the handler in both policies
        # (on an untrusted subscription, only the allowlisted keys).
        self._context = trace.set_span_in_context(span, incoming)

    def finish(self, error: BaseException | None = None) -> None:
        """End the handling: span, in-flight count, process metrics; later calls do nothing."""
        if self._state != _OPEN:
            return
        self._state = _DONE
        sub = self.subscriber
        span = self.span
        if error is not None:
            record_error(span, error)
        sub.in_flight.dec()
        # The exemplar marks this span, as it would the current one: no context to
        # attach (and so safe in any task, or a finalizer).
        sub.metrics.record_process(
            sub.template,
            sub.group,
            error_type(error) if error is not None else "",
            perf_counter() - self._started,
            span.get_span_context(),
            span,
        )
        span.end()
        companion, self._companion = self._companion, None
        if companion is not None:
            companion.end(error)
        # The message may hold this delivery (JetStream settlement): let go of it,
        # so the two are freed without waiting for the cycle collector.
        self.msg = None
        self.message = None

    async def run(self, app: HandleApp) -> None:
        """Start, run ``app`` with the span and correlation current, finish (callbacks)."""
        message = self.start()
        assert self._context is not None and self.correlation is not None
        otel_token = otel_context.attach(self._context)
        correlation_token = correlation.attach(self.correlation)
        error: BaseException | None = None
        try:
            await app(message)
        except BaseException as exc:
            error = exc
            raise
        finally:
            correlation.detach(correlation_token)
            otel_context.detach(otel_token)
            self.finish(error)

    def activate(self, task: asyncio.Task[Any] | None) -> None:
        """Make the span and correlation current in the pulling task (``task``)."""
        assert self._context is not None and self.correlation is not None
        self._owner = task
        self._previous = (otel_context.get_current(), correlation.current())
        otel_context.attach(self._context)
        correlation.attach(self.correlation)

    def deactivate(self, running: asyncio.Task[Any] | None) -> None:
        """Restore what was current before :meth:`activate`: only in the pulling task
        (``running`` is the task this runs in), and only what is still this delivery's
        (values set, never tokens reset)."""
        previous = self._previous
        if previous is None or running is not self._owner:
            return
        self._previous = None
        if otel_context.get_current() is self._context:
            otel_context.attach(previous[0])
        if correlation.current() is self.correlation:
            correlation.attach(previous[1])

    def accompany(self) -> Awaitable[None] | None:
        """Run the user's handle middlewares in a task beside the pulled message's
        handling; returns what to await until their code before ``await
        self.app(message)`` ran (``None``: no middlewares)."""
        middlewares = self.subscriber.middlewares
        if not middlewares or self.message is None:
            return None
        companion = _Companion(middlewares, self.message)
        self._companion = companion
        return companion.reached


class _Companion:
    """The user's handle middlewares around a pulled message, in a task of their own.

    Created in the pulling task right after the delivery was made current there,
    so the task's context has the span and correlation current. Its innermost app
    waits for the delivery to finish and raises the error it finished with.
    """

    __slots__ = ("_end", "reached", "task")

    def __init__(self, middlewares: Sequence[HandleMiddleware], message: IncomingMessage) -> None:
        loop = asyncio.get_running_loop()
        self._end: asyncio.Future[None] = loop.create_future()
        self.reached: asyncio.Future[None] = loop.create_future()
        handling: HandleApp = self._handling
        self.task = loop.create_task(self._chain(build_chain(middlewares, handling), message))
        self.task.add_done_callback(self._done)

    @staticmethod
    async def _chain(chain: HandleApp, message: IncomingMessage) -> None:
        await chain(message)

    async def _handling(self, message: IncomingMessage) -> None:
        if not self.reached.done():
            self.reached.set_result(None)
        await self._end

    def end(self, error: BaseException | None) -> None:
        if self._end.done():
            return
        try:
            if error is None:
                self._end.set_result(None)
            elif isinstance(error, asyncio.CancelledError):
                self._end.cancel()
            else:
                self._end.set_exception(error)
        except RuntimeError:  # the event loop is closed: the task is gone with it
            pass

    def _done(self, task: asyncio.Task[None]) -> None:
        if not self.reached.done():
            self.reached.set_result(None)
        error = internals.task_error(task)
        if error is None or isinstance(error, asyncio.CancelledError):
            return
        if self._end.done() and not self._end.cancelled() and self._end.exception() is error:
            return  # the handling's own error, passed through
        _log.error("natstrace: a handle middleware failed", exc_info=error)


class Handout:
    """The pulled deliveries of one subscription, at most one per pulling task.

    Handing out a message finishes the one this task holds; :meth:`finish_all`
    (unsubscribe, drain, the client's drain or close) finishes them all. A task
    that ends finishes what it holds, with the error it ended with.
    """

    def __init__(self, handouts: weakref.WeakSet[Handout]) -> None:
        self._open: dict[asyncio.Task[Any] | None, Delivery] = {}
        self._watched: weakref.WeakSet[asyncio.Task[Any]] = weakref.WeakSet()
        handouts.add(self)

    def hand_out(self, delivery: Delivery) -> Awaitable[None] | None:
        """Finish this task's previous delivery, start ``delivery`` and make it current.

        Returns what an async pull should await before giving the message to the
        user (the middlewares' code before the handling), or ``None``.
        """
        task = _current_task()
        previous = self._open.pop(task, None)
        if previous is not None:
            previous.deactivate(task)
            previous.finish()
        delivery.start()
        delivery.activate(task)
        self._open[task] = delivery
        # A task listed in _open is watched (both from its first hand-out until it
        # ends): only a task that held nothing here needs the weak set's lookup.
        if previous is None and task is not None and task not in self._watched:
            self._watched.add(task)
            task.add_done_callback(_on_task_done(self))
        return delivery.accompany()

    def finish_current(self) -> None:
        """The pulling task is done with the message it holds."""
        task = _current_task()
        delivery = self._open.pop(task, None)
        if delivery is not None:
            delivery.deactivate(task)
            delivery.finish()

    def finish_all(self) -> None:
        """Finish every handed-out message (from any task).

        A delivery held by another task stays listed, finished, so that its task
        can still take its context off at its next pull.
        """
        task = _current_task()
        for owner, delivery in list(self._open.items()):
            delivery.deactivate(task)
            delivery.finish()
            if owner is task:
                del self._open[owner]

    def __del__(self) -> None:
        # The last resort: nothing refers to this subscription's handout any more,
        # so nothing else can finish what it still holds.
        for delivery in self._open.values():
            try:
                delivery.finish()
            except Exception:  # never raise from a finaliser
                _log.debug("natstrace: finishing an abandoned delivery failed", exc_info=True)

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._watched.discard(task)
        delivery = self._open.pop(task, None)
        if delivery is not None:
            delivery.finish(internals.task_error(task))


def _on_task_done(handout: Handout) -> Callable[[asyncio.Task[Any]], None]:
    # A weak reference: a task that outlives the subscription must not keep it alive.
    ref = weakref.ref(handout)

    def done(task: asyncio.Task[Any]) -> None:
        live = ref()
        if live is not None:
            live._task_done(task)

    return done
