"""JetStream: a billing worker pulls orders in a batch and acknowledges each one.

Needs a nats-server with JetStream (``nats-server -js``):

    OTEL_TRACES_EXPORTER=console python examples/jetstream_pull.py [nats://localhost:4222]

Each publish is a ``send`` span that lasts until the PubAck; the fetch is one
``receive`` span linked to every message; each message is handled inside its own
``process`` span, and the ack is an event on it.
"""

import asyncio
import sys

import nats

import natstrace

STREAM = "EXAMPLE_ORDERS"


async def main(url: str) -> None:
    natstrace.configure(service_name="billing")
    nc = natstrace.instrument(await nats.connect(url))
    js = nc.jetstream()
    await js.add_stream(name=STREAM, subjects=["example.orders.*"])
    try:
        for number in range(1, 4):
            await js.publish("example.orders.created", f"order {number}".encode())
        sub = await js.pull_subscribe("example.orders.*", durable="billing")
        for msg in await sub.fetch(3, timeout=5):
            ids = natstrace.current_correlation()
            print(f"billed {msg.data.decode()}, workflow {ids.correlation_id}")
            await msg.ack()
    finally:
        await js.delete_stream(STREAM)
    await nc.drain()
    natstrace.shutdown()


asyncio.run(main(sys.argv[1] if len(sys.argv) > 1 else "nats://localhost:4222"))
