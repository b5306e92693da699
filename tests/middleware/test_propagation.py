"""Trace context and correlation IDs across three services, checked on the spans
that arrived at a real OTLP receiver."""

from __future__ import annotations

import asyncio

import pytest

import natstrace
from natstrace.testing import subscriptions_ready
from tests.conftest import Services
from tests.support.otlp_receiver import OtlpReceiver

pytestmark = pytest.mark.integration


async def _three_hops(service: Services, policy: str) -> dict[str, dict[str, str]]:
    """A publishes, B handles and publishes, C handles. Returns the headers each saw."""
    a = await service("svc-a", policy=policy)  # type: ignore[arg-type]
    b = await service("svc-b", policy=policy)  # type: ignore[arg-type]
    c = await service("svc-c", policy=policy)  # type: ignore[arg-type]
    seen: dict[str, dict[str, str]] = {}
    done = asyncio.Event()

    async def on_b(msg):
        seen["b"] = dict(msg.headers)
        await b.publish("payments.requested", b"second")

    async def on_c(msg):
        seen["c"] = dict(msg.headers)
        done.set()

    await b.subscribe("orders.*", queue="b-workers", cb=on_b)
    await c.subscribe("payments.requested", cb=on_c)
    await subscriptions_ready(b, c)
    await a.publish("orders.created", b"first")
    await asyncio.wait_for(done.wait(), 5)
    service.flush()
    return seen


async def test_parent_policy_gives_one_trace_with_a_causal_chain(
    service: Services, otlp_receiver: OtlpReceiver
) -> None:
    seen = await _three_hops(service, "parent")
    spans = {s.name: s for s in otlp_receiver.wait_for(4)}
    send_b, process_b = spans["send orders.created"], spans["process orders.*"]
    send_c, process_c = spans["send payments.requested"], spans["process payments.requested"]

    assert {s.service_name for s in spans.values()} == {"svc-a", "svc-b", "svc-c"}
    assert len({s.trace_id for s in spans.values()}) == 1
    assert process_b.parent_span_id == send_b.span_id
    assert send_c.parent_span_id == process_b.span_id
    assert process_c.parent_span_id == send_c.span_id

    # Correlation-Id is the first message's own ID on every hop; Causation-Id chains.
    first_id = seen["b"]["Nats-Msg-Id"]
    assert seen["b"]["Correlation-Id"] == first_id
    assert "Causation-Id" not in seen["b"]
    assert seen["c"]["Correlation-Id"] == first_id
    assert seen["c"]["Causation-Id"] == first_id
    assert seen["c"]["Nats-Msg-Id"] != first_id
    for span in spans.values():
        assert span.attributes["messaging.message.conversation_id"] == first_id
    assert process_c.attributes["natstrace.causation_id"] == first_id

    assert process_b.attributes["messaging.destination.name"] == "orders.created"
    assert process_b.attributes["messaging.destination.template"] == "orders.*"
    assert process_b.attributes["messaging.consumer.group.name"] == "b-workers"
    assert process_b.attributes["messaging.message.id"] == first_id
    assert send_b.attributes["messaging.operation.type"] == "send"
    assert process_b.attributes["messaging.operation.type"] == "process"
    assert send_b.attributes["messaging.system"] == "nats"
    assert send_b.attributes["server.address"] == "127.0.0.1"
    assert send_b.attributes["messaging.message.body.size"] == len(b"first")


async def test_link_policy_starts_new_traces_linked_to_the_producer(
    service: Services, otlp_receiver: OtlpReceiver
) -> None:
    seen = await _three_hops(service, "link")
    spans = {s.name: s for s in otlp_receiver.wait_for(4)}
    send_b, process_b = spans["send orders.created"], spans["process orders.*"]
    send_c, process_c = spans["send payments.requested"], spans["process payments.requested"]

    assert process_b.parent_span_id == ""
    assert process_b.trace_id != send_b.trace_id
    assert process_b.links == [(send_b.trace_id, send_b.span_id)]
    # B's publish continues B's own trace; C's handling links to it.
    assert send_c.trace_id == process_b.trace_id
    assert process_c.links == [(send_c.trace_id, send_c.span_id)]
    # Correlation survives the trace boundary: that is what joins the workflow.
    assert seen["c"]["Correlation-Id"] == seen["b"]["Nats-Msg-Id"]


async def test_ambient_correlation_and_caller_headers_are_kept(
    service: Services, otlp_receiver: OtlpReceiver
) -> None:
    a = await service("svc-a")
    b = await service("svc-b")
    received: asyncio.Queue[dict[str, str]] = asyncio.Queue()

    async def on_msg(msg):
        await received.put(dict(msg.headers))

    await b.subscribe("ambient", cb=on_msg)
    await subscriptions_ready(b)
    caller_headers = {"Tenant": "acme", "Nats-Msg-Id": "order-42"}
    with natstrace.correlation_scope("http-req-7"):
        await a.publish("ambient", b"x", headers=caller_headers)
    headers = await asyncio.wait_for(received.get(), 5)

    assert headers["Correlation-Id"] == "http-req-7"
    assert headers["Nats-Msg-Id"] == "order-42"
    assert headers["Tenant"] == "acme"
    assert caller_headers == {"Tenant": "acme", "Nats-Msg-Id": "order-42"}, "caller dict mutated"
    assert natstrace.current_correlation() is None
