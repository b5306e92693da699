"""Traced subscriptions, for both ways nats-py delivers messages.

With ``cb=``, the callback runs inside the handle chain. Without it, iterating
``sub.messages`` or calling ``next_msg()`` hands out one message at a time: its
handling counts as finished when the next one is requested, or when the
subscription is unsubscribed or drained (see :mod:`natstrace.middleware.parking`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING, Any

from natstrace.config import Trust
from natstrace.middleware.parking import ParkedChain, park
from natstrace.middleware.pipeline import Pipeline

if TYPE_CHECKING:
    from nats.aio.msg import Msg
    from nats.aio.subscription import Subscription

__all__ = ["InstrumentedSubscription", "traced_callback"]

Prepare = Callable[["Msg"], "Msg"]


def traced_callback(
    pipeline: Pipeline,
    cb: Callable[[Msg], Awaitable[None]],
    template: str,
    queue: str,
    prepare: Prepare,
    trust: Trust | None = None,
) -> Callable[[Msg], Awaitable[None]]:
    """Wrap a nats-py message callback so that it runs inside the handle chain.

    Exceptions from ``cb`` propagate unchanged, so nats-py reports them to the
    client's ``error_cb`` as it would without natstrace.
    """

    async def _user(message: Any) -> None:
        await cb(message.msg)

    chain = pipeline.handle_chain(_user)

    async def _traced(msg: Msg) -> None:
        await chain(pipeline.incoming(prepare(msg), template, queue, trust))

    return _traced


class InstrumentedSubscription:
    """A nats-py ``Subscription`` whose delivered messages are traced.

    Everything not defined here (``subject``, ``queue``, ``pending_msgs``,
    ``delivered``, ...) is the wrapped subscription's.
    """

    def __init__(
        self,
        sub: Subscription,
        pipeline: Pipeline,
        template: str,
        prepare: Prepare,
        trust: Trust | None = None,
    ) -> None:
        self._sub = sub
        self._trust = trust
        self._pipeline = pipeline
        self._template = template
        self._prepare = prepare
        self._parked = ParkedChain(pipeline.handle_chain(park))

    @property
    def subscription(self) -> Subscription:
        """The wrapped nats-py subscription."""
        return self._sub

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sub, name)

    async def _hand_out(self, msg: Msg) -> Msg:
        msg = self._prepare(msg)
        await self._parked.enter(
            self._pipeline.incoming(msg, self._template, self._sub.queue, self._trust)
        )
        return msg

    @property
    def messages(self) -> AsyncIterator[Msg]:
        """Iterate the messages; each one's span stays open until the next is requested.

        Leaving the loop early keeps the last message current in this task until
        ``unsubscribe()``, ``drain()`` or the next ``next_msg()``.
        """
        return _Messages(self, self._sub.messages)

    async def next_msg(self, timeout: float | None = 1.0) -> Msg:
        """Like nats-py's ``next_msg``; the previous message's handling ends here."""
        await self._parked.finish()
        return await self._hand_out(await self._sub.next_msg(timeout))

    async def _finish(self) -> None:
        await self._parked.finish()

    async def unsubscribe(self, limit: int = 0) -> None:
        """Finish the message being handled, then unsubscribe."""
        await self._parked.finish()
        await self._sub.unsubscribe(limit)

    async def drain(self) -> None:
        """Finish the message being handled, then drain."""
        await self._parked.finish()
        await self._sub.drain()  # type: ignore[no-untyped-call]


class _Messages:
    """The async iterator behind :attr:`InstrumentedSubscription.messages`.

    A class rather than an async generator: a generator left by ``break`` is
    closed later by the event loop in another task, where the parked context
    could not be detached.
    """

    def __init__(self, sub: InstrumentedSubscription, source: AsyncIterator[Msg]) -> None:
        self._sub = sub
        self._source = source

    def __aiter__(self) -> _Messages:
        return self

    async def __anext__(self) -> Msg:
        await self._sub._finish()
        try:
            msg = await self._source.__anext__()
        except StopAsyncIteration:
            await self._sub._finish()
            raise
        return await self._sub._hand_out(msg)
