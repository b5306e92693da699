"""One real server: fan-out with a queue group, no interest, gzip, bad events."""

from __future__ import annotations

import gzip
import json
from collections.abc import Awaitable, Callable
from typing import Any

import nats
import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanKind, StatusCode

from natstrace.embedded_server import EmbeddedNatsServer
from natstrace.servertrace import trace_headers
from natstrace.testing import eventually

pytestmark = pytest.mark.integration

SendSpan = Callable[[str], tuple[ReadableSpan, dict[str, str]]]
StartCollector = Callable[..., Awaitable[Any]]


def _egresses(span: ReadableSpan) -> list[dict[str, Any]]:
    return [dict(event.attributes or {}) for event in span.events if event.name == "egress"]


async def test_fanout_to_queue_group_and_plain_subscriber(
    nats_server: EmbeddedNatsServer, collector_for: StartCollector, send_span: SendSpan
) -> None:
    harness = await collector_for(nats_server.url, "st.fanout.trace")
    received: dict[str, list[str]] = {"payments-1": [], "payments-2": [], "audit": []}
    connections = {}
    for name in received:
        nc = await nats.connect(nats_server.url, name=name)
        connections[name] = nc

        async def handler(msg: Any, name: str = name) -> None:
            received[name].append(msg.subject)

        queue = "payments" if name.startswith("payments") else ""
        subject = "st.orders.created" if queue else "st.orders.*"
        await nc.subscribe(subject, queue=queue, cb=handler)
        await nc.flush()
    publisher = await nats.connect(nats_server.url, name="orders-service")
    try:
        send, headers = send_span("st.orders.created")
        headers.update(trace_headers("st.fanout.trace"))
        await publisher.publish("st.orders.created", b"{}", headers=headers)
        await publisher.flush()
        [span] = await harness.spans(1)

        def delivered() -> None:
            assert received["audit"] and (received["payments-1"] or received["payments-2"])

        await eventually(delivered)
        client_ids = {name: nc.client_id for name, nc in connections.items()}
    finally:
        await publisher.close()
        for nc in connections.values():
            await nc.close()

    # The server delivers a queue group's copy to one member: two egresses, not three.
    winners = [name for name in ("payments-1", "payments-2") if received[name]]
    assert len(winners) == 1 and received["audit"] == ["st.orders.created"]
    assert span.name == "server st.orders.created"
    assert span.kind is SpanKind.SERVER
    assert span.resource.attributes["service.name"] == "nats-server"
    assert span.context.trace_id == send.context.trace_id
    assert span.parent is not None and span.parent.span_id == send.context.span_id
    attributes = span.attributes or {}
    assert attributes["natstrace.server.name"] == nats_server.name
    assert attributes["natstrace.server.ingress.connection_name"] == "orders-service"
    assert attributes["natstrace.server.no_interest"] is False
    assert attributes["natstrace.server.deliveries"] == 2
    egresses = _egresses(span)
    assert len(egresses) == 2
    by_sub = {e["messaging.destination.subscription.name"]: e for e in egresses}
    assert by_sub["st.orders.created"]["messaging.consumer.group.name"] == "payments"
    assert by_sub["st.orders.created"]["natstrace.server.egress.connection_name"] == winners[0]
    assert (
        by_sub["st.orders.created"]["natstrace.server.egress.connection_id"]
        == (client_ids[winners[0]])
    )
    assert "messaging.consumer.group.name" not in by_sub["st.orders.*"]
    assert by_sub["st.orders.*"]["natstrace.server.egress.connection_name"] == "audit"


@pytest.mark.parametrize(
    ("subject", "label"), [("st.nobody.listens", "st.nobody.listens"), ("_INBOX.x1y2", "_INBOX")]
)
async def test_no_interest_sets_attribute_and_metric(
    nats_server: EmbeddedNatsServer,
    collector_for: StartCollector,
    send_span: SendSpan,
    subject: str,
    label: str,
) -> None:
    harness = await collector_for(nats_server.url, "st.nointerest.trace")
    registry = harness.registry
    labels = {"service_name": "billing", "messaging_destination_name": label}
    publisher = await nats.connect(nats_server.url, name="billing")
    try:
        _, headers = send_span(subject)
        headers.update(trace_headers("st.nointerest.trace"))
        await publisher.publish(subject, b"x", headers=headers)
        await publisher.flush()
        [span] = await harness.spans(1)
    finally:
        await publisher.close()
    assert (span.attributes or {})["natstrace.server.no_interest"] is True
    assert _egresses(span) == []
    assert registry.get_sample_value("natstrace_server_no_interest_total", labels) == 1.0


