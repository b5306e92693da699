"""``inventory``: reserves and releases stock, by request-reply.

``inventory.reserve`` is the saga's first step; ``inventory.release`` is its
compensation, asked for when the payment is declined. Both answer on the
requester's inbox, so the trace shows ``request`` -> ``process`` -> reply.
"""

from __future__ import annotations

import asyncio
import sys
from itertools import count

from nats.aio.msg import Msg

from natstrace.demo import contract
from natstrace.demo.service import ServiceContext, run_service

__all__ = ["start"]


async def start(context: ServiceContext) -> None:
    """Answer reservations and releases in the ``inventory`` queue group."""
    reservations: dict[str, str] = {}
    numbers = count(1)

    async def reserve(msg: Msg) -> None:
        order = contract.Order.from_bytes(msg.data)
        await asyncio.sleep(0.002)
        reservation = f"res-{next(numbers)}"
        reservations[order.order_id] = reservation
        await msg.respond(contract.encode({"reserved": True, "reservation_id": reservation}))

    async def release(msg: Msg) -> None:
        order_id = str(contract.decode(msg.data).get("order_id", ""))
        released = reservations.pop(order_id, None)
        await msg.respond(contract.encode({"released": released is not None}))

    await context.nc.subscribe(contract.INVENTORY_RESERVE, queue="inventory", cb=reserve)
    await context.nc.subscribe(contract.INVENTORY_RELEASE, queue="inventory", cb=release)


if __name__ == "__main__":
    sys.exit(run_service("inventory", start))
