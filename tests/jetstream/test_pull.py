"""Pull consumers: a receive span per fetch linked to every message, then a process
span per message from when the user takes it, settlement on that span."""

from __future__ import annotations

import asyncio
import time

import pytest
from nats.errors import TimeoutError as NatsTimeoutError
from opentelemetry import trace
from opentelemetry.trace import SpanKind

import natstrace
from tests.conftest import Traced
from tests.jetstream.conftest import Stream

pytestmark = pytest.mark.integration


def _labels(stream: Stream, group: str) -> dict[str, str]:
    return {"messaging_destination_name": stream.wildcard, "messaging_consumer_group_name": group}


@pytest.mark.parametrize("batch", [1, 50])
async def test_fetch_then_process_each_message_as_taken(
    traced: Traced, stream: Stream, batch: int
) -> None:
    for n in range(batch):
        await stream.js.publish(stream.subject(), str(n).encode())
    sends = {s.context.span_id: s for s in traced.spans()}
    traced.exporter.clear()
    sub = await stream.js.pull_subscribe(stream.wildcard, durable="billing")

    msgs = await sub.fetch(batch, timeout=2)
    assert len(msgs) == batch
    receive = traced.span(f"receive {stream.name}/billing")
    assert receive.kind is SpanKind.CLIENT
    assert receive.attributes["messaging.batch.message_count"] == batch
    assert {link.context.span_id for link in receive.links} == set(sends)
    assert [s.name for s in traced.spans()] == [receive.name], "no process span before taken"

    handled_until = []
    for msg in msgs:
        current = trace.get_current_span().get_span_context()
        assert format(current.trace_id, "032x") == msg.headers["traceparent"].split("-")[1]
        assert natstrace.current_correlation().message_id == msg.headers["Nats-Msg-Id"]
        await asyncio.sleep(0.001)
        await msg.ack()
        handled_until.append(time.time_ns())
    assert not trace.get_current_span().get_span_context().is_valid, "loop end ends handling"

    processes = sorted(
        (s for s in traced.spans() if s.name == f"process {stream.wildcard}"),
        key=lambda s: s.start_time,
    )
    assert len(processes) == batch
    for process, done in zip(processes, handled_until, strict=True):
        assert process.parent.span_id in sends, "first delivery: child of the producer"
        assert process.end_time >= done
        assert process.start_time >= receive.end_time - 1_000_000
        assert [e.name for e in process.events] == ["ack"]
        assert process.attributes["natstrace.jetstream.delivery_count"] == 1
        assert process.attributes["natstrace.jetstream.consumer"] == "billing"
    seqs = [p.attributes["natstrace.jetstream.stream_sequence"] for p in processes]
    assert seqs == list(range(1, batch + 1))
    assert [p.attributes["natstrace.jetstream.pending"] for p in processes] == list(
        range(batch - 1, -1, -1)
    )

    labels = _labels(stream, "billing")
    assert traced.sample("natstrace_settlements_total", outcome="ack", **labels) == batch
    assert traced.sample("natstrace_delivery_latency_seconds_count", **labels) == batch
    assert traced.sample("natstrace_redeliveries_total", **labels) is None
    assert (
        traced.sample("natstrace_consumer_pending_messages", stream=stream.name, consumer="billing")
        == 0
    )
    operation = {
        "messaging_system": "nats",
        "messaging_destination_name": stream.wildcard,
        "error_type": "",
    }
    assert (
        traced.sample(
            "messaging_client_operation_duration_seconds_count",
            messaging_operation_name="receive",
            **operation,
        )
        == 1
    )
    assert (
        traced.sample(
            "messaging_client_operation_duration_seconds_count",
            messaging_operation_name="settle",
            **operation,
        )
        == batch
    )
    await sub.unsubscribe()


async def test_indexing_takes_a_message_and_next_fetch_ends_it(
    traced: Traced, stream: Stream
) -> None:
    await stream.js.publish(stream.subject(), b"1")
    await stream.js.publish(stream.subject(), b"2")
    sub = await stream.js.pull_subscribe(stream.wildcard, durable="one")
    first = (await sub.fetch(1, timeout=2))[0]
    assert trace.get_current_span().is_recording()
    await first.ack()
    assert not any(s.name.startswith("process") for s in traced.spans())
    second = (await sub.fetch(1, timeout=2))[0]
    assert [s.name for s in traced.spans()].count(f"process {stream.wildcard}") == 1
    await second.ack()
    await sub.unsubscribe()
    processes = [s for s in traced.spans() if s.name.startswith("process")]
    assert len(processes) == 2
    assert [[e.name for e in p.events] for p in processes] == [["ack"], ["ack"]]


