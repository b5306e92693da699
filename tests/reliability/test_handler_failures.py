"""Handlers that fail, are cancelled or outlive the JetStream ack wait: spans end
with the right status, metrics agree, and nats-py behaves as it does untraced."""

from __future__ import annotations

import asyncio
from typing import Any

import nats
from nats.js.api import ConsumerConfig
from opentelemetry.trace import StatusCode

from natstrace.embedded_server import EmbeddedNatsServer
from natstrace.testing import eventually
from natstrace.tracing import semconv as sc
from tests.reliability.conftest import Instrumented


def _consumed(client: Instrumented, template: str, error: str) -> float:
    return client.sample(
        "messaging_client_consumed_messages_total",
        messaging_system="nats",
        messaging_operation_name="process",
        messaging_destination_name=template,
        messaging_consumer_group_name="",
        error_type=error,
    )


async def test_an_exception_fails_the_span_and_reaches_error_cb(instrumented: Instrumented) -> None:
    async def handler(msg: object) -> None:
        raise ValueError("boom")

    await instrumented.nc.subscribe("fail.exc", cb=handler)
    await instrumented.nc.publish("fail.exc", b"")
    await instrumented.nc.flush()

    def failed() -> None:
        assert instrumented.spans("process fail.exc") and instrumented.errors

    await eventually(failed)
    (span,) = instrumented.spans("process fail.exc")
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes["error.type"] == "ValueError"
    assert _consumed(instrumented, "fail.exc", "ValueError") == 1
    assert [type(e) for e in instrumented.errors] == [ValueError], "nats-py reports it, as untraced"
    assert instrumented.open_spans.open == {}


async def test_cancellation_ends_the_span_and_stops_the_subscription_as_nats_py_does(
    instrumented: Instrumented, server: EmbeddedNatsServer
) -> None:
    async def cancelled(msg: object) -> None:
        raise asyncio.CancelledError

    raw = await nats.connect(server.url)
    subs = {}
    for name, nc in (("traced", instrumented.nc), ("raw", raw)):
        subs[name] = await nc.subscribe(f"fail.cancel.{name}", cb=cancelled)
    for name, nc in (("traced", instrumented.nc), ("raw", raw)):
        for _ in range(3):
            await nc.publish(f"fail.cancel.{name}", b"")
        await nc.flush()

    # nats-py stops a subscription whose callback raised CancelledError: one delivery.
    # Once its message loop has ended nothing more can be handled, and the two
    # later messages stay in the subscription's queue.
    def stopped(sub: Any) -> None:
        loop = sub._wait_for_msgs_task  # nats-py's callback loop of this subscription
        assert loop is not None and loop.done()
        assert (sub.delivered, sub.pending_msgs) == (3, 2)

    await eventually(lambda: [stopped(sub) for sub in subs.values()])
    spans = instrumented.spans("process fail.cancel.traced")
    assert len(spans) == 1
    assert spans[0].status.status_code is StatusCode.ERROR
    assert spans[0].attributes["error.type"] == "CancelledError"
    assert _consumed(instrumented, "fail.cancel.traced", "CancelledError") == 1
    gauge = instrumented.sample(
        "natstrace_messages_in_flight",
        messaging_destination_name="fail.cancel.traced",
        messaging_consumer_group_name="",
    )
    assert gauge == 0
    assert instrumented.open_spans.open == {}
    await raw.close()


async def test_a_handler_outliving_the_ack_wait_is_redelivered_and_both_spans_end(
    instrumented: Instrumented,
) -> None:
    js = instrumented.nc.jetstream()
    await js.add_stream(name="SLOW", subjects=["slow.>"])
    seen: list[int] = []

    async def handler(msg: object) -> None:
        delivered = msg.metadata.num_delivered  # type: ignore[attr-defined]
        seen.append(delivered)
        if delivered == 1:
            await asyncio.sleep(1.5)  # past the 1 s ack wait

    sub = await js.subscribe(
        "slow.>", durable="slow", cb=handler, config=ConsumerConfig(ack_wait=1)
    )
    await js.publish("slow.job", b"")

    # Acked (nats-py's auto-ack after the second, quick delivery): the server
    # redelivers no more, so two deliveries is all there will be.
    async def settled() -> None:
        info = await sub.consumer_info()
        assert info.ack_floor.stream_seq == 1 and info.num_ack_pending == 0
        assert len(seen) == 2 and not instrumented.open_spans.open

    await eventually(settled, timeout=10)
    assert seen == [1, 2]
    spans = sorted(instrumented.spans("process slow.>"), key=lambda s: s.start_time or 0)
    assert len(spans) == 2 and all(s.status.status_code is StatusCode.UNSET for s in spans)
    assert (spans[1].attributes or {})[sc.JS_DELIVERY_COUNT] == 2
    assert spans[1].links, "a redelivery starts a new trace linked to the producer"
    assert (
        instrumented.sample(
            "natstrace_redeliveries_total",
            messaging_destination_name="slow.>",
            messaging_consumer_group_name="slow",
        )
        == 1
    )
    await js.delete_stream("SLOW")
