"""What goes on the wire, as a plain nats-py subscriber receives it."""

from __future__ import annotations

import asyncio

from nats.aio.client import Client
from nats.aio.msg import Msg


async def received(raw: Client, subject: str) -> asyncio.Queue[Msg]:
    """A queue of the messages on ``subject``, subscribed (and flushed) on ``raw``."""
    queue: asyncio.Queue[Msg] = asyncio.Queue()

    async def keep(msg: Msg) -> None:
        await queue.put(msg)

    await raw.subscribe(subject, cb=keep)
    await raw.flush()
    return queue
