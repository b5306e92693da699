"""The nats-py calls a patched client's middleware chain ends in.

When :mod:`natstrace.instrumentor.patch` has replaced ``Client.publish`` and
friends, the chain for a client cannot end in ``nc.publish`` (that is the patch
again). It ends in a :class:`RawClient` instead: a view of the same client whose
methods are nats-py's own functions.

nats-py also calls its own methods internally (``request`` publishes through
``self.publish``). While a :class:`RawClient` call runs, :func:`passing_through`
is true, and the patched methods hand such nested calls straight to nats-py.
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, Final

from nats.aio.client import Client

if TYPE_CHECKING:
    from nats.aio.msg import Msg
    from nats.aio.subscription import Subscription

__all__ = ["PATCHED_METHODS", "RawClient", "original", "originals", "passing_through"]

PATCHED_METHODS: Final = ("publish", "request", "subscribe", "jetstream", "jsm")
"""The ``Client`` attributes the zero-code instrumentation replaces."""

originals: dict[str, Callable[..., Any]] = {}
"""nats-py's functions as they were when the patch was installed (empty when not)."""

_PASSING_THROUGH: ContextVar[bool] = ContextVar("natstrace_passing_through", default=False)


def original(name: str) -> Callable[..., Any]:
    """nats-py's own ``Client.<name>``, whether or not the patch is installed."""
    function = originals.get(name)
    if function is None:
        function = vars(Client)[name]
    return function


def passing_through() -> bool:
    """Whether the running code is nats-py working on behalf of a :class:`RawClient` call."""
    return _PASSING_THROUGH.get()


class RawClient:
    """A nats-py client as natstrace's chain sees it: nats-py's methods, never the patch.

    Everything but the methods below is the client's own (``connected_url``,
    ``flush``, ``_inbox_prefix`` ...).

    Example::

        raw = RawClient(nc)
        await raw.publish("orders.created", b"{}")   # untraced, even when patched
    """

    def __init__(self, nc: Client) -> None:
        self.nc = nc

    def __getattr__(self, name: str) -> Any:
        return getattr(self.nc, name)

    def __repr__(self) -> str:
        return f"RawClient({self.nc!r})"

    async def publish(
        self,
        subject: str,
        payload: bytes = b"",
        reply: str = "",
        headers: dict[str, str] | None = None,
    ) -> None:
        """nats-py's ``publish``."""
        token = _PASSING_THROUGH.set(True)
        try:
            await original("publish")(self.nc, subject, payload, reply, headers)
        finally:
            _PASSING_THROUGH.reset(token)

    async def request(
        self,
        subject: str,
        payload: bytes = b"",
        timeout: float = 0.5,
        old_style: bool = False,
        headers: dict[str, Any] | None = None,
    ) -> Msg:
        """nats-py's ``request``; its inner publish and inbox subscription pass through."""
        token = _PASSING_THROUGH.set(True)
        try:
            reply: Msg = await original("request")(
                self.nc, subject, payload, timeout=timeout, old_style=old_style, headers=headers
            )
            return reply
        finally:
            _PASSING_THROUGH.reset(token)

    async def subscribe(self, subject: str, *args: Any, **options: Any) -> Subscription:
        """nats-py's ``subscribe``.

        No pass-through flag here: nats-py starts the subscription's delivery task
        now, and the task would inherit the flag, leaving the handler's own
        publishes untraced.
        """
        sub: Subscription = await original("subscribe")(self.nc, subject, *args, **options)
        return sub

    def jetstream(self, **options: Any) -> Any:
        """A JetStream context bound to this view, so its calls never reach the patch."""
        return original("jetstream")(self, **options)

    def jsm(self, **options: Any) -> Any:
        """A JetStream manager bound to this view."""
        return original("jsm")(self, **options)
