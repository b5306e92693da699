"""Fetched messages are finished exactly once, in a worker task, handled
concurrently, or taken with ``pop``."""

from __future__ import annotations

import asyncio
import gc
import time
from typing import ClassVar

import nats
import pytest

import natstrace
from natstrace.embedded_server import EmbeddedNatsServer
from natstrace.testing import MetricsCapture, SpanCapture
from tests.conftest import Traced
from tests.jetstream.conftest import Stream

pytestmark = pytest.mark.integration


def _in_flight(traced: Traced, stream: Stream, group: str) -> float | None:
    return traced.sample(
        "natstrace_messages_in_flight",
        messaging_destination_name=stream.wildcard,
        messaging_consumer_group_name=group,
    )


def _processes(traced: Traced, stream: Stream) -> list[object]:
    return [s for s in traced.spans() if s.name == f"process {stream.wildcard}"]


@pytest.mark.parametrize("stop", ["unsubscribe", "cancel", "client_drain"])
async def test_worker_fetch_loop_stopped_from_outside_ends_the_span(
    traced: Traced,
    stream: Stream,
    caplog: pytest.LogCaptureFixture,
    stop: str,
    nats_server: EmbeddedNatsServer,
    natstrace_spans: SpanCapture,
    natstrace_metrics: MetricsCapture,
) -> None:
    await stream.js.publish(stream.subject(), b"1")
    # The worker's own client, so that draining it leaves the test's client alone.
    nc = natstrace.instrument(
        await nats.connect(nats_server.url),
        tracer_provider=natstrace_spans.tracer_provider,
        metrics=natstrace_metrics.metrics,
    )
    sub = await nc.jetstream().pull_subscribe(stream.wildcard, durable="worker")
    handling = asyncio.Event()

    async def worker() -> None:
        for _ in await sub.fetch(1, timeout=2):
            handling.set()
            await asyncio.sleep(60)

    task = asyncio.create_task(worker())
    await asyncio.wait_for(handling.wait(), 2)
    assert _in_flight(traced, stream, "worker") == 1
    if stop == "unsubscribe":
        await sub.unsubscribe()
    elif stop == "client_drain":
        await nc.drain()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    del task
    gc.collect()
    assert len(_processes(traced, stream)) == 1
    assert _in_flight(traced, stream, "worker") == 0
    assert "Failed to detach context" not in caplog.text
    await nc.close()


async def test_a_batch_handled_concurrently_keeps_each_message_s_workflow(
    traced: Traced, stream: Stream
) -> None:
    for n in range(3):
        await stream.js.publish(stream.subject(), str(n).encode())
    out = await traced.raw.subscribe("conc.out")
    sub = await stream.js.pull_subscribe(stream.wildcard, durable="conc")
    msgs = await sub.fetch(3, timeout=2)
    seen: dict[str, str | None] = {}
    handled_until: dict[str, int] = {}

    async def handle(msg: object) -> None:
        current = natstrace.current_correlation()
        seen[msg.headers["Nats-Msg-Id"]] = current.message_id if current else None
        await asyncio.sleep(0.05)
        await traced.nc.publish("conc.out", msg.data, headers={"From": msg.headers["Nats-Msg-Id"]})
        await msg.ack()
        handled_until[msg.headers["Nats-Msg-Id"]] = time.time_ns()

    await msgs.gather(handle)
    assert seen == {ident: ident for ident in seen} and len(seen) == 3
    for _ in range(3):
        published = await out.next_msg(timeout=2)
        assert published.headers["Causation-Id"] == published.headers["From"]
    processes = _processes(traced, stream)
    assert len(processes) == 3
    for process in processes:
        ident = process.attributes["messaging.message.id"]
        assert process.end_time >= handled_until[ident]
        assert process.end_time - process.start_time >= 40_000_000
        assert [e.name for e in process.events] == ["ack"]
    assert traced.consumed(stream.wildcard, "conc") == 3
    assert _in_flight(traced, stream, "conc") == 0
    await sub.unsubscribe()


async def test_pop_takes_the_message(traced: Traced, stream: Stream) -> None:
    await stream.js.publish(stream.subject(), b"1")
    await stream.js.publish(stream.subject(), b"2")
    sub = await stream.js.pull_subscribe(stream.wildcard, durable="popper")
    msgs = await sub.fetch(2, timeout=2)
    while msgs:
        msg = msgs.pop(0)
        assert natstrace.current_correlation().message_id == msg.headers["Nats-Msg-Id"]
        await msg.ack()
    await sub.unsubscribe()
    processes = _processes(traced, stream)
    assert len(processes) == 2
    assert [[e.name for e in p.events] for p in processes] == [["ack"], ["ack"]]
    assert traced.consumed(stream.wildcard, "popper") == 2


