"""``orders``: places simulated orders and hears how their sagas ended.

Each order is published as ``orders.created`` inside
``natstrace.correlation_scope(order_id)``, as a web handler would with its
request ID, so the order ID becomes the workflow's correlation ID. An
``orders.audit`` event follows that no service subscribes to: the demo's
orphan for ``natstrace orphans`` to find.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys

from nats.aio.msg import Msg

import natstrace
from natstrace.demo import contract, scenario
from natstrace.demo.service import ServiceContext, run_service

__all__ = ["order_id", "start"]

_log = logging.getLogger("natstrace.demo.orders")


def order_id(run_id: str, number: int) -> str:
    """The order's ID, unique across runs that share a trace backend."""
    return f"order-{run_id}-{number:04d}"


async def _place(context: ServiceContext) -> None:
    nc, options = context.nc, context.options
    number = 0
    while not context.stop.is_set() and (options.orders == 0 or number < options.orders):
        number += 1
        order = contract.Order(
            order_id=order_id(options.run_id, number),
            number=number,
            sku=scenario.sku_for(number),
            quantity=1 + number % 3,
            amount_cents=scenario.amount_cents(number),
        )
        with natstrace.correlation_scope(order.order_id):
            await nc.publish(contract.ORDERS_CREATED, order.to_bytes())
            await nc.publish(contract.ORDERS_AUDIT, order.to_bytes())
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(context.stop.wait(), options.interval)


async def _outcome(msg: Msg) -> None:
    fields = contract.decode(msg.data)
    _log.info("%s: %s", msg.subject, fields.get("order_id"))


async def start(context: ServiceContext) -> None:
    """Listen for saga outcomes, then place orders in the background."""
    await context.nc.subscribe(contract.ORDERS_COMPLETED, queue="orders", cb=_outcome)
    await context.nc.subscribe(contract.ORDERS_CANCELLED, queue="orders", cb=_outcome)
    context.spawn(_place(context))


if __name__ == "__main__":
    sys.exit(run_service("orders", start))
