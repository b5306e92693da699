"""Push consumers (``js.subscribe``): with ``cb=`` and iterated.

With a callback, nats-py auto-acknowledges each message after the callback
returns, unless ``manual_ack=True`` or the consumer's ack policy is ``none``.
It does so by wrapping the callback it is given (ours), which would put the
ack *after* the process span ended. So when nats-py wrapped it, natstrace
performs that same ack itself at the same point (right after the user's
callback returned without raising), inside the delivery; nats-py's own ack then
finds the message acknowledged and does nothing. Nothing is acked that nats-py
would not have acked.

Whether nats-py wrapped the callback is only known once ``subscribe`` returns,
and messages may arrive before; the callback waits for that answer (it is
ready before the subscribing task next yields, so this costs nothing after
the first message).

Iterated push subscriptions (``sub.messages``, ``next_msg()``) behave as core
ones (see :mod:`natstrace.client.subscription`): nats-py never auto-acks them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from contextlib import suppress
from typing import TYPE_CHECKING

from nats.errors import MsgAlreadyAckdError

from natstrace.client.internals import push_callback
from natstrace.client.subscription import InstrumentedSubscription, check_callback
from natstrace.jetstream.consume import JetStreamConsumer
from natstrace.middleware.contract import IncomingMessage
from natstrace.middleware.delivery import Delivery

if TYPE_CHECKING:
    from nats.aio.msg import Msg
    from nats.js.client import JetStreamContext

__all__ = ["JetStreamPushSubscription", "PushCallback"]


class PushCallback:
    """The callback natstrace gives nats-py: the user's callback inside each delivery."""

    def __init__(self, consumer: JetStreamConsumer, cb: Callable[[Msg], Awaitable[None]]) -> None:
        check_callback(cb)
        self._consumer = consumer
        self._cb = cb
        self._bound = asyncio.Event()
        self._auto_ack = False
        self._chain = consumer.subscriber.chain(self._handle)
        # nats-py wants a coroutine function (an instance is not one), and bind()
        # compares identities: one bound method, kept.
        self.callback: Callable[[Msg], Awaitable[None]] = self._deliver

    def bind(self, sub: JetStreamContext.PushSubscription | None) -> None:
        """``subscribe`` returned (``None``: it failed): learn whether nats-py auto-acks."""
        self._auto_ack = sub is not None and push_callback(sub) not in (None, self.callback)
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
        await self._consumer.delivery(msg).run(self._chain)


class JetStreamPushSubscription(InstrumentedSubscription):
    """nats-py's ``PushSubscription``, with its handed-out messages traced.

    Everything not defined here (``consumer_info()``, ``pending_msgs``, ...) is
    the wrapped subscription's.
    """

    def __init__(self, sub: JetStreamContext.PushSubscription, consumer: JetStreamConsumer) -> None:
        super().__init__(sub, consumer.chains, consumer.subscriber, _unchanged)
        self._consumer = consumer

    def _delivery(self, msg: Msg) -> Delivery:
        return self._consumer.delivery(msg)


def _unchanged(msg: Msg) -> Msg:
    return msg
