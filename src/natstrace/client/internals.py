"""Every touch of a private part of nats-py or asyncio, in one module.

natstrace needs a few things nats-py does not expose: the client a delivered
message settles and responds through, the stream and consumer a pull
subscription is bound to, whether nats-py wrapped a push callback to
auto-acknowledge, a bucket's subject prefix and JetStream context, the prefix of
a client's reply inboxes; and from
asyncio, the exception a task ended with, read without marking it retrieved
(so asyncio still reports an exception nobody awaited). Each function here is
pinned by a contract test against the supported nats-py range: when nats-py
changes one of these, that test fails and names it.
"""

from __future__ import annotations

import asyncio
import copy
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from nats.aio.client import Client
    from nats.aio.msg import Msg
    from nats.js.client import JetStreamContext
    from nats.js.kv import KeyValue

__all__ = [
    "bucket_context",
    "bucket_on",
    "bucket_prefix",
    "inbox_prefix",
    "message_client",
    "pull_consumer",
    "pull_stream",
    "push_callback",
    "route_message_client",
    "task_error",
]


def message_client(msg: Msg) -> object:
    """The client ``msg.respond()``, ``ack()``, ``nak()``, ... publish through."""
    return msg._client


def route_message_client(msg: Msg, client: object) -> None:
    """Make ``msg``'s replies and settlements go through ``client`` (a stand-in that
    forwards to the real client)."""
    msg._client = client  # type: ignore[assignment]


def pull_stream(sub: JetStreamContext.PullSubscription) -> str:
    """The stream a pull subscription fetches from."""
    stream: str = sub._stream
    return stream


def pull_consumer(sub: JetStreamContext.PullSubscription) -> str:
    """The consumer a pull subscription is bound to (nats-py's pick among the names given)."""
    consumer: str | None = sub._consumer
    return consumer or ""


def push_callback(sub: JetStreamContext.PushSubscription) -> object:
    """The callback nats-py runs for a push subscription: the one it was given, or
    nats-py's auto-acknowledging wrapper around it."""
    return getattr(sub, "_cb", None)


def bucket_prefix(kv: KeyValue) -> str:
    """The subject prefix of a key-value bucket's keys (``$KV.<bucket>.``)."""
    prefix: str = kv._pre
    return prefix


def bucket_on(kv: KeyValue, js: Any) -> KeyValue:
    """A copy of ``kv`` whose own operations (``watch``) run on ``js``."""
    scoped = copy.copy(kv)
    scoped._js = js
    return scoped


def bucket_context(kv: KeyValue) -> JetStreamContext:
    """The JetStream context a bucket runs on."""
    js: JetStreamContext = kv._js
    return js


def inbox_prefix(nc: Client) -> str:
    """The prefix of ``nc``'s reply inboxes (``_INBOX`` unless the client was given
    another ``inbox_prefix``)."""
    prefix = getattr(nc, "_inbox_prefix", b"_INBOX")
    return bytes(prefix).decode()


def task_error(task: asyncio.Task[Any]) -> BaseException | None:
    """What ``task`` ended with, without marking its exception as retrieved."""
    if task.cancelled():
        return asyncio.CancelledError()
    error: BaseException | None = task._exception
    return error
