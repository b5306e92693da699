"""``payments``: charges every new order (choreography: it reacts to ``orders.created``).

No one tells it to: it hears the event and publishes ``payments.authorized`` or
``payments.declined`` (about a quarter of the cards are declined, see
:mod:`natstrace.demo.scenario`). A decline is a business outcome, not an error:
the span stays OK and the orchestrator compensates.
"""

from __future__ import annotations

import asyncio
import sys

from nats.aio.msg import Msg

from natstrace.demo import contract, scenario
from natstrace.demo.service import ServiceContext, run_service

__all__ = ["start"]


async def start(context: ServiceContext) -> None:
    """Subscribe to new orders in the ``payments`` queue group."""
    nc = context.nc

    async def charge(msg: Msg) -> None:
        order = contract.Order.from_bytes(msg.data)
        # The card network's latency, so the trace has something to show.
        await asyncio.sleep(0.004 + (order.number % 5) / 1000)
        fields = {"order_id": order.order_id, "amount_cents": order.amount_cents}
        if scenario.is_declined(order.number):
            fields["reason"] = "card declined"
            await nc.publish(contract.PAYMENTS_DECLINED, contract.encode(fields))
        else:
            await nc.publish(contract.PAYMENTS_AUTHORIZED, contract.encode(fields))

    await nc.subscribe(contract.ORDERS_CREATED, queue="payments", cb=charge)


if __name__ == "__main__":
    sys.exit(run_service("payments", start))
