"""Request-reply: the requester's CLIENT span, the responder's process span, the
reply's correlation, and failures shown on the span."""

from __future__ import annotations

import asyncio

import pytest
from nats.errors import NoRespondersError, TimeoutError
from opentelemetry.trace import StatusCode

from natstrace.testing import eventually, subscriptions_ready
from tests.conftest import Services, Traced
from tests.support.otlp_receiver import OtlpReceiver

pytestmark = pytest.mark.integration

STATUS_ERROR = 2  # opentelemetry.proto Status.STATUS_CODE_ERROR


async def test_request_reply_is_one_trace_and_the_reply_is_correlated(
    service: Services, otlp_receiver: OtlpReceiver
) -> None:
    client = await service("orders")
    responder = await service("inventory")

    async def reserve(msg):
        await msg.respond(b"reserved")

    await responder.subscribe("inventory.reserve", queue="inventory", cb=reserve)
    await subscriptions_ready(responder)
    reply = await client.request("inventory.reserve", b"sku-1", timeout=2)
    service.flush()

    assert reply.data == b"reserved"
    spans = {s.name: s for s in otlp_receiver.wait_for(3)}
    request = spans["request inventory.reserve"]
    process = spans["process inventory.reserve"]
    reply_send = spans["send _INBOX"]
    assert request.span.kind == 3  # SPAN_KIND_CLIENT
    assert request.attributes["messaging.operation.name"] == "request"
    assert process.parent_span_id == request.span_id
    assert reply_send.parent_span_id == process.span_id
    assert reply_send.attributes["messaging.destination.template"] == "_INBOX"
    assert reply_send.attributes["messaging.destination.name"].startswith("_INBOX.")
    # The reply belongs to the request's workflow and names the request as its cause,
    # with fresh IDs of its own rather than the request's headers echoed back.
    request_id = request.attributes["messaging.message.id"]
    assert reply.headers["Correlation-Id"] == request_id
    assert reply.headers["Causation-Id"] == request_id
    assert reply.headers["Nats-Msg-Id"] != request_id
    assert reply.headers["traceparent"].split("-")[2] == reply_send.span_id
    assert request.span.end_time_unix_nano >= reply_send.span.end_time_unix_nano


async def test_no_responders_and_timeouts_mark_the_request_span_failed(
    service: Services, otlp_receiver: OtlpReceiver
) -> None:
    client = await service("orders")
    slow = await service("slow")

    async def never_answers(msg):
        await asyncio.sleep(0.3)

    await slow.subscribe("slow.op", cb=never_answers)
    await subscriptions_ready(slow)
    with pytest.raises(NoRespondersError):
        await client.request("nobody.home", b"", timeout=1)
    with pytest.raises(TimeoutError):
        await client.request("slow.op", b"", timeout=0.1)
    service.flush()

    spans = {s.name: s for s in otlp_receiver.wait_for(2)}
    no_responders = spans["request nobody.home"]
    timed_out = spans["request slow.op"]
    assert no_responders.span.status.code == STATUS_ERROR
    assert no_responders.attributes["error.type"] == "NoRespondersError"
    assert timed_out.span.status.code == STATUS_ERROR
    assert timed_out.attributes["error.type"] == "TimeoutError"
    assert [e.name for e in timed_out.span.events] == ["exception"]
    registry = service.registries["orders"]
    assert (
        registry.get_sample_value(
            "messaging_client_sent_messages_total",
            {
                "service_name": "orders",
                "messaging_system": "nats",
                "messaging_operation_name": "request",
                "messaging_destination_name": "nobody.home",
                "error_type": "NoRespondersError",
            },
        )
        == 1
    )


async def test_no_responders_inside_a_handler_fails_the_request_span_not_the_handling(
    traced: Traced,
) -> None:
    caught: list[BaseException] = []

    async def with_fallback(msg):
        try:
            await traced.nc.request("stock.nobody", b"", timeout=30)
        except NoRespondersError as error:  # nats-py's own error, at once, not a timeout
            caught.append(error)

    async def without_fallback(msg):
        await traced.nc.request("stock.nobody", b"", timeout=30)

    await traced.nc.subscribe("orders.lenient", cb=with_fallback)
    await traced.nc.subscribe("orders.strict", cb=without_fallback)
    await traced.nc.publish("orders.lenient", b"")
    await traced.nc.publish("orders.strict", b"")

    def handled() -> None:  # each process span ends, then nats-py calls error_cb
        assert [s.name for s in traced.spans()].count("request stock.nobody") == 2
        assert traced.span("process orders.lenient") and traced.span("process orders.strict")
        assert traced.errors

    await eventually(handled)
    assert [type(e) for e in caught] == [NoRespondersError]
    assert [type(e) for e in traced.errors] == [NoRespondersError], "reaches error_cb as untraced"
    lenient = traced.span("process orders.lenient")
    strict = traced.span("process orders.strict")
    assert lenient.status.status_code is StatusCode.UNSET, "the handler coped"
    assert strict.status.status_code is StatusCode.ERROR
    assert strict.attributes["error.type"] == "NoRespondersError"
    requests = [s for s in traced.spans() if s.name == "request stock.nobody"]
    for process in (lenient, strict):
        mine = [r for r in requests if r.parent and r.parent.span_id == process.context.span_id]
        assert len(mine) == 1, "made inside the handler: a child of its process span"
        request = mine[0]
        assert request.context.trace_id == process.context.trace_id
        assert request.status.status_code is StatusCode.ERROR
        assert request.attributes["error.type"] == "NoRespondersError"
        # Still part of the workflow, caused by the handled message.
        assert (
            request.attributes["messaging.message.conversation_id"]
            == (process.attributes["messaging.message.conversation_id"])
        )
        assert (
            request.attributes["natstrace.causation_id"]
            == (process.attributes["messaging.message.id"])
        )
    labels = {"messaging_operation_name": "request", "error_type": "NoRespondersError"}
    assert (
        traced.sample(
            "messaging_client_sent_messages_total",
            messaging_system="nats",
            messaging_destination_name="stock.nobody",
            **labels,
        )
        == 2
    )
    assert traced.consumed("orders.strict", error="NoRespondersError") == 1
    assert traced.consumed("orders.lenient") == 1
