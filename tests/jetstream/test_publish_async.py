"""``js.publish_async``: back once sent, a future of the PubAck, a send span ending at it."""

from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from nats.js.errors import NoStreamResponseError, TooManyStalledMsgsError
from opentelemetry.trace import SpanKind, StatusCode

import natstrace
from natstrace.testing import SpanCapture
from natstrace.tracing.correlation import InvalidIdError
from tests.conftest import Traced
from tests.jetstream.conftest import Stream

pytestmark = pytest.mark.integration


@pytest.fixture
async def loop_errors() -> AsyncIterator[list[dict[str, Any]]]:
    """What reaches the event loop's exception handler ("... was never retrieved")."""
    loop = asyncio.get_running_loop()
    errors: list[dict[str, Any]] = []
    previous = loop.get_exception_handler()
    loop.set_exception_handler(lambda _loop, context: errors.append(context))
    yield errors
    loop.set_exception_handler(previous)


def _never_retrieved(errors: list[dict[str, Any]]) -> list[str]:
    gc.collect()
    return [e["message"] for e in errors if "never retrieved" in e.get("message", "")]


async def test_returns_when_sent_and_the_span_ends_at_the_pub_ack(
    traced: Traced, stream: Stream, loop_errors: list[dict[str, Any]]
) -> None:
    count = 5
    headers = {"Tenant": "acme"}
    first = await stream.js.publish_async(stream.subject(), b"0", headers=headers)
    assert not first.done(), "returns once sent, before the PubAck"
    assert traced.spans() == [], "the send span is still open"
    futures = [first]
    returned = [time.time_ns()]
    for n in range(1, count):
        futures.append(await stream.js.publish_async(stream.subject(), str(n).encode()))
        returned.append(time.time_ns())
    assert headers == {"Tenant": "acme"}, "the caller's dict must not be modified"

    acks = await asyncio.gather(*futures)
    assert [ack.seq for ack in acks] == list(range(1, count + 1))
    spans = sorted(traced.spans(), key=lambda s: s.start_time)
    assert len(spans) == count
    for span, ack, sent_at in zip(spans, acks, returned, strict=True):
        assert span.name == f"send {stream.subject()}"
        assert span.kind is SpanKind.PRODUCER
        assert span.attributes["natstrace.jetstream.stream"] == stream.name
        assert span.attributes["natstrace.jetstream.stream_sequence"] == ack.seq
        assert span.attributes["natstrace.jetstream.duplicate"] is False
        assert span.end_time >= sent_at, "ends at the PubAck, after publish_async returned"
    stored = await stream.js.get_msg(stream.name, 1)
    assert stored.headers["Nats-Msg-Id"] == spans[0].attributes["messaging.message.id"]
    assert stored.headers["traceparent"].split("-")[2] == format(spans[0].context.span_id, "016x")
    assert stored.headers["Tenant"] == "acme"
    assert traced.sent(stream.subject()) == count
    assert (
        traced.sample(
            "messaging_client_operation_duration_seconds_count",
            messaging_system="nats",
            messaging_operation_name="send",
            messaging_destination_name=stream.subject(),
            error_type="",
        )
        == count
    )
    del futures, first
    assert _never_retrieved(loop_errors) == []


async def test_consumer_continues_the_callers_trace(
    traced: Traced, stream: Stream, natstrace_spans: SpanCapture
) -> None:
    tracer = natstrace_spans.tracer_provider.get_tracer("test")
    with tracer.start_as_current_span("checkout") as checkout, natstrace.correlation_scope("req-9"):
        future = await stream.js.publish_async(stream.subject(), b"x")
    # Awaited outside the caller's span: the task kept the context it started in.
    await future
    send = traced.span(f"send {stream.subject()}")
    assert send.parent.span_id == checkout.get_span_context().span_id
    assert send.attributes["messaging.message.conversation_id"] == "req-9"

    sub = await stream.js.pull_subscribe(stream.wildcard, durable="after-async")
    for msg in await sub.fetch(1, timeout=2):
        assert msg.headers["Correlation-Id"] == "req-9"
        await msg.ack()
    await sub.unsubscribe()
    process = traced.span(f"process {stream.wildcard}")
    assert process.parent.span_id == send.context.span_id, "policy auto: a child of the send"
    assert process.context.trace_id == send.context.trace_id


