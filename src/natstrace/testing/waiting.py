"""Wait for an asynchronous flow to settle before asserting on it."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from nats.aio.client import Client

    from natstrace.client.instrumented import InstrumentedClient

__all__ = ["eventually", "subscriptions_ready"]

T = TypeVar("T")


async def eventually(
    check: Callable[[], T | Awaitable[T]], *, timeout: float = 5.0, interval: float = 0.02
) -> T:
    """Run ``check`` until it stops raising ``AssertionError``; return what it returned.

    Messages are handled asynchronously, so the flow may still be moving when the
    test looks. After ``timeout`` seconds the last ``AssertionError`` (with its
    flow tree) is raised as is.

    Example::

        await eventually(lambda: natstrace_spans.assert_processed_by("billing"))
    """
    deadline = time.monotonic() + timeout
    while True:
        try:
            result = check()
            if isinstance(result, Awaitable):
                return await result
            return result
        except AssertionError:
            if time.monotonic() >= deadline:
                raise
        await asyncio.sleep(interval)


async def subscriptions_ready(*clients: Client | InstrumentedClient) -> None:
    """Return once the server has every subscription these clients made so far.

    ``await nc.flush()`` alone is not enough: nats-py sends its PING *ahead* of
    commands still waiting in its buffer, so the PONG can come back before the
    server saw the SUB, and a message published right after from another connection
    is lost (about 1 run in 100). A second round trip follows the SUB for sure.

    Example::

        await billing.subscribe("orders.*", cb=bill)
        await subscriptions_ready(billing)
        await orders.publish("orders.created", b"{}")
    """
    for client in clients:
        await client.flush()
        await client.flush()