async def test_every_span_names_the_concrete_subject_and_the_template_alike(
    traced: Traced, stream: Stream
) -> None:
    await stream.js.publish(stream.subject(), b"1")
    sub = await stream.js.pull_subscribe(stream.wildcard, durable="shapes")
    msgs = await sub.fetch(1, timeout=2)
    for _ in msgs:
        pass
    await msgs[0].ack()  # after the handling ended: a settle span
    await sub.unsubscribe()
    spans = {s.name.split()[0]: s for s in traced.spans()}
    assert set(spans) == {"send", "receive", "process", "settle"}
    for operation in ("send", "process", "settle"):
        assert spans[operation].attributes["messaging.destination.name"] == stream.subject()
    for operation in ("receive", "process", "settle"):
        attributes = spans[operation].attributes
        assert attributes["messaging.destination.template"] == stream.wildcard
        assert attributes["messaging.system"] == "nats"
        assert attributes["messaging.operation.name"] == operation
        assert attributes["messaging.consumer.group.name"] == "shapes"
        assert attributes["server.port"] == spans["send"].attributes["server.port"]
    assert "messaging.destination.name" not in spans["receive"].attributes


async def test_plain_asyncio_gather_over_a_batch_points_at_msgs_gather(
    traced: Traced,
    stream: Stream,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from natstrace.jetstream import settle as jetstream_settle

    monkeypatch.setattr(jetstream_settle, "_hinted", False)
    await stream.js.publish(stream.subject(), b"1")
    await stream.js.publish(stream.subject(), b"2")
    sub = await stream.js.pull_subscribe(stream.wildcard, durable="plain")
    msgs = await sub.fetch(2, timeout=2)

    async def handle(msg: object) -> None:
        await msg.ack()

    await asyncio.gather(*(handle(m) for m in msgs))
    assert "await msgs.gather(handle)" in caplog.text
    await sub.unsubscribe()


async def test_a_watcher_task_cancelled_mid_update_ends_its_span(traced: Traced) -> None:
    js = traced.nc.jetstream()
    bucket = "lifecycle"
    kv = await js.create_key_value(bucket=bucket)
    watcher = await kv.watchall()
    assert await watcher.updates(timeout=2) is None, "the empty bucket's start marker"
    handling = asyncio.Event()

    async def worker() -> None:
        await watcher.updates(timeout=2)
        handling.set()
        await asyncio.sleep(60)

    task = asyncio.create_task(worker())
    await js.publish(f"$KV.{bucket}.order.7", b"paid")
    await asyncio.wait_for(handling.wait(), 2)
    template = f"$KV.{bucket}.>"
    assert traced.consumed(template, error="CancelledError") is None
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert traced.span(f"process {template}").attributes["error.type"] == "CancelledError"
    assert traced.consumed(template, error="CancelledError") == 1
    await watcher.stop()
    await js.delete_key_value(bucket)


class _Noting:
    """A user middleware noting the message each run starts and ends with."""

    notes: ClassVar[list[tuple[str, str | None]]] = []

    def __init__(self, app: natstrace.HandleApp) -> None:
        self.app = app

    async def __call__(self, message: natstrace.IncomingMessage) -> None:
        current = natstrace.current_correlation()
        self.notes.append(("before", current.message_id if current else None))
        await self.app(message)
        self.notes.append(("after", message.message_id))


@pytest.mark.instrument(handle_middleware=[_Noting])
async def test_gathered_handlers_run_inside_user_middlewares(
    traced: Traced, stream: Stream
) -> None:
    _Noting.notes = []
    for n in range(3):
        await stream.js.publish(stream.subject(), str(n).encode())
    sub = await stream.js.pull_subscribe(stream.wildcard, durable="noted")
    msgs = await sub.fetch(3, timeout=2)

    async def handle(msg: object) -> bytes:
        await msg.ack()
        return msg.data

    assert await msgs.gather(handle) == [b"0", b"1", b"2"]
    ids = {msg.headers["Nats-Msg-Id"] for msg in list.__iter__(msgs)}
    assert {ident for note, ident in _Noting.notes if note == "before"} == ids
    assert {ident for note, ident in _Noting.notes if note == "after"} == ids
    await sub.unsubscribe()
