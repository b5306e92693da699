"""Bound consumers: ``subscribe_bind`` and ``pull_subscribe_bind`` to an existing
consumer, traced as ``subscribe`` and ``pull_subscribe`` are."""

from __future__ import annotations

import asyncio

import pytest
from nats.js.api import AckPolicy, ConsumerConfig
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanKind

from natstrace.testing import eventually
from tests.conftest import Traced
from tests.jetstream.conftest import Stream

pytestmark = pytest.mark.integration


def _labels(template: str, group: str) -> dict[str, str]:
    return {"messaging_destination_name": template, "messaging_consumer_group_name": group}


async def _publish(stream: Stream, count: int) -> None:
    for n in range(count):
        await stream.js.publish(stream.subject(), str(n).encode())


def _sends(traced: Traced) -> dict[int, int]:
    """The send spans' IDs by stream sequence."""
    return {
        s.attributes["natstrace.jetstream.stream_sequence"]: s.context.span_id
        for s in traced.spans()
        if s.name.startswith("send")
    }


def _processes(traced: Traced, template: str) -> list:
    return sorted(
        (s for s in traced.spans() if s.name == f"process {template}"),
        key=lambda s: s.attributes["natstrace.jetstream.stream_sequence"],
    )


async def test_subscribe_bind_callback_to_a_durable(traced: Traced, stream: Stream) -> None:
    count = 3
    info = await stream.js.add_consumer(
        stream.name,
        ConsumerConfig(
            durable_name="bound",
            deliver_subject=traced.raw.new_inbox(),
            filter_subject=stream.wildcard,
            ack_policy=AckPolicy.EXPLICIT,
        ),
    )
    handled: list[str] = []
    done = asyncio.Event()

    async def handle(msg):
        current = trace.get_current_span().get_span_context()
        handled.append(format(current.span_id, "016x"))
        if len(handled) == count:
            done.set()

    sub = await stream.js.subscribe_bind(stream.name, info.config, info.name, cb=handle)
    await _publish(stream, count)
    await asyncio.wait_for(done.wait(), 5)

    def all_ended() -> list[ReadableSpan]:
        processes = _processes(traced, stream.wildcard)
        assert len(processes) == count
        return processes

    processes = await eventually(all_ended)
    sends = _sends(traced)
    assert handled == [format(p.context.span_id, "016x") for p in processes]
    for seq, process in enumerate(processes, start=1):
        assert process.kind is SpanKind.CONSUMER
        assert process.parent.span_id == sends[seq], "policy auto: a child of the send"
        assert process.attributes["natstrace.jetstream.consumer"] == "bound"
        assert process.attributes["messaging.consumer.group.name"] == "bound"
        assert [e.name for e in process.events] == ["ack"], "nats-py's auto-ack, in the span"
    labels = _labels(stream.wildcard, "bound")
    assert traced.sample("natstrace_settlements_total", outcome="ack", **labels) == count
    assert traced.sample("natstrace_delivery_latency_seconds_count", **labels) == count
    assert traced.consumed(stream.wildcard, "bound") == count
    assert (
        traced.sample("natstrace_consumer_pending_messages", stream=stream.name, consumer="bound")
        == 0
    )

    async def acked() -> None:  # the server applies acks after answering earlier requests
        assert (await sub.consumer_info()).num_ack_pending == 0

    await eventually(acked)
    await sub.unsubscribe()


async def test_subscribe_bind_iterated_ephemeral_keeps_labels_bounded(
    traced: Traced, stream: Stream
) -> None:
    # No filter subject and no name: the stream names the spans, no group label.
    info = await stream.js.add_consumer(
        stream.name, ConsumerConfig(deliver_subject=traced.raw.new_inbox())
    )
    sub = await stream.js.subscribe_bind(stream.name, info.config, info.name)
    await _publish(stream, 2)
    for _ in range(2):
        msg = await sub.next_msg(timeout=2)
        assert trace.get_current_span().is_recording()
        await msg.ack()
    await sub.unsubscribe()

    processes = _processes(traced, stream.name)
    assert len(processes) == 2
    assert all([e.name for e in p.events] == ["ack"] for p in processes)
    assert {p.attributes["natstrace.jetstream.consumer"] for p in processes} == {info.name}
    assert all("messaging.consumer.group.name" not in p.attributes for p in processes)
    assert traced.consumed(stream.name, "") == 2
    assert (
        traced.sample("natstrace_settlements_total", outcome="ack", **_labels(stream.name, "")) == 2
    )
    assert (
        traced.sample(
            "natstrace_consumer_pending_messages", stream=stream.name, consumer="_ephemeral"
        )
        == 0
    )


@pytest.mark.parametrize("template", [None, "orders.*"])
async def test_pull_subscribe_bind_fetch(
    traced: Traced, stream: Stream, template: str | None
) -> None:
    count = 3
    await stream.js.add_consumer(
        stream.name, ConsumerConfig(durable_name="puller", filter_subject=stream.wildcard)
    )
    await _publish(stream, count)
    sends = _sends(traced)
    traced.exporter.clear()
    sub = await stream.js.pull_subscribe_bind("puller", stream.name, template=template)
    named = template or stream.name

    msgs = await sub.fetch(count, timeout=2)
    receive = traced.span(f"receive {stream.name}/puller")
    assert receive.kind is SpanKind.CLIENT
    assert receive.attributes["messaging.batch.message_count"] == count
    assert receive.attributes["messaging.consumer.group.name"] == "puller"
    assert {link.context.span_id for link in receive.links} == set(sends.values())
    for msg in msgs:
        assert trace.get_current_span().is_recording()
        await msg.ack()
    await sub.unsubscribe()

    processes = _processes(traced, named)
    assert len(processes) == count
    for seq, process in enumerate(processes, start=1):
        assert process.parent.span_id == sends[seq]
        assert process.attributes["natstrace.jetstream.consumer"] == "puller"
        assert [e.name for e in process.events] == ["ack"]
    labels = _labels(named, "puller")
    assert traced.sample("natstrace_settlements_total", outcome="ack", **labels) == count
    assert traced.sample("natstrace_delivery_latency_seconds_count", **labels) == count
    assert traced.consumed(named, "puller") == count
    assert (
        traced.sample(
            "messaging_client_operation_duration_seconds_count",
            messaging_system="nats",
            messaging_operation_name="receive",
            messaging_destination_name=named,
            error_type="",
        )
        == 1
    )
    assert (
        traced.sample("natstrace_consumer_pending_messages", stream=stream.name, consumer="puller")
        == 0
    )
