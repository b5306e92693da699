"""The causal tree on hand-made spans: redeliveries, settlements, lost context."""

from __future__ import annotations

from dataclasses import replace

from natstrace.flow import SpanEvent, flow_to_dict, reconstruct_flow
from tests.flow.spans import MS, span


def test_redeliveries_hang_under_the_send_with_count_latency_and_settlement() -> None:
    send = span("send shipments.new", service="orders", message_id="m1")
    first = span(
        "process shipments.new",
        service="shipping",
        parent=send,
        start_ms=2,
        message_id="m1",
        failed=True,
        error__type="TimeoutError",
        natstrace__jetstream__delivery_count=1,
        events=(SpanEvent("nak", 3 * MS + 1_700_000_000_000 * MS),),
    )
    second = span(
        "process shipments.new",
        service="shipping",
        links=(send,),
        start_ms=500,
        message_id="m1",
        natstrace__jetstream__delivery_count=2,
    )
    settle = span("settle shipments.new", service="shipping", parent=second, start_ms=501)
    ack = replace(settle, attributes={**settle.attributes, "natstrace.jetstream.outcome": "ack"})

    data = flow_to_dict(reconstruct_flow([second, ack, first, send], "wf-1"))

    (root,) = data["hops"]
    assert root["service"] == "orders"
    deliveries = root["children"]
    assert [d["delivery_count"] for d in deliveries] == [1, 2]
    assert [d["settlement"] for d in deliveries] == ["nak", "ack"]
    assert [d["cause"] for d in deliveries] == ["parent", "link"]
    assert deliveries[1]["delivery_latency_ms"] == 500.0
    assert deliveries[0]["error"]["type"] == "TimeoutError"
    # The settle span is folded into its delivery, not shown as a hop.
    assert deliveries[1]["children"] == []


def test_message_id_and_causation_join_spans_that_lost_their_trace_context() -> None:
    send = span("send a.b", service="one", message_id="m1")
    process = span("process a.*", service="two", start_ms=1, message_id="m1")
    follow_up = span("send c.d", service="two", start_ms=2, message_id="m2", causation="m1")

    data = flow_to_dict(reconstruct_flow([send, process, follow_up], "wf-1"))

    (root,) = data["hops"]
    (child,) = root["children"]
    assert child["cause"] == "message"
    (grandchild,) = child["children"]
    assert (grandchild["template"], grandchild["cause"]) == ("c.d", "causation")


def test_a_cycle_in_the_references_does_not_hang_or_lose_spans() -> None:
    # Corrupt data: each span names the other's message as its cause.
    one = span("send a", message_id="m1", causation="m2")
    two = span("process a", message_id="m2", causation="m1", start_ms=1)
    three = span("send b", message_id="m3", causation="m2", start_ms=2)

    flow = reconstruct_flow([one, two, three], "wf-1")

    assert sum(1 for _ in flow.walk()) == 3


def test_links_pull_in_other_traces_but_not_other_workflows() -> None:
    # As the pull path builds them: the fetch's receive span is a root in its own
    # trace, carries no correlation ID and links to the send of every message in the
    # batch; each process span is a child of its send (policy auto), not of the receive.
    send = span("send batch.in", service="orders", message_id="m1")
    other = span("send batch.in", service="orders", message_id="m9", correlation="wf-2")
    receive = span("receive BATCH/worker", links=(send, other), correlation=None, start_ms=1)
    process = span("process batch.in", parent=send, message_id="m1", start_ms=2)
    unrelated = span("process batch.in", parent=other, message_id="m9", correlation="wf-2")

    flow = reconstruct_flow([send, other, receive, process, unrelated], "wf-1")

    # The receive trace mentions no workflow: only the link from it to the send joins it.
    assert {s.span_id for s in flow.spans} == {send.span_id, receive.span_id, process.span_id}
    assert flow.trace_ids == [send.trace_id, receive.trace_id]


def test_a_fetch_hangs_under_the_send_it_returned_and_does_not_start_the_clock() -> None:
    send = span("send shipments.new", service="orders", start_ms=100, message_id="m1")
    # The pull began waiting 100 ms before the message existed, as fetch() does.
    fetch = span(
        "receive SHIP/shipping", service="shipping", links=(send,), start_ms=0, duration_ms=101
    )
    process = span("process shipments.new", service="shipping", parent=send, start_ms=101)

    flow = reconstruct_flow([fetch, send, process], "wf-1")
    data = flow_to_dict(flow)

    (root,) = data["hops"]
    assert root["service"] == "orders" and root["start_offset_ms"] == 0
    fetched, handled = root["children"]
    assert (fetched["operation"], fetched["cause"]) == ("receive", "link")
    assert fetched["start_offset_ms"] == -100.0
    assert handled["operation"] == "process"
    assert flow.end_ns - flow.start_ns == 2 * MS
