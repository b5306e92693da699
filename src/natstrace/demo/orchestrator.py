"""``orchestrator``: runs the create-order saga, with compensation.

The saga for one order (orchestration, next to the choreography of payments):

1. on ``orders.created``: reserve stock (request ``inventory.reserve``);
2. on the payment's outcome (``payments.*``, published by payments on its own):
   - authorized: request the shipment (JetStream ``shipments.requested``);
   - declined: **compensate** step 1 (request ``inventory.release``), then
     publish ``orders.cancelled``;
3. on ``shipments.dispatched``: publish ``orders.completed``.

Steps 1 and 2 start from different events and may arrive in either order, so
the outcome handler waits for the reservation of its order.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from dataclasses import dataclass, field

from nats.aio.msg import Msg

from natstrace.demo import contract
from natstrace.demo.service import ServiceContext, run_service

__all__ = ["Saga", "start"]

_log = logging.getLogger("natstrace.demo.orchestrator")

STEP_TIMEOUT = 5.0
"""Seconds a step waits for another service before the saga gives up."""


@dataclass
class Saga:
    """One order's saga: the order, once seen, and its reservation, once made."""

    order: contract.Order | None = None
    reservation: str | None = None
    reserved: asyncio.Event = field(default_factory=asyncio.Event)


async def start(context: ServiceContext) -> None:
    """Subscribe to the events that move sagas forward."""
    nc = context.nc
    js = nc.jetstream()
    sagas: dict[str, Saga] = {}

    async def on_created(msg: Msg) -> None:
        order = contract.Order.from_bytes(msg.data)
        saga = sagas.setdefault(order.order_id, Saga())
        saga.order = order
        reply = await nc.request(contract.INVENTORY_RESERVE, msg.data, timeout=STEP_TIMEOUT)
        saga.reservation = str(contract.decode(reply.data).get("reservation_id"))
        saga.reserved.set()

    async def on_payment(msg: Msg) -> None:
        order_id = str(contract.decode(msg.data).get("order_id", ""))
        saga = sagas.setdefault(order_id, Saga())
        await asyncio.wait_for(saga.reserved.wait(), STEP_TIMEOUT)
        if msg.subject == contract.PAYMENTS_DECLINED:
            # Compensation: undo the reservation of step 1, then end the saga.
            await nc.request(
                contract.INVENTORY_RELEASE,
                contract.encode({"order_id": order_id, "reservation_id": saga.reservation}),
                timeout=STEP_TIMEOUT,
            )
            sagas.pop(order_id, None)
            fields = {"order_id": order_id, "compensated": True}
            await nc.publish(contract.ORDERS_CANCELLED, contract.encode(fields))
        elif saga.order is not None:
            await js.publish(contract.SHIPMENTS_REQUESTED, saga.order.to_bytes())

    async def on_dispatched(msg: Msg) -> None:
        fields = contract.decode(msg.data)
        if sagas.pop(str(fields.get("order_id", "")), None) is None:
            # A shipment left over from an earlier run on a shared server.
            _log.info("dispatched order without a saga: %s", fields.get("order_id"))
            return
        await nc.publish(contract.ORDERS_COMPLETED, contract.encode(fields))

    await nc.subscribe(contract.ORDERS_CREATED, queue="orchestrator", cb=on_created)
    await nc.subscribe(contract.PAYMENTS_OUTCOMES, queue="orchestrator", cb=on_payment)
    await nc.subscribe(contract.SHIPMENTS_DISPATCHED, queue="orchestrator", cb=on_dispatched)


if __name__ == "__main__":
    sys.exit(run_service("orchestrator", start))