async def test_gzip_events_are_decoded(
    nats_server: EmbeddedNatsServer, collector_for: StartCollector
) -> None:
    harness = await collector_for(nats_server.url, "st.gzip.trace")
    publisher = await nats.connect(nats_server.url, name="zipper")
    try:
        headers = {"Nats-Msg-Id": "gz-1", **trace_headers("st.gzip.trace", compress=True)}
        await publisher.publish("st.gzip.nobody", b"x", headers=headers)
        await publisher.flush()
        [span] = await harness.spans(1)
    finally:
        await publisher.close()
    payload, raw_headers = harness.raw[0]
    assert payload[:2] == b"\x1f\x8b" and (raw_headers or {}).get("Content-Encoding") == "gzip"
    assert json.loads(gzip.decompress(payload))["events"][0]["subj"] == "st.gzip.nobody"
    assert (span.attributes or {})["messaging.message.id"] == "gz-1"
    assert span.parent is None  # no traceparent: a root span in a trace of its own


async def test_bad_events_are_counted_and_skipped(
    nats_server: EmbeddedNatsServer, collector_for: StartCollector
) -> None:
    harness = await collector_for(nats_server.url, "st.bad.trace", max_event_bytes=64 * 1024)
    registry = harness.registry
    publisher = await nats.connect(nats_server.url)
    await publisher.publish("st.bad.first", b"x", headers=trace_headers("st.bad.trace"))
    await publisher.flush()
    await harness.spans(1)
    good = harness.raw[0][0]
    bad = [
        b"not json",
        b"[]",
        b'{"server": {}}',
        good[: len(good) // 2],
        gzip.compress(good)[:20],
        gzip.compress(b" " * (1024 * 1024)),
        good.replace(b'"kind":0', b'"kind":"client"'),
        good.replace(b'"type":"in"', b'"type":"eg"'),
    ]
    try:
        for payload in bad:
            await publisher.publish("st.bad.trace", payload)
        await publisher.publish("st.bad.subject", b"x", headers=trace_headers("st.bad.trace"))
        await publisher.flush()
        span = (await harness.spans(2))[-1]
    finally:
        await publisher.close()
    stats = harness.collector.stats()
    assert stats.events_invalid == len(bad) and stats.internal_errors == 0
    assert (span.attributes or {})["messaging.destination.name"] == "st.bad.subject"

    def count(reason: str) -> float | None:
        return registry.get_sample_value(
            "natstrace_server_trace_events_invalid_total", {"reason": reason}
        )

    assert count("json") == 2.0
    assert count("schema") == 4.0
    assert count("encoding") == 1.0
    assert count("too_large") == 1.0


async def test_errors_and_status_from_denied_publish(collector_for: StartCollector) -> None:
    config = (
        "authorization { users: [{user: pub, password: pw, "
        'permissions: {publish: {allow: ["ok.>", "st.perm.trace"]}}}] }'
    )
    with EmbeddedNatsServer(jetstream=False, config=config) as server:
        url = f"nats://pub:pw@{server.host}:{server.port}"
        harness = await collector_for(url, "st.perm.trace")
        nc = await nats.connect(url, name="limited")
        try:
            await nc.publish("denied.x", b"x", headers=trace_headers("st.perm.trace"))
            await nc.flush()
            [span] = await harness.spans(1)
        finally:
            await nc.close()
            await harness.collector.stop()
    assert span.status.status_code is StatusCode.ERROR
    assert "Permissions Violation" in (span.status.description or "")
    assert (span.attributes or {})["error.type"] == "ingress_rejected"
    assert (span.attributes or {})["natstrace.server.no_interest"] is False
