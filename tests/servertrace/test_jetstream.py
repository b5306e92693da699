"""JetStream: the store is a child span of the server hop, naming the stream."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import nats
import pytest
from opentelemetry.sdk.trace import ReadableSpan

from natstrace.embedded_server import EmbeddedNatsServer
from natstrace.servertrace import trace_headers

pytestmark = pytest.mark.integration

SendSpan = Callable[[str], tuple[ReadableSpan, dict[str, str]]]


async def test_store_is_a_child_span_with_the_stream_name(
    nats_server: EmbeddedNatsServer,
    collector_for: Callable[..., Awaitable[Any]],
    send_span: SendSpan,
) -> None:
    harness = await collector_for(nats_server.url, "st.js.trace")
    nc = await nats.connect(nats_server.url, name="shipments")
    try:
        js = nc.jetstream()
        await js.add_stream(name="STSHIP", subjects=["st.ship.>"])
        send, headers = send_span("st.ship.requested")
        headers.update(trace_headers("st.js.trace"))
        ack = await js.publish("st.ship.requested", b"{}", headers=headers)
        spans = await harness.spans(2)
    finally:
        await nc.close()
    assert ack.stream == "STSHIP"
    [hop] = [s for s in spans if s.name == "server st.ship.requested"]
    [store] = [s for s in spans if s.name == "store STSHIP"]
    assert hop.parent is not None and hop.parent.span_id == send.context.span_id
    assert store.parent is not None and store.parent.span_id == hop.context.span_id
    assert store.context.trace_id == send.context.trace_id
    attributes = store.attributes or {}
    assert attributes["natstrace.jetstream.stream"] == "STSHIP"
    assert attributes["messaging.destination.name"] == "st.ship.requested"
    assert attributes["natstrace.server.jetstream.no_interest"] is False
    assert store.start_time is not None and hop.start_time is not None
    assert store.start_time >= hop.start_time
    # Stored is delivered: not an orphan, even though no client subscribed.
    assert (hop.attributes or {})["natstrace.server.no_interest"] is False
    sample = harness.registry.get_sample_value(
        "natstrace_server_no_interest_total",
        {"service_name": "shipments", "messaging_destination_name": "st.ship.requested"},
    )
    assert sample is None
