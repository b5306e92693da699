"""A fetched batch, and when each of its messages counts as handed to user code.

``fetch()`` returns every message at once, but the user handles them one after
another, and each ``process`` span must cover that message's handling only. So
the batch is a ``list`` (everything nats-py's ``List[Msg]`` allows still works)
that notices when a message is *taken*:

- iterating it (``for msg in msgs:``) takes each message as the loop reaches it;
- indexing it (``msgs[0]``) takes that message.

Taking a message runs the handle chain up to the user's code and parks it there
(the mechanism of :mod:`natstrace.middleware.parking`): its process span is
open and current, and so is its correlation. The message's handling ends when
the next message is taken, when the loop runs out, or at the subscription's next
``fetch()`` or ``unsubscribe()``, whichever comes first. A message is taken at
most once; slices and copies hand out nothing.

The loop is a plain ``for``, so the parked chain is driven synchronously: that
works because natstrace's own middlewares do not await between the start of
handling and the user's code, nor after it. A user middleware that does await
there cannot be suspended inside a plain ``for``: that message's chain is closed
at that point (its span ends early, nothing is raised) and a warning is logged
once; use a push subscription with ``cb=`` for such middlewares.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine, Iterable, Iterator
from typing import TYPE_CHECKING, Any, Protocol, SupportsIndex, overload

from natstrace.middleware.parking import PARK
from natstrace.middleware.types import IncomingMessage

if TYPE_CHECKING:
    from nats.aio.msg import Msg

__all__ = ["FetchedMessages", "Handout", "SyncParkedChain"]

_log = logging.getLogger(__name__)


class SyncParkedChain:
    """Holds at most one handle chain parked at the user's code, driven without awaiting."""

    def __init__(self, chain: Callable[[IncomingMessage], Any]) -> None:
        self._chain = chain
        self._parked: Coroutine[Any, Any, None] | None = None
        self._owner: asyncio.Task[Any] | None = None
        self._warned = False

    def enter(self, message: IncomingMessage) -> None:
        """Finish the parked message, then run the chain for ``message`` up to the user."""
        self.finish()
        coroutine = self._chain(message)
        if self._step(coroutine):
            self._parked, self._owner = coroutine, _current_task()

    def finish(self) -> None:
        """Let the parked chain complete; only its owner task can (see parking.py)."""
        if self._parked is None or _current_task() is not self._owner:
            return
        coroutine, self._parked = self._parked, None
        self._step(coroutine)

    def _step(self, coroutine: Coroutine[Any, Any, None]) -> bool:
        try:
            yielded = coroutine.send(None)
        except StopIteration:
            return False
        if yielded is PARK:
            return True
        # A middleware awaited the event loop; a plain `for` cannot wait for it.
        coroutine.close()
        if not self._warned:
            self._warned = True
            _log.warning(
                "natstrace: a handle middleware awaited while a fetched message was handed "
                "out; its span was ended early. Use a push subscription (cb=) with such "
                "middlewares."
            )
        return False


def _current_task() -> asyncio.Task[Any] | None:
    try:
        return asyncio.current_task()
    except RuntimeError:
        return None


class Handout(Protocol):
    """Where a batch reports what the user takes (the pull subscription)."""

    def take(self, msg: Msg) -> None:
        """``msg`` is handed to user code now."""

    def finish(self) -> None:
        """The user is done with the message taken last."""


class FetchedMessages(list["Msg"]):
    """The messages of one ``fetch()``; taking one (iteration, index) starts its handling."""

    def __init__(self, msgs: Iterable[Msg], handout: Handout) -> None:
        super().__init__(msgs)
        self._handout = handout

    def __iter__(self) -> Iterator[Msg]:
        return _Taking(self, self._handout)

    @overload
    def __getitem__(self, index: SupportsIndex) -> Msg: ...

    @overload
    def __getitem__(self, index: slice) -> list[Msg]: ...

    def __getitem__(self, index: SupportsIndex | slice) -> Msg | list[Msg]:
        if isinstance(index, slice):
            return list(super().__getitem__(index))
        msg = super().__getitem__(index)
        self._handout.take(msg)
        return msg


class _Taking:
    """Iterates a batch, taking each message as it is reached."""

    __slots__ = ("_batch", "_handout", "_index")

    def __init__(self, batch: FetchedMessages, handout: Handout) -> None:
        self._batch = batch
        self._handout = handout
        self._index = 0

    def __iter__(self) -> _Taking:
        return self

    def __next__(self) -> Msg:
        index = self._index
        if index >= len(self._batch):
            self._handout.finish()
            raise StopIteration
        self._index = index + 1
        msg = list.__getitem__(self._batch, index)
        self._handout.take(msg)
        return msg