async def test_settling_after_handling_ended_gets_a_child_settle_span(
    traced: Traced, stream: Stream
) -> None:
    await stream.js.publish(stream.subject(), b"1")
    await stream.js.publish(stream.subject(), b"2")
    sub = await stream.js.pull_subscribe(stream.wildcard, durable="late")
    msgs = await sub.fetch(2, timeout=2)
    for _ in msgs:
        pass
    await msgs[0].term()
    await msgs[1].nak(delay=5)
    settles = {
        s.attributes["natstrace.jetstream.outcome"]: s
        for s in traced.spans()
        if s.name.startswith("settle")
    }
    processes = [s for s in traced.spans() if s.name.startswith("process")]
    assert set(settles) == {"term", "nak"}
    assert {s.parent.span_id for s in settles.values()} == {p.context.span_id for p in processes}
    assert settles["nak"].attributes["natstrace.jetstream.nak_delay"] == 5
    labels = _labels(stream, "late")
    assert traced.sample("natstrace_settlements_total", outcome="term", **labels) == 1
    assert traced.sample("natstrace_settlements_total", outcome="nak", **labels) == 1
    await sub.unsubscribe()


async def test_empty_fetch_is_timed_but_not_traced(traced: Traced, stream: Stream) -> None:
    sub = await stream.js.pull_subscribe(stream.wildcard, durable="idle")
    with pytest.raises(NatsTimeoutError):
        await sub.fetch(1, timeout=0.2)
    assert traced.spans() == []
    assert (
        traced.sample(
            "messaging_client_operation_duration_seconds_count",
            messaging_system="nats",
            messaging_operation_name="receive",
            messaging_destination_name=stream.wildcard,
            error_type="TimeoutError",
        )
        == 1
    )
    await sub.unsubscribe()


async def test_in_progress_and_ack_sync_are_events(traced: Traced, stream: Stream) -> None:
    await stream.js.publish(stream.subject(), b"1")
    sub = await stream.js.pull_subscribe(stream.wildcard, durable="slow")
    for msg in await sub.fetch(1, timeout=2):
        await msg.in_progress()
        await msg.in_progress()
        await msg.ack_sync()
    process = traced.span(f"process {stream.wildcard}")
    assert [e.name for e in process.events] == ["in_progress", "in_progress", "ack"]
    assert process.events[2].attributes["natstrace.jetstream.sync"] is True
    labels = _labels(stream, "slow")
    assert traced.sample("natstrace_settlements_total", outcome="in_progress", **labels) == 2
    assert traced.sample("natstrace_settlements_total", outcome="ack", **labels) == 1
    await sub.unsubscribe()


async def test_headers_are_read_once_per_pulled_message(
    traced: Traced, stream: Stream, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The receive span's links and the process span share one read of the headers."""
    from natstrace.jetstream import consume as jetstream_consume
    from natstrace.tracing import propagation

    for n in range(3):
        await stream.js.publish(stream.subject(), str(n).encode())
    reads: list[object] = []
    extracts: list[object] = []
    read_incoming, extract = jetstream_consume.read_incoming, propagation.extract
    monkeypatch.setattr(
        jetstream_consume, "read_incoming", lambda h: reads.append(h) or read_incoming(h)
    )
    monkeypatch.setattr(
        propagation, "extract", lambda *a, **k: extracts.append(a) or extract(*a, **k)
    )
    sub = await stream.js.pull_subscribe(stream.wildcard, durable="billing")
    for msg in await sub.fetch(3, timeout=2):
        await msg.ack()

    assert len(reads) == 3 and len(extracts) == 3
    processes = [s for s in traced.spans() if s.name == f"process {stream.wildcard}"]
    receive = traced.span(f"receive {stream.name}/billing")
    assert {p.parent.span_id for p in processes} == {link.context.span_id for link in receive.links}
