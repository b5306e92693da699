"""A caller's headers on the way out are matched case-insensitively, as on the way in.

What goes on the wire is read by a plain nats-py client (or from the stream), so
both spellings would show if both were sent.
"""

from __future__ import annotations

import asyncio
from itertools import count

import pytest
from nats.aio.msg import Msg

import natstrace
from natstrace.jetstream import outbox
from tests.conftest import Traced
from tests.support.wire import received

pytestmark = pytest.mark.integration

CALLER_TRACE = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
CONTRACT = {"traceparent", "tracestate", "baggage", "Nats-Msg-Id", "Correlation-Id", "Causation-Id"}
_streams = count()


def _contract_names(headers: dict[str, str]) -> list[str]:
    """The contract headers among ``headers``, in every spelling present."""
    return sorted(name for name in headers if name.lower() in {c.lower() for c in CONTRACT})


async def test_publish_honours_other_spellings_and_sends_one_of_each(traced: Traced) -> None:
    queue = await received(traced.raw, "spelling.core")
    caller = {
        "correlation-id": "wf-7",
        "nats-msg-id": "order-7",
        "CAUSATION-ID": "cmd-1",
        "Traceparent": CALLER_TRACE,
        "Tenant": "acme",
    }
    given = dict(caller)
    await traced.nc.publish("spelling.core", b"{}", headers=caller)
    msg = await asyncio.wait_for(queue.get(), 5)
    assert caller == given, "the caller's dict must not be modified"
    headers = msg.headers or {}
    assert _contract_names(headers) == [
        "Causation-Id",
        "Correlation-Id",
        "Nats-Msg-Id",
        "traceparent",
    ]
    assert headers["Correlation-Id"] == "wf-7"
    assert headers["Nats-Msg-Id"] == "order-7"
    assert headers["Causation-Id"] == "cmd-1"
    assert headers["Tenant"] == "acme"
    span = traced.span("send spelling.core")
    # One trace context: the send span's, not the caller's.
    assert headers["traceparent"].split("-")[2] == format(span.context.span_id, "016x")
    assert span.attributes["messaging.message.id"] == "order-7"
    assert span.attributes["messaging.message.conversation_id"] == "wf-7"


async def test_the_contract_spelling_wins_over_another(traced: Traced) -> None:
    queue = await received(traced.raw, "spelling.both")
    await traced.nc.publish(
        "spelling.both", b"", headers={"correlation-id": "lower", "Correlation-Id": "exact"}
    )
    headers = (await asyncio.wait_for(queue.get(), 5)).headers or {}
    assert _contract_names(headers) == ["Correlation-Id", "Nats-Msg-Id", "traceparent"]
    assert headers["Correlation-Id"] == "exact"


async def test_the_caller_trace_context_never_goes_out_beside_the_send_span(
    traced: Traced,
) -> None:
    queue = await received(traced.raw, "spelling.trace")
    await traced.nc.publish(
        "spelling.trace", b"", headers={"traceparent": CALLER_TRACE, "tracestate": "vendor=x"}
    )
    headers = (await asyncio.wait_for(queue.get(), 5)).headers or {}
    # A tracestate belongs to its traceparent: the caller's would describe another trace.
    assert _contract_names(headers) == ["Correlation-Id", "Nats-Msg-Id", "traceparent"]
    span = traced.span("send spelling.trace")
    assert headers["traceparent"].split("-")[2] == format(span.context.span_id, "016x")


async def test_an_invalid_id_in_another_spelling_is_refused(traced: Traced) -> None:
    with pytest.raises(natstrace.InvalidIdError):
        await traced.nc.publish("spelling.bad", b"", headers={"correlation-id": "a b"})


async def test_request_honours_other_spellings(traced: Traced) -> None:
    async def echo(msg: Msg) -> None:
        await traced.raw.publish(msg.reply, b"", headers=msg.headers)

    await traced.raw.subscribe("spelling.req", cb=echo)
    await traced.raw.flush()
    reply = await traced.nc.request(
        "spelling.req",
        b"",
        timeout=5,
        headers={"correlation-id": "wf-8", "TRACEPARENT": CALLER_TRACE},
    )
    headers = reply.headers or {}
    assert _contract_names(headers) == ["Correlation-Id", "Nats-Msg-Id", "traceparent"]
    assert headers["Correlation-Id"] == "wf-8"


async def test_jetstream_deduplicates_on_a_lowercase_msg_id(traced: Traced) -> None:
    js = traced.nc.jetstream()
    name = f"SPELL{next(_streams)}"
    await js.add_stream(name=name, subjects=[f"{name.lower()}.*"])
    try:
        subject = f"{name.lower()}.created"
        first = await js.publish(subject, b"1", headers={"nats-msg-id": "order-9"})
        second = await js.publish(subject, b"1", headers={"nats-msg-id": "order-9"})
        assert (first.seq, second.duplicate) == (1, True)
        stored = (await js.get_msg(name, 1)).headers or {}
        assert _contract_names(stored) == ["Correlation-Id", "Nats-Msg-Id", "traceparent"]
        assert stored["Nats-Msg-Id"] == "order-9"
    finally:
        await js.delete_stream(name)


async def test_outbox_capture_honours_other_spellings(traced: Traced) -> None:
    given = {"nats-msg-id": "order-10", "correlation-id": "wf-10"}
    with natstrace.correlation_scope("ambient"):
        captured = outbox.capture(given)
    assert given == {"nats-msg-id": "order-10", "correlation-id": "wf-10"}
    assert captured == {"Nats-Msg-Id": "order-10", "Correlation-Id": "wf-10"}
    with pytest.raises(natstrace.InvalidIdError):
        outbox.capture({"causation-id": "a b"})