async def test_same_msg_id_twice_is_a_duplicate(traced: Traced, stream: Stream) -> None:
    headers = {"Nats-Msg-Id": "order-8"}
    first = await stream.js.publish_async(stream.subject(), b"1", headers=headers)
    second = await stream.js.publish_async(stream.subject(), b"1", headers=headers)
    acks = await asyncio.gather(first, second)
    assert [(ack.seq, ack.duplicate) for ack in acks] == [(1, None), (1, True)]
    spans = sorted(traced.spans(), key=lambda s: s.start_time)
    assert [s.attributes["natstrace.jetstream.duplicate"] for s in spans] == [False, True]
    assert {s.attributes["messaging.message.id"] for s in spans} == {"order-8"}
    assert (await stream.js.stream_info(stream.name)).state.messages == 1


async def test_no_stream_fails_the_future_and_marks_span_and_metrics(
    traced: Traced, loop_errors: list[dict[str, Any]]
) -> None:
    js = traced.nc.jetstream()
    future = await js.publish_async("nowhere.async", b"x")
    with pytest.raises(NoStreamResponseError):
        await future
    span = traced.span("send nowhere.async")
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes["error.type"] == "NoStreamResponseError"
    assert traced.sent("nowhere.async", "NoStreamResponseError") == 1
    assert traced.sent("nowhere.async") is None
    del future
    assert _never_retrieved(loop_errors) == []


async def test_an_unawaited_failure_is_reported_once_as_by_nats_py(
    traced: Traced, loop_errors: list[dict[str, Any]]
) -> None:
    js = traced.nc.jetstream()
    future = await js.publish_async("nowhere.unawaited", b"x")
    await js.publish_async_completed()
    assert future.done()
    assert traced.span("send nowhere.unawaited").attributes["error.type"] == (
        "NoStreamResponseError"
    )
    del future
    # nats-py's own future would say "Future exception ...": one report, not two.
    assert _never_retrieved(loop_errors) == ["Task exception was never retrieved"]


async def test_completed_waits_for_the_spans(traced: Traced, stream: Stream) -> None:
    futures = [await stream.js.publish_async(stream.subject(), b"x") for _ in range(3)]
    await stream.js.publish_async_completed()
    assert all(f.done() for f in futures)
    assert len(traced.spans()) == 3
    assert stream.js.publish_async_pending() == 0
    await asyncio.gather(*futures)


async def test_failing_before_the_send_raises(
    traced: Traced, stream: Stream, loop_errors: list[dict[str, Any]]
) -> None:
    with pytest.raises(InvalidIdError):
        await stream.js.publish_async(stream.subject(), b"x", headers={"Nats-Msg-Id": "a\r\nb"})
    assert (await stream.js.stream_info(stream.name)).state.messages == 0
    assert _never_retrieved(loop_errors) == []


async def test_stalled_publish_raises_like_nats_py(
    traced: Traced, loop_errors: list[dict[str, Any]]
) -> None:
    # A subscriber that never answers keeps the first PubAck outstanding.
    await traced.raw.subscribe("silent.async")
    js = traced.nc.jetstream(publish_async_max_pending=1)
    first = await js.publish_async("silent.async", b"1")
    with pytest.raises(TooManyStalledMsgsError):
        await js.publish_async("silent.async", b"2", wait_stall=0.05)
    failed = traced.span("send silent.async")
    assert failed.attributes["error.type"] == "TooManyStalledMsgsError"
    assert traced.sent("silent.async", "TooManyStalledMsgsError") == 1

    first.cancel()
    with pytest.raises(asyncio.CancelledError):
        await first
    assert js.publish_async_pending() == 0, "cancelling gives nats-py's slot back"
    assert len(traced.spans()) == 2, "the cancelled publish's span ended too"
    del first
    assert _never_retrieved(loop_errors) == []
