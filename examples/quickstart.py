"""Quick start: a payments service handles an order and publishes what it did.

Needs a nats-server (``nats-server`` from natstrace's ``server`` extra will do):

    OTEL_TRACES_EXPORTER=console python examples/quickstart.py [nats://localhost:4222]
"""

import asyncio
import sys

import nats

import natstrace


async def main(url: str) -> None:
    natstrace.configure(service_name="payments")
    nc = natstrace.instrument(await nats.connect(url))
    done = asyncio.Event()

    async def charge(msg):
        # Same trace, same Correlation-Id; Causation-Id names msg.
        await nc.publish("payments.authorized", msg.data)

    async def confirm(msg):
        ids = natstrace.current_correlation()
        print(f"{msg.subject}: {msg.data.decode()}, workflow {ids.correlation_id}")
        done.set()

    await nc.subscribe("orders.*", queue="payments", cb=charge)
    await nc.subscribe("payments.authorized", cb=confirm)
    await nc.publish("orders.created", b"order 42", headers={"Nats-Msg-Id": "order-42"})
    await asyncio.wait_for(done.wait(), timeout=5)
    await nc.drain()
    natstrace.shutdown()


asyncio.run(main(sys.argv[1] if len(sys.argv) > 1 else "nats://localhost:4222"))
