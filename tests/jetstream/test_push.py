"""Push consumers: ``cb=`` (nats-py's auto-ack inside the span) and iterated."""

from __future__ import annotations

import asyncio

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan

import natstrace
from natstrace.testing import eventually
from tests.conftest import Traced
from tests.jetstream.conftest import Stream

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("count", [1, 50])
async def test_callback_messages_are_processed_and_auto_acked_in_their_span(
    traced: Traced, stream: Stream, count: int
) -> None:
    seen: list[str] = []
    done = asyncio.Event()

    async def handle(msg):
        current = trace.get_current_span().get_span_context()
        seen.append(format(current.trace_id, "032x"))
        assert natstrace.current_correlation().message_id == msg.headers["Nats-Msg-Id"]
        if len(seen) == count:
            done.set()

    sub = await stream.js.subscribe(stream.wildcard, durable="auto", cb=handle)
    for n in range(count):
        await stream.js.publish(stream.subject(), str(n).encode())
    await asyncio.wait_for(done.wait(), 5)

    def all_ended() -> list[ReadableSpan]:
        processes = [s for s in traced.spans() if s.name == f"process {stream.wildcard}"]
        assert len(processes) == count
        return processes

    processes = await eventually(all_ended)
    sends = {s.context.span_id: s for s in traced.spans() if s.name.startswith("send")}
    assert {p.parent.span_id for p in processes} == set(sends)
    assert sorted(seen) == sorted(format(p.context.trace_id, "032x") for p in processes)
    assert all([e.name for e in p.events] == ["ack"] for p in processes), "ack inside the span"
    labels = {
        "messaging_destination_name": stream.wildcard,
        "messaging_consumer_group_name": "auto",
    }
    assert traced.sample("natstrace_settlements_total", outcome="ack", **labels) == count

    async def acked() -> None:  # the server applies acks after answering earlier requests
        info = await sub.consumer_info()
        assert info.num_ack_pending == 0, "nats-py's auto-ack still reached the server"
        assert info.num_redelivered == 0

    await eventually(acked)
    await sub.unsubscribe()


async def test_manual_ack_callback_is_not_acked_by_natstrace(
    traced: Traced, stream: Stream
) -> None:
    done = asyncio.Event()

    async def handle(msg):
        done.set()

    sub = await stream.js.subscribe(stream.wildcard, durable="manual", cb=handle, manual_ack=True)
    await stream.js.publish(stream.subject(), b"x")
    await asyncio.wait_for(done.wait(), 5)
    process = await eventually(lambda: traced.span(f"process {stream.wildcard}"))
    assert process.events == ()
    assert (await sub.consumer_info()).num_ack_pending == 1
    await sub.unsubscribe()


async def test_iterated_push_messages(traced: Traced, stream: Stream) -> None:
    sub = await stream.js.subscribe(stream.wildcard, durable="iter")
    for n in range(3):
        await stream.js.publish(stream.subject(), str(n).encode())
    got = []
    async for msg in sub.messages:
        assert trace.get_current_span().is_recording()
        await msg.ack()
        got.append(msg.data)
        if len(got) == 3:
            break
    await sub.unsubscribe()
    processes = [s for s in traced.spans() if s.name == f"process {stream.wildcard}"]
    assert len(processes) == 3
    assert all([e.name for e in p.events] == ["ack"] for p in processes)
    assert [p.attributes["natstrace.jetstream.consumer_sequence"] for p in processes] == [1, 2, 3]


async def test_ephemeral_consumer_has_bounded_labels(traced: Traced, stream: Stream) -> None:
    sub = await stream.js.subscribe(stream.wildcard)
    await stream.js.publish(stream.subject(), b"x")
    msg = await sub.next_msg(timeout=2)
    await msg.ack()
    await sub.unsubscribe()
    process = traced.span(f"process {stream.wildcard}")
    assert "messaging.consumer.group.name" not in process.attributes
    assert process.attributes["natstrace.jetstream.consumer"] == msg.metadata.consumer
    assert (
        traced.sample(
            "natstrace_consumer_pending_messages", stream=stream.name, consumer="_ephemeral"
        )
        == 0
    )
