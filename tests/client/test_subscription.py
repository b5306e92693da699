"""Both ways of consuming (callback and pulling) are traced, spans end only after
the handling ends, and handler failures keep nats-py's own behaviour."""

from __future__ import annotations

import asyncio
import time

import pytest
from opentelemetry import trace
from opentelemetry.trace import StatusCode

import natstrace
from natstrace.testing import eventually
from tests.conftest import Traced

pytestmark = pytest.mark.integration


async def test_iterated_messages_are_handled_inside_their_span(traced: Traced) -> None:
    sub = await traced.nc.subscribe("pull.iter")
    for index in range(3):
        await traced.nc.publish("pull.iter", str(index).encode())
    handled_until: list[int] = []
    seen = 0
    async for msg in sub.messages:
        current = trace.get_current_span().get_span_context()
        assert format(current.trace_id, "032x") == msg.headers["traceparent"].split("-")[1]
        assert natstrace.current_correlation().message_id == msg.headers["Nats-Msg-Id"]
        await asyncio.sleep(0.01)
        await traced.nc.publish("pull.out", msg.data)
        handled_until.append(time.time_ns())
        seen += 1
        if seen == 3:
            break
    await sub.unsubscribe()

    processes = sorted(
        (s for s in traced.spans() if s.name == "process pull.iter"), key=lambda s: s.start_time
    )
    assert len(processes) == 3
    for process, done in zip(processes, handled_until, strict=True):
        assert process.end_time >= done, "span ended before the loop body finished"
    outs = [s for s in traced.spans() if s.name == "send pull.out"]
    assert {o.parent.span_id for o in outs} == {p.context.span_id for p in processes}
    # Once unsubscribed, nothing is left current.
    assert not trace.get_current_span().get_span_context().is_valid
    assert natstrace.current_correlation() is None
    assert (
        traced.sample(
            "natstrace_messages_in_flight",
            messaging_destination_name="pull.iter",
            messaging_consumer_group_name="",
        )
        == 0
    )


async def test_next_msg_handling_ends_at_the_next_call(traced: Traced) -> None:
    sub = await traced.nc.subscribe("pull.next")
    await traced.nc.publish("pull.next", b"1")
    await traced.nc.publish("pull.next", b"2")
    first = await sub.next_msg(timeout=2)
    assert first.data == b"1"
    assert [s.name for s in traced.spans()] == ["send pull.next", "send pull.next"]
    second = await sub.next_msg(timeout=2)
    assert second.data == b"2"
    assert [s.name for s in traced.spans()].count("process pull.next") == 1
    await sub.unsubscribe()
    assert [s.name for s in traced.spans()].count("process pull.next") == 2


async def test_handler_exception_marks_the_span_and_reaches_nats_error_cb(traced: Traced) -> None:
    handled = asyncio.Event()

    async def broken(msg):
        handled.set()
        raise ValueError("bad order 42")

    await traced.nc.subscribe("fail.here", queue="q", cb=broken)
    await traced.nc.publish("fail.here", b"x")
    await asyncio.wait_for(handled.wait(), 2)

    def reported() -> None:  # the span ends, then nats-py calls error_cb
        assert traced.errors

    await eventually(reported)
    span = traced.span("process fail.here")
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes["error.type"] == "ValueError"
    assert span.events[0].name == "exception"
    assert [type(e) for e in traced.errors] == [ValueError], "nats-py's error_cb must still see it"
    labels = {
        "messaging_system": "nats",
        "messaging_operation_name": "process",
        "messaging_destination_name": "fail.here",
        "messaging_consumer_group_name": "q",
    }
    assert (
        traced.sample("messaging_client_consumed_messages_total", error_type="ValueError", **labels)
        == 1
    )
    # The error message never becomes a label.
    assert (
        traced.sample("messaging_process_duration_seconds_count", error_type="", **labels) is None
    )


async def test_cancelled_handler_span_ends_with_error(traced: Traced) -> None:
    started = asyncio.Event()

    async def hangs(msg):
        started.set()
        await asyncio.sleep(60)

    sub = await traced.nc.subscribe("hang.forever", cb=hangs)
    await traced.nc.publish("hang.forever", b"x")
    await asyncio.wait_for(started.wait(), 2)
    await sub.unsubscribe()  # cancels nats-py's callback task

    span = await eventually(lambda: traced.span("process hang.forever"))
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes["error.type"] == "CancelledError"
    assert (
        traced.sample(
            "natstrace_messages_in_flight",
            messaging_destination_name="hang.forever",
            messaging_consumer_group_name="",
        )
        == 0
    )


@pytest.mark.instrument(subject_templates=["orders.*.created"])
async def test_span_names_and_labels_use_templates(traced: Traced) -> None:
    got = asyncio.Queue()

    async def on_msg(msg):
        await got.put(msg)

    await traced.nc.subscribe("orders.>", cb=on_msg)
    for order in range(3):
        await traced.nc.publish(f"orders.{order}.created", b"")
    for _ in range(3):
        await asyncio.wait_for(got.get(), 2)

    def all_ended() -> None:
        assert [s.name for s in traced.spans()].count("process orders.>") == 3

    await eventually(all_ended)
    names = {s.name for s in traced.spans()}
    assert names == {"send orders.*.created", "process orders.>"}
    assert (
        traced.sample(
            "messaging_client_sent_messages_total",
            messaging_system="nats",
            messaging_operation_name="send",
            messaging_destination_name="orders.*.created",
            error_type="",
        )
        == 3
    )


async def test_other_client_methods_pass_through(traced: Traced) -> None:
    assert traced.nc.is_connected
    assert traced.nc.client is traced.raw
    assert natstrace.instrument(traced.nc) is traced.nc
    sub = await traced.nc.subscribe("pass.through")
    assert sub.subject == "pass.through"
    await sub.unsubscribe()


async def test_unsubscribe_from_another_task_leaves_no_broken_context(
    traced: Traced, caplog: pytest.LogCaptureFixture
) -> None:
    sub = await traced.nc.subscribe("pull.other")
    received = asyncio.Event()

    async def consume() -> list[bytes]:
        seen = []
        async for msg in sub.messages:
            seen.append(msg.data)
            received.set()
        return seen

    consumer = asyncio.create_task(consume())
    await traced.nc.publish("pull.other", b"only")
    await asyncio.wait_for(received.wait(), 2)
    await sub.unsubscribe()  # from this task, while the consumer holds the message
    assert await asyncio.wait_for(consumer, 2) == [b"only"]
    assert [s.name for s in traced.spans()].count("process pull.other") == 1
    assert "Failed to detach context" not in caplog.text
