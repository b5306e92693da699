"""An order is billed and the invoice mailed: the complete example of docs/testing.md."""

import asyncio

from natstrace.testing import NatsClients, SpanCapture, subscriptions_ready


async def test_an_order_is_billed_and_the_invoice_mailed(
    natstrace_clients: NatsClients, natstrace_spans: SpanCapture
) -> None:
    # Three services, each an instrumented client with its own tracer provider.
    orders = await natstrace_clients("orders")
    billing = await natstrace_clients("billing")
    mailer = await natstrace_clients("mailer")
    mailed = asyncio.Event()

    async def bill(msg):
        await billing.publish("invoices.issued", b"invoice for " + msg.data)

    async def mail(msg):
        mailed.set()

    await billing.subscribe("orders.*", queue="billing", cb=bill)
    await mailer.subscribe("invoices.issued", cb=mail)
    await subscriptions_ready(billing, mailer)

    await orders.publish("orders.created", b"order 42", headers={"Nats-Msg-Id": "order-42"})
    await asyncio.wait_for(mailed.wait(), 5)
    await natstrace_spans.wait_for("process invoices.issued")

    # The first message's ID names the workflow: its correlation ID.
    natstrace_spans.assert_hops(
        "order-42",
        [
            "orders: send orders.created",
            "billing: process orders.*",
            "billing: send invoices.issued",
            "mailer: process invoices.issued",
        ],
    )
    natstrace_spans.assert_processed_by("billing", message_id="order-42")
    natstrace_spans.assert_all_consumed()
    natstrace_clients.metrics("billing").assert_changed(
        "messaging_client_consumed_messages_total",
        by=1,
        messaging_destination_name="orders.*",
        messaging_consumer_group_name="billing",
    )
