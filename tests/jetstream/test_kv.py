"""Key-value watchers: they keep working as in nats-py, and an update that carries
a trace context is handed out inside its ``process`` span."""

from __future__ import annotations

from collections.abc import AsyncIterator
from itertools import count

import pytest
from opentelemetry import trace

from tests.conftest import Traced

pytestmark = pytest.mark.integration


async def test_kv_watch_sees_updates(traced: Traced) -> None:
    js = traced.nc.jetstream()
    kv = await js.create_key_value(bucket="natstrace_watch")
    try:
        watcher = await kv.watchall()
        await kv.put("order.7", b"new")
        await kv.put("order.7", b"paid")
        await kv.delete("order.7")
        seen = []
        while len(seen) < 3:
            # A deadline for a loaded machine, not a pace: a lost update never comes.
            entry = await watcher.updates(timeout=10)
            if entry is not None:
                seen.append((entry.key, entry.value, entry.operation))
        assert [(key, value) for key, value, _ in seen] == [
            ("order.7", b"new"),
            ("order.7", b"paid"),
            ("order.7", b""),
        ]
        assert seen[2][2] == "DEL"
        await watcher.stop()
    finally:
        await js.delete_key_value("natstrace_watch")


_buckets = count()


@pytest.fixture
async def bucket(traced: Traced) -> AsyncIterator[str]:
    """A fresh, empty key-value bucket, deleted after the test."""
    name = f"natstrace_kv{next(_buckets)}"
    await traced.nc.jetstream().create_key_value(bucket=name)
    yield name
    await traced.nc.jetstream().delete_key_value(name)


async def test_traced_update_is_handled_inside_its_process_span(
    traced: Traced, bucket: str
) -> None:
    js = traced.nc.jetstream()
    kv = await js.key_value(bucket)
    watcher = await kv.watchall()
    assert await watcher.updates(timeout=2) is None, "the empty bucket's start marker"
    await js.publish(f"$KV.{bucket}.order.7", b"paid")
    send = next(s for s in traced.spans() if s.name.startswith("send "))

    entry = await watcher.updates(timeout=2)
    assert (entry.key, entry.value, entry.operation) == ("order.7", b"paid", None)
    handling = trace.get_current_span()
    assert handling.is_recording()
    assert not [s for s in traced.spans() if s.name.startswith("process")], "open while handled"

    await kv.put("order.8", b"untraced")
    following = await watcher.updates(timeout=2)
    assert following.key == "order.8"
    assert not trace.get_current_span().is_recording(), "an update without a trace context"
    await watcher.stop()

    template = f"$KV.{bucket}.>"
    process = traced.span(f"process {template}")
    assert process.context == handling.get_span_context(), "ended when the next was requested"
    assert process.kind is trace.SpanKind.CONSUMER
    assert process.parent is not None
    assert process.parent.span_id == send.context.span_id, "auto: first delivery is a child"
    assert process.context.trace_id == send.context.trace_id
    attributes = process.attributes
    assert attributes["natstrace.kv.bucket"] == bucket
    assert attributes["natstrace.kv.key"] == "order.7"
    assert attributes["natstrace.kv.operation"] == "PUT"
    assert attributes["messaging.destination.template"] == template
    assert attributes["messaging.destination.name"] == f"$KV.{bucket}.order.7"
    assert attributes["messaging.message.id"] == send.attributes["messaging.message.id"]
    assert attributes["natstrace.jetstream.stream"] == f"KV_{bucket}"
    assert attributes["natstrace.jetstream.stream_sequence"] == entry.revision
    assert len([s for s in traced.spans() if s.name.startswith("process")]) == 1
    assert traced.consumed(template) == 1


async def test_iterated_traced_updates_end_when_the_watcher_stops(
    traced: Traced, bucket: str
) -> None:
    js = traced.nc.jetstream()
    kv = await js.key_value(bucket)
    watcher = await kv.watch("order.*")
    await js.publish(f"$KV.{bucket}.order.1", b"new")
    await js.publish(f"$KV.{bucket}.order.1", b"", headers={"KV-Operation": "DEL"})
    handled: list[tuple[str, str | None, int]] = []
    async for entry in watcher:
        if entry is None:
            continue
        current = trace.get_current_span().get_span_context()
        handled.append((entry.key, entry.operation, current.span_id))
        if len(handled) == 2:
            break
    template = f"$KV.{bucket}.>"
    assert len(traced.spans()) == 3, "two sends and the first update's process span"
    await watcher.stop()

    processes = [s for s in traced.spans() if s.name == f"process {template}"]
    assert [p.context.span_id for p in processes] == [span_id for _, _, span_id in handled]
    assert [p.attributes["natstrace.kv.operation"] for p in processes] == ["PUT", "DEL"]
    assert [(key, op) for key, op, _ in handled] == [("order.1", None), ("order.1", "DEL")]


async def test_plain_puts_make_no_spans_and_reach_the_watcher(traced: Traced, bucket: str) -> None:
    js = traced.nc.jetstream()
    kv = await js.key_value(bucket)
    watcher = await kv.watchall()
    await kv.put("order.7", b"new")
    await kv.put("order.7", b"paid")
    await kv.delete("order.7")
    await kv.purge("order.8")
    seen = []
    while len(seen) < 4:
        entry = await watcher.updates(timeout=2)
        if entry is not None:
            assert not trace.get_current_span().is_recording()
            seen.append((entry.key, entry.value, entry.operation))
    await watcher.stop()
    assert seen == [
        ("order.7", b"new", None),
        ("order.7", b"paid", None),
        ("order.7", b"", "DEL"),
        ("order.8", b"", "PURGE"),
    ]
    assert traced.spans() == []
    assert traced.consumed(f"$KV.{bucket}.>") is None


@pytest.mark.parametrize(
    "traceparent",
    [
        "00-" + "0" * 32 + "-" + "1" * 16 + "-01",  # all-zero trace ID
        "00-zz-yy-01",
        "00-" + "a" * 32 + "-" + "b" * 16 + "-01" + "x" * 10_000,
        "\u202e00-" + "a" * 32 + "-" + "b" * 16 + "-01",
    ],
)
async def test_hostile_traceparent_makes_no_span_and_the_update_arrives(
    traced: Traced, bucket: str, traceparent: str
) -> None:
    raw = traced.raw.jetstream()
    kv = await traced.nc.jetstream().key_value(bucket)
    watcher = await kv.watchall()
    await raw.publish(f"$KV.{bucket}.order.7", b"paid", headers={"traceparent": traceparent})
    entry = None
    while entry is None:
        entry = await watcher.updates(timeout=2)
    assert (entry.key, entry.value) == ("order.7", b"paid")
    assert not trace.get_current_span().is_recording()
    await watcher.stop()
    assert traced.spans() == []
    assert traced.sample("natstrace_invalid_headers_total", header="traceparent") == 1
    assert traced.errors == []
