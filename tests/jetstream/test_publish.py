"""``js.publish``: a send span to the PubAck, de-duplication, failures on span and metrics."""

from __future__ import annotations

import pytest
from nats.js.errors import BadRequestError, NoStreamResponseError
from opentelemetry.trace import SpanKind, StatusCode

from tests.conftest import Traced
from tests.jetstream.conftest import Stream

pytestmark = pytest.mark.integration


async def test_send_span_covers_the_pub_ack(traced: Traced, stream: Stream) -> None:
    headers = {"Tenant": "acme"}
    ack = await stream.js.publish(stream.subject(), b"{}", headers=headers)
    assert headers == {"Tenant": "acme"}, "the caller's dict must not be modified"

    span = traced.span(f"send {stream.subject()}")
    assert span.kind is SpanKind.PRODUCER
    assert span.attributes["natstrace.jetstream.stream"] == stream.name
    assert span.attributes["natstrace.jetstream.stream_sequence"] == ack.seq == 1
    assert span.attributes["natstrace.jetstream.duplicate"] is False
    stored = await stream.js.get_msg(stream.name, 1)
    assert stored.headers["Nats-Msg-Id"] == span.attributes["messaging.message.id"]
    assert stored.headers["traceparent"].split("-")[2] == format(span.context.span_id, "016x")
    assert stored.headers["Tenant"] == "acme"
    assert traced.sent(stream.subject()) == 1


async def test_same_msg_id_twice_is_a_duplicate(traced: Traced, stream: Stream) -> None:
    first = await stream.js.publish(stream.subject(), b"1", headers={"Nats-Msg-Id": "order-7"})
    second = await stream.js.publish(stream.subject(), b"1", headers={"Nats-Msg-Id": "order-7"})
    assert (first.seq, second.seq, second.duplicate) == (1, 1, True)
    spans = sorted(traced.spans(), key=lambda s: s.start_time)
    assert [s.attributes["natstrace.jetstream.duplicate"] for s in spans] == [False, True]
    assert {s.attributes["messaging.message.id"] for s in spans} == {"order-7"}
    assert (await stream.js.stream_info(stream.name)).state.messages == 1


async def test_no_stream_marks_span_and_metrics(traced: Traced) -> None:
    js = traced.nc.jetstream()
    with pytest.raises(NoStreamResponseError):
        await js.publish("nowhere.at.all", b"x", timeout=1)
    span = traced.span("send nowhere.at.all")
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes["error.type"] == "NoStreamResponseError"
    assert traced.sent("nowhere.at.all", "NoStreamResponseError") == 1
    assert traced.sent("nowhere.at.all") is None


async def test_wrong_expected_last_sequence_is_an_error(traced: Traced, stream: Stream) -> None:
    await stream.js.publish(stream.subject(), b"1")
    with pytest.raises(BadRequestError):
        await stream.js.publish(
            stream.subject(), b"2", headers={"Nats-Expected-Last-Sequence": "5"}
        )
    failed = [s for s in traced.spans() if s.status.status_code is StatusCode.ERROR]
    assert len(failed) == 1
    assert failed[0].attributes["error.type"] == "BadRequestError"
    assert failed[0].attributes["natstrace.jetstream.error_code"] == 10071
    assert traced.sent(stream.subject(), "BadRequestError") == 1
    assert traced.sent(stream.subject()) == 1


async def test_expected_stream_mismatch_fails_like_nats_py(traced: Traced, stream: Stream) -> None:
    with pytest.raises(BadRequestError):
        await stream.js.publish(stream.subject(), b"1", stream="NOT_IT")
    assert traced.spans()[0].attributes["error.type"] == "BadRequestError"
