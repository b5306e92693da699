"""The flow tools on spans from a real run (see ``workflow_run.py``)."""

from __future__ import annotations

import time
from pathlib import Path

import nats
import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

import natstrace
from natstrace.embedded_server import EmbeddedNatsServer
from natstrace.flow import (
    JsonLinesSpanExporter,
    NoSpansError,
    Span,
    build_topology,
    find_orphans,
    find_slow,
    flow_to_dict,
    read_files,
    reconstruct_flow,
)

pytestmark = pytest.mark.integration


def _hops(hops: list[dict[str, object]], depth: int = 0) -> list[tuple[int, str, str, str]]:
    found = []
    for hop in hops:
        found.append((depth, str(hop["service"]), str(hop["operation"]), str(hop["template"])))
        found.extend(_hops(hop["children"], depth + 1))  # type: ignore[arg-type]
    return found


def test_a_workflow_is_one_causal_tree_across_services_and_traces(
    workflow_spans: list[Span],
) -> None:
    flow = reconstruct_flow(workflow_spans, "order-1")
    data = flow_to_dict(flow)

    assert _hops(data["hops"]) == [
        (0, "orders", "send", "orders.created"),
        (1, "payments", "process", "orders.*"),
        (2, "payments", "send", "inventory.reserve"),
        (3, "inventory", "process", "inventory.reserve"),
        (4, "inventory", "send", "_INBOX"),
        (2, "payments", "send", "payments.authorized"),
        (3, "shipping", "process", "payments.authorized"),
        (0, "orders", "send", "audit.order_placed"),
    ]
    # shipping runs on the link policy: its own trace, joined through the link.
    assert len(flow.trace_ids) == 3
    assert flow.services == ["orders", "payments", "inventory", "shipping"]
    shipping = data["hops"][0]["children"][0]["children"][1]["children"][0]
    assert shipping["cause"] == "link"
    assert shipping["from_service"] == "payments"
    assert 0 < shipping["delivery_latency_ms"] < 1000
    assert shipping["delivery_count"] == 1
    assert data["errors"] == 0
    # Nothing of the other workflow leaks in.
    assert {s.conversation_id for s in flow.spans} == {"order-1"}


def test_a_failed_handler_shows_its_error_type_and_message(workflow_spans: list[Span]) -> None:
    data = flow_to_dict(reconstruct_flow(workflow_spans, "order-2"))

    payments = data["hops"][0]["children"][0]
    assert payments["service"] == "payments"
    assert payments["error"] == {
        "type": "CardDeclinedError",
        "message": "card 4000-0002 declined",
    }
    assert data["errors"] == 1
    assert not any(hop[3] == "payments.authorized" for hop in _hops(data["hops"]))


def test_an_unknown_correlation_id_is_an_error(workflow_spans: list[Span]) -> None:
    with pytest.raises(NoSpansError, match="order-404"):
        reconstruct_flow(workflow_spans, "order-404")


def test_orphans_finds_the_subject_nobody_subscribed_to(workflow_spans: list[Span]) -> None:
    report = find_orphans(workflow_spans, grace_ns=0)

    assert [(g.service, g.template, g.count) for g in report.groups] == [
        ("orders", "audit.order_placed", 1)
    ]
    sample = report.groups[0].sample
    assert sample.subject == "audit.order_placed"
    assert sample.conversation_id == "order-1"
    # Replies to _INBOX are not orphans, everything else sent was processed.
    assert report.sends_checked == 6


def test_orphans_leaves_sends_inside_the_grace_period_alone(workflow_spans: list[Span]) -> None:
    # Data still being written, read now: the last hour's sends may still be in flight.
    hour = 3600 * 10**9
    live = find_orphans(workflow_spans, grace_ns=hour, read_at_ns=time.time_ns())
    assert live.groups == [] and live.sends_checked == 0 and live.sends_too_recent == 6
    # The same data read an hour later, or finished: every send is judged.
    later = find_orphans(workflow_spans, grace_ns=hour, read_at_ns=time.time_ns() + 2 * hour)
    finished = find_orphans(workflow_spans, grace_ns=hour)
    for report in (later, finished):
        assert [(g.template, g.count) for g in report.groups] == [("audit.order_placed", 1)]
        assert report.sends_checked == 6


def test_topology_has_one_edge_per_service_pair_and_subject(workflow_spans: list[Span]) -> None:
    topology = build_topology(workflow_spans)
    edges = {
        (e.producer, e.template, e.consumer): (e.messages, e.deliveries, e.errors)
        for e in topology.edges
    }

    assert edges == {
        ("orders", "orders.created", "payments"): (2, 2, 1),
        ("orders", "audit.order_placed", None): (1, 0, 0),
        ("payments", "inventory.reserve", "inventory"): (2, 2, 0),
        ("payments", "payments.authorized", "shipping"): (1, 1, 0),
    }
    created = next(e for e in topology.edges if e.template == "orders.created")
    assert created.error_ratio == 0.5
    assert len(created.latencies_ns) == 2 and all(0 < x < 10**9 for x in created.latencies_ns)
    assert topology.services == ["inventory", "orders", "payments", "shipping"]


def test_slow_ranks_hops_by_duration_and_latency(workflow_spans: list[Span]) -> None:
    report = find_slow(workflow_spans, limit=2)

    assert report.hops_checked == 5
    durations = [hop.consumer.duration_ns for hop in report.slowest]
    assert len(durations) == 2 and durations == sorted(durations, reverse=True)
    # payments waits for inventory inside its handling: it is the slowest hop.
    assert report.slowest[0].consumer.service == "payments"
    latencies = [hop.delivery_latency_ns for hop in report.longest_latency]
    assert latencies == sorted(latencies, reverse=True)  # type: ignore[type-var]


async def test_a_pulled_batch_joins_the_workflow_through_the_receive_link(
    nats_server: EmbeddedNatsServer, tmp_path: Path
) -> None:
    path = tmp_path / "pull.jsonl"
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(JsonLinesSpanExporter(path)))
    raw = await nats.connect(nats_server.url)
    js = natstrace.instrument(raw, tracer_provider=provider).jetstream()
    await js.add_stream(name="FLOWPULL", subjects=["flowpull.*"])
    try:
        for workflow in ("batch-1", "batch-2"):
            with natstrace.correlation_scope(workflow):
                await js.publish("flowpull.in", workflow.encode())
        sub = await js.pull_subscribe("flowpull.*", durable="worker")
        handled = [msg.data for msg in await sub.fetch(2, timeout=2)]
        await sub.unsubscribe()
    finally:
        await js.delete_stream("FLOWPULL")
        await raw.close()
        provider.shutdown()
    assert handled == [b"batch-1", b"batch-2"]

    flow = reconstruct_flow(read_files([path]).spans, "batch-1")

    by_operation = {s.name.partition(" ")[0]: s for s in flow.spans}
    assert sorted(by_operation) == ["process", "receive", "send"]
    receive = by_operation["receive"]
    # The receive span mentions no workflow and shares no trace with it: only its link
    # to the send brings it in.
    assert receive.conversation_id is None
    assert receive.trace_id != by_operation["send"].trace_id
    assert by_operation["process"].trace_id == by_operation["send"].trace_id
    assert {s.conversation_id for s in flow.spans} == {"batch-1", None}
