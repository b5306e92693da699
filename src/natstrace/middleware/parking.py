"""Run a handle chain around code that is not a callback: ``async for`` and ``next_msg()``.

With a callback, the chain's innermost app simply awaits the user's handler.
When the user pulls messages instead, the handling is the user's loop body,
which the chain cannot call. So the innermost app *parks*: it awaits
:data:`PARK`, which suspends the whole chain right where the handler would run,
with its span current and its correlation attached in the caller's task. The
loop body runs; when the user asks for the next message the chain is resumed,
and its middlewares finish (spans end, metrics record) as they would after a
callback returned. One chain, two ways to consume.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine, Generator
from typing import Any

from natstrace.middleware.types import HandleApp, IncomingMessage

__all__ = ["PARK", "ParkedChain", "park"]


class _Park:
    """Awaiting this yields a marker up through every ``await`` to :class:`_Drive`."""

    __slots__ = ()

    def __await__(self) -> Generator[Any, None, None]:
        yield self


PARK = _Park()


async def park(message: IncomingMessage) -> None:
    """The innermost app for pulled messages: hand the message to the user's code."""
    await PARK


class _Drive:
    """Runs a coroutine inside the awaiting task until it parks or returns.

    Everything else the coroutine awaits (futures, ``sleep(0)``) is passed on to
    the event loop unchanged, and what the loop sends or throws back is passed in,
    exactly as ``await`` would.
    """

    __slots__ = ("_coroutine",)

    def __init__(self, coroutine: Coroutine[Any, Any, None]) -> None:
        self._coroutine = coroutine

    def __await__(self) -> Generator[Any, Any, bool]:
        coroutine = self._coroutine
        value: Any = None
        error: BaseException | None = None
        while True:
            try:
                yielded = coroutine.throw(error) if error is not None else coroutine.send(value)
            except StopIteration:
                return False
            if yielded is PARK:
                return True
            value, error = None, None
            try:
                value = yield yielded
            except BaseException as exc:
                error = exc


class ParkedChain:
    """Holds at most one chain parked at the user's code, for one subscription.

    The parked chain's context lives in the task that pulled the message, and only
    that task can take it off again; :meth:`finish` from another task leaves it to
    the owner (whose next pull, or the end of its iteration, finishes it).
    """

    def __init__(self, chain: HandleApp) -> None:
        self._chain: Callable[[IncomingMessage], Awaitable[None]] = chain
        self._parked: Coroutine[Any, Any, None] | None = None
        self._owner: asyncio.Task[Any] | None = None

    async def enter(self, message: IncomingMessage) -> None:
        """Run the chain for ``message`` up to the point where the user handles it."""
        await self.finish()
        coroutine = self._chain(message)
        if not isinstance(coroutine, Coroutine):
            raise TypeError("handle middlewares must be coroutine functions to park")
        if await _Drive(coroutine):
            self._parked, self._owner = coroutine, asyncio.current_task()

    async def finish(self) -> None:
        """The user is done with the parked message: let the chain complete."""
        if self._parked is None or asyncio.current_task() is not self._owner:
            return
        coroutine, self._parked = self._parked, None
        await _Drive(coroutine)
