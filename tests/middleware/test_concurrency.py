"""Context isolation under load: 500 handlers in flight at once, each publishing
from its own task, must each stay in their own message's trace and workflow."""

from __future__ import annotations

import asyncio
import random

import pytest
from opentelemetry import trace

import natstrace
from natstrace.testing import subscriptions_ready
from tests.conftest import Services
from tests.support.otlp_receiver import OtlpReceiver

pytestmark = pytest.mark.integration

IN_FLIGHT = 500


async def test_500_concurrent_handlers_do_not_leak_context(
    service: Services, otlp_receiver: OtlpReceiver
) -> None:
    producer = await service("producer")
    worker = await service("worker")
    sink = await service("sink")
    all_in_flight = asyncio.Event()
    arrived = 0
    mismatches: list[str] = []
    outputs: asyncio.Queue[dict[str, str]] = asyncio.Queue()

    async def handle(msg):
        nonlocal arrived
        arrived += 1
        if arrived == IN_FLIGHT:
            all_in_flight.set()
        # Hold every handler open until all of them are: 500 contexts live at once.
        await asyncio.wait_for(all_in_flight.wait(), 20)
        await asyncio.sleep(random.random() / 100)

        async def in_a_task() -> None:
            await asyncio.sleep(random.random() / 100)
            current = natstrace.current_correlation()
            if current is None or current.message_id != msg.headers["Nats-Msg-Id"]:
                mismatches.append(f"task saw {current} for {msg.headers['Nats-Msg-Id']}")
            await worker.publish("work.done", msg.data)

        await asyncio.create_task(in_a_task())
        span_trace = format(trace.get_current_span().get_span_context().trace_id, "032x")
        if span_trace != msg.headers["traceparent"].split("-")[1]:
            mismatches.append(f"handler span in trace {span_trace} for {msg.data!r}")

    # One subscription (and subject) per in-flight handler: nats-py runs a
    # subscription's callbacks one at a time, each subscription in its own task.
    for index in range(IN_FLIGHT):
        await worker.subscribe(f"work.todo.{index}", cb=handle)

    async def collect(msg):
        await outputs.put(dict(msg.headers))

    await sink.subscribe("work.done", cb=collect)
    await subscriptions_ready(worker, sink)

    sent_ids = []
    for index in range(IN_FLIGHT):
        with natstrace.correlation_scope(f"order-{index}"):
            await producer.publish(f"work.todo.{index}", str(index).encode())
    results = [await asyncio.wait_for(outputs.get(), 30) for _ in range(IN_FLIGHT)]
    service.flush()

    assert mismatches == []
    assert sorted(r["Correlation-Id"] for r in results) == sorted(
        f"order-{i}" for i in range(IN_FLIGHT)
    )
    spans = otlp_receiver.wait_for(IN_FLIGHT * 4)
    by_id = {s.span_id: s for s in spans}
    sends = [s for s in spans if s.name.startswith("send work.todo.")]
    processes = [s for s in spans if s.name.startswith("process work.todo.")]
    assert len(sends) == len(processes) == IN_FLIGHT
    for process in processes:
        parent = by_id[process.parent_span_id]
        assert parent.name == process.name.replace("process", "send")
        assert (
            process.attributes["messaging.message.conversation_id"]
            == (parent.attributes["messaging.message.conversation_id"])
        )
    for done in (s for s in spans if s.name == "send work.done"):
        process = by_id[done.parent_span_id]
        assert process.name.startswith("process work.todo.")
        assert (
            done.attributes["natstrace.causation_id"] == process.attributes["messaging.message.id"]
        )
        sent_ids.append(done.attributes["messaging.message.conversation_id"])
    assert len(set(sent_ids)) == IN_FLIGHT
