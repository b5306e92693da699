"""Traced subscriptions, for both ways nats-py delivers messages.

With ``cb=``, the callback runs inside the message's delivery. Without it,
iterating ``sub.messages`` or calling ``next_msg()`` hands out one message at a
time: its handling ends at the next pull in the same task, when the pulling task
ends, or when the subscription (or the client) is unsubscribed, drained or closed
(see :mod:`natstrace.middleware.delivery`).
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING, Any

from nats.errors import Error as NatsError

from natstrace.middleware.chain import ClientChains
from natstrace.middleware.contract import IncomingMessage
from natstrace.middleware.delivery import Delivery, Subscriber

if TYPE_CHECKING:
    from nats.aio.msg import Msg
    from nats.aio.subscription import Subscription

__all__ = ["InstrumentedSubscription", "check_callback", "traced_callback"]

Prepare = Callable[["Msg"], "Msg"]
Callback = Callable[["Msg"], Awaitable[None]]


def check_callback(cb: object) -> None:
    """Refuse what nats-py refuses as a message callback, before subscribing.

    natstrace hands nats-py a coroutine function of its own, so nats-py cannot see
    what the user passed; without this check a plain function would be accepted and
    then fail on every message.
    """
    func = getattr(cb, "func", None)  # functools.partial, as nats-py allows
    if not (inspect.iscoroutinefunction(cb) or inspect.iscoroutinefunction(func)):
        raise NatsError("nats: must use coroutine for subscriptions")


def traced_callback(subscriber: Subscriber, cb: Callback, prepare: Prepare) -> Callback:
    """Wrap a nats-py message callback so that it runs inside each message's delivery.

    Exceptions from ``cb`` propagate unchanged, so nats-py reports them to the
    client's ``error_cb`` as it would without natstrace.
    """
    check_callback(cb)

    # Not a coroutine: the callback's own is awaited by the delivery (one less per message).
    def user(message: IncomingMessage) -> Awaitable[None]:
        return cb(message.msg)

    chain = subscriber.chain(user)

    async def traced(msg: Msg) -> None:
        await subscriber.delivery(prepare(msg)).run(chain)

    return traced


class InstrumentedSubscription:
    """A nats-py ``Subscription`` whose delivered messages are traced.

    Everything not defined here (``subject``, ``queue``, ``pending_msgs``,
    ``delivered``, ...) is the wrapped subscription's.
    """

    def __init__(
        self, sub: Subscription, chains: ClientChains, subscriber: Subscriber, prepare: Prepare
    ) -> None:
        self._sub = sub
        self._subscriber = subscriber
        self._prepare = prepare
        self._handout = chains.handout()

    @property
    def subscription(self) -> Subscription:
        """The wrapped nats-py subscription."""
        return self._sub

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sub, name)

    def _delivery(self, msg: Msg) -> Delivery:
        return self._subscriber.delivery(self._prepare(msg))

    async def _hand_out(self, msg: Msg) -> Msg:
        before_handling = self._handout.hand_out(self._delivery(msg))
        if before_handling is not None:
            await before_handling
        return msg

    @property
    def messages(self) -> AsyncIterator[Msg]:
        """Iterate the messages; each one's span stays open until the next is requested.

        Leaving the loop early keeps the last message current in this task until
        ``unsubscribe()``, ``drain()``, the next ``next_msg()`` or the task's end.
        """
        return _Messages(self, self._sub.messages)

    async def next_msg(self, timeout: float | None = 1.0) -> Msg:
        """Like nats-py's ``next_msg``; the previous message's handling ends here."""
        self._handout.finish_current()
        return await self._hand_out(await self._sub.next_msg(timeout))

    def _finish_current(self) -> None:
        self._handout.finish_current()

    async def unsubscribe(self, limit: int = 0) -> None:
        """Finish the messages being handled, then unsubscribe."""
        self._handout.finish_all()
        await self._sub.unsubscribe(limit)

    async def drain(self) -> None:
        """Finish the messages being handled, then drain."""
        self._handout.finish_all()
        await self._sub.drain()  # type: ignore[no-untyped-call]


class _Messages:
    """The async iterator behind :attr:`InstrumentedSubscription.messages`.

    A class rather than an async generator: a generator left by ``break`` is
    closed later by the event loop in another task, where the pulling task's
    context is out of reach.
    """

    def __init__(self, sub: InstrumentedSubscription, source: AsyncIterator[Msg]) -> None:
        self._sub = sub
        self._source = source

    def __aiter__(self) -> _Messages:
        return self

    async def __anext__(self) -> Msg:
        self._sub._finish_current()
        try:
            msg = await self._source.__anext__()
        except StopAsyncIteration:
            self._sub._finish_current()
            raise
        return await self._sub._hand_out(msg)
