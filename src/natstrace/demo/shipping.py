"""``shipping``: ships paid orders, pulling them from a JetStream stream.

The orchestrator puts ``shipments.requested`` into the ``DEMO_SHIPMENTS``
stream; this service pulls with a durable consumer. Some shipments fail
transiently (the carrier is unavailable, see :mod:`natstrace.demo.scenario`):
the message is ``nak``'ed, JetStream redelivers it, and a later delivery is
acknowledged. Each delivery is its own ``process`` span with its delivery
count, the failed ones marked with the error, the settlement on each.
"""

from __future__ import annotations

import sys

from nats.aio.msg import Msg
from nats.js.api import ConsumerConfig
from nats.js.errors import NotFoundError
from opentelemetry import trace
from opentelemetry.trace import Status, StatusCode

from natstrace.demo import contract, scenario
from natstrace.demo.service import ServiceContext, run_service
from natstrace.jetstream.context import InstrumentedJetStream
from natstrace.jetstream.pull import JetStreamPullSubscription

__all__ = ["CarrierUnavailableError", "start"]

FETCH_BATCH = 10
FETCH_TIMEOUT = 0.5
"""Seconds one fetch waits: also how soon the loop notices it should stop."""
NAK_DELAY = 0.05
"""Seconds JetStream waits before redelivering a failed shipment."""
STREAM_MAX_AGE = 3600.0
"""Seconds shipments are kept: a long-running demo (compose) must not fill the disk."""


class CarrierUnavailableError(Exception):
    """The simulated transient failure."""


async def ensure_stream(js: InstrumentedJetStream) -> None:
    """Create the shipments stream unless it exists (a shared server may have it)."""
    try:
        await js.stream_info(contract.SHIPPING_STREAM)
    except NotFoundError:
        await js.add_stream(
            name=contract.SHIPPING_STREAM,
            subjects=[contract.SHIPMENTS_REQUESTED],
            max_age=STREAM_MAX_AGE,
        )


async def _ship(context: ServiceContext, msg: Msg) -> None:
    order = contract.Order.from_bytes(msg.data)
    delivery = msg.metadata.num_delivered
    if delivery <= scenario.transient_failures(order.number):
        # Not raised: in a pull loop there is no handler to raise from. The error
        # goes on this delivery's process span, which is current here.
        error = CarrierUnavailableError(f"carrier unavailable (delivery {delivery})")
        span = trace.get_current_span()
        span.record_exception(error)
        span.set_attribute("error.type", type(error).__name__)
        span.set_status(Status(StatusCode.ERROR, str(error)))
        await msg.nak(delay=NAK_DELAY)
        return
    fields = {"order_id": order.order_id, "attempts": delivery}
    await context.nc.publish(contract.SHIPMENTS_DISPATCHED, contract.encode(fields))
    await msg.ack()


async def _pull(context: ServiceContext, sub: JetStreamPullSubscription) -> None:
    while not context.stop.is_set():
        try:
            msgs = await sub.fetch(FETCH_BATCH, timeout=FETCH_TIMEOUT)
        except TimeoutError:
            continue
        # A plain for: each message's process span is open, and current, for
        # exactly the loop body that handles it.
        for msg in msgs:
            await _ship(context, msg)
    await sub.unsubscribe()


async def start(context: ServiceContext) -> None:
    """Make sure the stream exists, bind the durable pull consumer, pull in the background."""
    js = context.nc.jetstream()
    await ensure_stream(js)
    sub = await js.pull_subscribe(
        contract.SHIPMENTS_REQUESTED,
        durable=contract.SHIPPING_CONSUMER,
        stream=contract.SHIPPING_STREAM,
        config=ConsumerConfig(ack_wait=5, max_deliver=5),
    )
    context.spawn(_pull(context, sub))


if __name__ == "__main__":
    sys.exit(run_service("shipping", start))
