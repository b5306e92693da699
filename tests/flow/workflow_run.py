"""A small multi-service workflow run on a real nats-server, traced to a JSON lines file.

Four services, each with its own tracer provider (so its own ``service.name``),
all exporting through :class:`JsonLinesSpanExporter` into one file:

- ``orders`` publishes ``orders.created`` (correlation ID ``order-1`` / ``order-2``)
  and ``audit.order_placed``, which nobody subscribes to (the orphan);
- ``payments`` handles ``orders.*``, asks ``inventory`` (request-reply on
  ``inventory.reserve``) and publishes ``payments.authorized``; for ``order-2`` it
  fails with ``CardDeclinedError`` after asking;
- ``inventory`` answers ``inventory.reserve``;
- ``shipping`` handles ``payments.authorized`` on the ``link`` policy, so its
  spans are in a trace of their own that only links back.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import nats
from nats.aio.msg import Msg
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from prometheus_client import CollectorRegistry

import natstrace
from natstrace.config import ConsumerSpanPolicy
from natstrace.flow import JsonLinesSpanExporter
from natstrace.metrics import NatstraceMetrics


class CardDeclinedError(Exception):
    """The failure the workflow of order-2 ends in."""


async def _quiet(exc: Exception) -> None:
    # nats-py reports the handler's CardDeclinedError here; it is expected.
    pass


async def run_workflow(nats_url: str, path: Path) -> None:
    """Run both orders to completion; spans are in ``path`` when this returns."""
    exporter = JsonLinesSpanExporter(path)
    providers: list[TracerProvider] = []
    raws = []

    async def client(
        name: str, policy: ConsumerSpanPolicy = "auto"
    ) -> natstrace.InstrumentedClient:
        provider = TracerProvider(resource=Resource.create({"service.name": name}))
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        providers.append(provider)
        raw = await nats.connect(nats_url, error_cb=_quiet)
        raws.append(raw)
        return natstrace.instrument(
            raw,
            tracer_provider=provider,
            metrics=NatstraceMetrics(CollectorRegistry(), service_name=name),
            consumer_span_policy=policy,
        )

    orders = await client("orders")
    payments = await client("payments")
    inventory = await client("inventory")
    shipping = await client("shipping", policy="link")
    shipped = asyncio.Event()
    failed = asyncio.Event()

    async def reserve(msg: Msg) -> None:
        await asyncio.sleep(0.002)
        await msg.respond(b"reserved")

    async def pay(msg: Msg) -> None:
        await payments.request("inventory.reserve", msg.data, timeout=2)
        if msg.data == b"2":
            failed.set()
            raise CardDeclinedError("card 4000-0002 declined")
        await payments.publish("payments.authorized", msg.data)

    async def ship(msg: Msg) -> None:
        await asyncio.sleep(0.003)
        shipped.set()

    await inventory.subscribe("inventory.reserve", cb=reserve)
    await payments.subscribe("orders.*", queue="payments", cb=pay)
    await shipping.subscribe("payments.authorized", cb=ship)
    for raw in raws:
        await raw.flush()
    with natstrace.correlation_scope("order-1"):
        await orders.publish("orders.created", b"1")
        await orders.publish("audit.order_placed", b"1")
    await asyncio.wait_for(shipped.wait(), 5)
    with natstrace.correlation_scope("order-2"):
        await orders.publish("orders.created", b"2")
    await asyncio.wait_for(failed.wait(), 5)
    for raw in raws:
        await raw.drain()
    for provider in providers:
        provider.shutdown()
