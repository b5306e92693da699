"""A message whose body and headers together exceed the server's ``max_payload``
is refused before it is sent, as nats-py refuses an oversized body.

nats-py checks the body alone; the server counts headers too and closes the
connection on a message over the limit. natstrace adds headers, so a body that
nats-py would send must not become a message the server rejects: the publish
raises nats-py's ``MaxPayloadError``, the span and the metrics say it failed, and
the connection stays up.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Mapping

import pytest
from nats.errors import MaxPayloadError
from opentelemetry.trace import StatusCode

from natstrace.embedded_server import EmbeddedNatsServer
from natstrace.jetstream import outbox
from tests.conftest import Traced
from tests.support.wire import received

pytestmark = pytest.mark.integration

MAX_PAYLOAD = 4096
HEADERS = {"Nats-Msg-Id": "big-1", "Note": "été " * 40}  # two bytes per é


@pytest.fixture(scope="module")
def nats_server() -> Iterator[EmbeddedNatsServer]:
    """A server of this module's own, with a small ``max_payload``."""
    with EmbeddedNatsServer(jetstream=True, config=f"max_payload: {MAX_PAYLOAD}") as server:
        yield server


def _header_block(headers: Mapping[str, str]) -> int:
    """Size of a NATS header block: ``NATS/1.0``, ``name: value`` lines, a blank line."""
    lines = [b"NATS/1.0", *(f"{k}: {v}".encode() for k, v in headers.items()), b"", b""]
    return len(b"\r\n".join(lines))


def _assert_refused(traced: Traced, span_name: str, template: str, operation: str) -> None:
    span = traced.span(span_name)
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes is not None
    assert span.attributes["error.type"] == "MaxPayloadError"
    failed = traced.sample(
        "messaging_client_sent_messages_total",
        messaging_system="nats",
        messaging_operation_name=operation,
        messaging_destination_name=template,
        error_type="MaxPayloadError",
    )
    assert failed == 1
    assert traced.raw.is_connected, "the server must not have closed the connection"
    assert traced.errors == []


async def test_a_body_of_max_payload_is_refused_not_lost(traced: Traced) -> None:
    assert traced.raw.max_payload == MAX_PAYLOAD
    with pytest.raises(MaxPayloadError):
        await traced.nc.publish("big.core", b"x" * MAX_PAYLOAD)
    _assert_refused(traced, "send big.core", "big.core", "send")
    # The connection still works.
    queue = await received(traced.raw, "big.after")
    await traced.nc.publish("big.after", b"small")
    assert (await asyncio.wait_for(queue.get(), 5)).data == b"small"


async def test_the_limit_counts_headers_to_the_byte(traced: Traced) -> None:
    queue = await received(traced.raw, "big.edge")
    await traced.nc.publish("big.edge", b"", headers=HEADERS)
    headers = (await asyncio.wait_for(queue.get(), 5)).headers or {}
    room = MAX_PAYLOAD - _header_block(headers)  # same header sizes on every message below

    await traced.nc.publish("big.edge", b"x" * room, headers=HEADERS)
    assert len((await asyncio.wait_for(queue.get(), 5)).data) == room
    with pytest.raises(MaxPayloadError):
        await traced.nc.publish("big.edge", b"x" * (room + 1), headers=HEADERS)
    await traced.raw.flush()
    assert traced.raw.is_connected
    assert traced.errors == []


async def test_request_is_refused(traced: Traced) -> None:
    with pytest.raises(MaxPayloadError):
        await traced.nc.request("big.req", b"x" * MAX_PAYLOAD, timeout=1)
    _assert_refused(traced, "request big.req", "big.req", "request")


async def test_jetstream_publish_and_publish_async_are_refused(traced: Traced) -> None:
    js = traced.nc.jetstream()
    await js.add_stream(name="BIG", subjects=["bigjs.*"])
    try:
        with pytest.raises(MaxPayloadError):
            await js.publish("bigjs.sync", b"x" * MAX_PAYLOAD)
        _assert_refused(traced, "send bigjs.sync", "bigjs.sync", "send")
        with pytest.raises(MaxPayloadError):
            await js.publish_async("bigjs.async", b"x" * MAX_PAYLOAD)
        await js.publish_async_completed()
        _assert_refused(traced, "send bigjs.async", "bigjs.async", "send")
        with pytest.raises(MaxPayloadError):
            await outbox.relay(js, "bigjs.relay", b"x" * MAX_PAYLOAD, outbox.capture())
        _assert_refused(traced, "send bigjs.relay", "bigjs.relay", "send")
        assert (await js.stream_info("BIG")).state.messages == 0
    finally:
        await js.delete_stream("BIG")
