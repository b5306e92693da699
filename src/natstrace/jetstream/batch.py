"""A fetched batch, and when each of its messages counts as handed to user code.

``fetch()`` returns every message at once, but each ``process`` span must cover
that message's handling only. So the batch is a ``list`` (everything nats-py's
``List[Msg]`` allows still works) that notices when a message is *taken*:

- iterating it (``for msg in msgs:``) takes each message as the loop reaches it;
- indexing it (``msgs[0]``) or popping it (``msgs.pop(0)``) takes that message.

Taking a message starts its delivery (:mod:`natstrace.middleware.delivery`): its
process span is open and current in the taking task, and so is its correlation.
Its handling ends when the task takes the next message, when the loop runs out,
at the subscription's next ``fetch()`` or ``unsubscribe()``, when the client is
drained or closed, or when the task ends, whichever comes first. A message is
taken at most once; slices and copies hand out nothing.

A plain ``for`` hands out one message at a time. To handle the messages
concurrently, ``await msgs.gather(handle)`` runs ``handle(msg)`` for every
message not taken yet, each in its own task inside its own delivery (the
``asyncio.gather`` of those calls, with its result and errors): a task created
by ``asyncio.gather`` itself copies the context of the moment it is created,
which cannot be each message's.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Iterator
from typing import TYPE_CHECKING, SupportsIndex, TypeVar, overload

from natstrace.middleware.contract import IncomingMessage
from natstrace.middleware.delivery import Delivery, Handout, Subscriber

if TYPE_CHECKING:
    from nats.aio.msg import Msg

__all__ = ["FetchedMessages"]

T = TypeVar("T")


class FetchedMessages(list["Msg"]):
    """The messages of one ``fetch()``; taking one (iteration, index, pop) starts its handling."""

    def __init__(
        self,
        msgs: Iterable[Msg],
        deliveries: Iterable[Delivery],
        handout: Handout,
        subscriber: Subscriber,
    ) -> None:
        super().__init__(msgs)
        # By identity: a Msg compares by value. (list.__iter__: iterating takes.)
        pairs = zip(list.__iter__(self), deliveries, strict=True)
        self._deliveries = {id(msg): delivery for msg, delivery in pairs}
        self._handout = handout
        self._subscriber = subscriber

    def _take(self, msg: Msg) -> None:
        delivery = self._deliveries.pop(id(msg), None)
        if delivery is not None and not delivery.started:
            self._handout.hand_out(delivery)

    def __iter__(self) -> Iterator[Msg]:
        return _Taking(self)

    @overload
    def __getitem__(self, index: SupportsIndex) -> Msg: ...

    @overload
    def __getitem__(self, index: slice) -> list[Msg]: ...

    def __getitem__(self, index: SupportsIndex | slice) -> Msg | list[Msg]:
        if isinstance(index, slice):
            return list(super().__getitem__(index))
        msg = super().__getitem__(index)
        self._take(msg)
        return msg

    def pop(self, index: SupportsIndex = -1) -> Msg:
        """Remove and take the message at ``index``."""
        msg = super().pop(index)
        self._take(msg)
        return msg

    async def gather(self, handle: Callable[[Msg], Awaitable[T]]) -> list[T | None]:
        """Handle every message not taken yet concurrently, each in its own task and
        delivery; returns (and raises) what ``asyncio.gather`` of those calls does
        (``None`` for a message whose handling a middleware skipped)."""
        self._handout.finish_current()
        runs: list[Awaitable[T | None]] = []
        for msg in list.__iter__(self):
            delivery = self._deliveries.pop(id(msg), None)
            if delivery is not None and not delivery.started:
                runs.append(_handle_one(delivery, self._subscriber, handle))
        return list(await asyncio.gather(*runs))


async def _handle_one(
    delivery: Delivery, subscriber: Subscriber, handle: Callable[[Msg], Awaitable[T]]
) -> T | None:
    result: list[T] = []

    async def call(message: IncomingMessage) -> None:
        result.append(await handle(message.msg))

    await delivery.run(subscriber.chain(call))
    return result[0] if result else None


class _Taking:
    """Iterates a batch, taking each message as it is reached."""

    __slots__ = ("_batch", "_index")

    def __init__(self, batch: FetchedMessages) -> None:
        self._batch = batch
        self._index = 0

    def __iter__(self) -> _Taking:
        return self

    def __next__(self) -> Msg:
        index = self._index
        batch = self._batch
        if index >= len(batch):
            batch._handout.finish_current()
            raise StopIteration
        self._index = index + 1
        msg = list.__getitem__(batch, index)
        batch._take(msg)
        return msg
