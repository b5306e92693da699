"""Push consumers (``js.subscribe``): with ``cb=`` and iterated.

With a callback, nats-py auto-acknowledges each message after the callback
returns, unless ``manual_ack=True`` or the consumer's ack policy is ``none``.
It does so by wrapping the callback it is given (ours), which would put the
ack *after* the process span ended. So when nats-py wrapped it, natstrace
performs that same ack itself at the same point (right after the user's
callback returned without raising), inside the span; nats-py's own ack then
finds the message acknowledged and does nothing. Nothing is acked that nats-py
would not have acked.

Whether nats-py wrapped the callback is only known once ``subscribe`` returns,
and messages may arrive before; the callback waits for that answer (it is
ready before the subscribing task next yields, so this costs nothing after
the first message).

Iterated push subscriptions (``sub.messages``, ``next_msg()``) behave as core
ones (see :mod:`natstrace.middleware.subscription`): nats-py never auto-acks them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from contextlib import suppress
from typing import TYPE_CHECKING

from nats.errors import MsgAlreadyAckdError

from natstrace.middleware.jetstream_consume import JetStreamConsumer
from natstrace.middleware.parking import ParkedChain, park
from natstrace.middleware.subscription import InstrumentedSubscription
from natstrace.middleware.types import IncomingMessage

if TYPE_CHECKING:
    from nats.aio.msg import Msg
    from nats.js.client import JetStreamContext

__all__ = ["JetStreamPushSubscription", "PushCallback"]


class PushCallback:
    """The callback natstrace gives nats-py: the user's callback inside the handle chain."""

    def __init__(self, consumer: JetStreamConsumer, cb: Callable[[Msg], Awaitable[None]]) -> None:
        self._consumer = consumer
        self._cb = cb
        self._bound = asyncio.Event()
        self._auto_ack = False
        self._chain = consumer.chain(self._handle)
        # nats-py wants a coroutine function (an instance is not one), and bind()
        # compares identities: one bound method, kept.
        self.callback: Callable[[Msg], Awaitable[None]] = self._deliver

    def bind(self, sub: JetStreamContext.PushSubscription | None) -> None:
        """``subscribe`` returned (``None``: it failed): learn whether nats-py auto-acks."""
        self._auto_ack = sub is not None and getattr(sub, "_cb", self.callback) is not self.callback
        self._bound.set()

    async def _handle(self, message: IncomingMessage) -> None:
        await self._cb(message.msg)
        if self._auto_ack:
            # Already settled by the user: nats-py ignores that too.
            with suppress(MsgAlreadyAckdError):
                await message.msg.ack()

    async def _deliver(self, msg: Msg) -> None:
        if not self._bound.is_set():
            await self._bound.wait()
        await self._chain(self._consumer.incoming(msg))


class JetStreamPushSubscription(InstrumentedSubscription):
    """nats-py's ``PushSubscription``, with its handed-out messages traced.

    Everything not defined here (``consumer_info()``, ``pending_msgs``, ...) is
    the wrapped subscription's.
    """

    def __init__(self, sub: JetStreamContext.PushSubscription, consumer: JetStreamConsumer) -> None:
        super().__init__(sub, consumer.pipeline, consumer.spec.template, consumer.prepare)
        self._consumer = consumer
        self._parked = ParkedChain(consumer.chain(park))

    async def _hand_out(self, msg: Msg) -> Msg:
        await self._parked.enter(self._consumer.incoming(msg))
        return msg
