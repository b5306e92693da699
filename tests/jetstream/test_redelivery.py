"""Redelivery: nak twice then ack, and a poison message with max_deliver=3.

Policy ``auto``: delivery 1 is a child of the producer; every redelivery starts
a new trace linked to the producer only, so no trace grows with redeliveries.
"""

from __future__ import annotations

import asyncio
import json

import pytest
from nats.js.api import ConsumerConfig
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import StatusCode
from prometheus_client.openmetrics.exposition import generate_latest
from prometheus_client.openmetrics.parser import text_string_to_metric_families

from natstrace.metrics.exemplars import EXEMPLAR_ATTRIBUTE
from natstrace.testing import eventually
from tests.conftest import Traced
from tests.jetstream.conftest import Stream

pytestmark = pytest.mark.integration


def _processes(traced: Traced, stream: Stream) -> list[ReadableSpan]:
    return sorted(
        (s for s in traced.spans() if s.name == f"process {stream.wildcard}"),
        key=lambda s: s.start_time or 0,
    )


def _check_three_deliveries(traced: Traced, stream: Stream, group: str, last: str) -> None:
    send = traced.span(f"send {stream.subject()}")
    processes = _processes(traced, stream)
    counts = [p.attributes["natstrace.jetstream.delivery_count"] for p in processes]
    assert counts == [1, 2, 3]
    first, *again = processes
    assert first.parent.span_id == send.context.span_id
    assert first.context.trace_id == send.context.trace_id
    for redelivery in again:
        assert redelivery.parent is None
        assert redelivery.context.trace_id != send.context.trace_id
        assert [link.context.span_id for link in redelivery.links] == [send.context.span_id]
    assert len({p.context.trace_id for p in processes}) == 3
    assert [[e.name for e in p.events] for p in processes] == [["nak"], ["nak"], [last]]
    labels = {
        "messaging_destination_name": stream.wildcard,
        "messaging_consumer_group_name": group,
    }
    assert traced.sample("natstrace_redeliveries_total", **labels) == 2
    assert traced.sample("natstrace_settlements_total", outcome="nak", **labels) == 2
    assert traced.sample("natstrace_settlements_total", outcome=last, **labels) == 1
    assert traced.sample("natstrace_delivery_latency_seconds_count", **labels) == 3


async def _push_nak_twice_then_ack(
    traced: Traced, stream: Stream, durable: str
) -> list[ReadableSpan]:
    """One message, nak-ed on its first two deliveries and acked on the third; the
    three process spans, once they ended."""
    done = asyncio.Event()

    async def handle(msg):
        if msg.metadata.num_delivered < 3:
            await msg.nak()
        else:
            await msg.ack()
            done.set()

    await stream.js.subscribe(stream.wildcard, durable=durable, cb=handle, manual_ack=True)
    await stream.js.publish(stream.subject(), b"x")
    await asyncio.wait_for(done.wait(), 5)

    def all_ended() -> list[ReadableSpan]:
        processes = _processes(traced, stream)
        assert len(processes) == 3
        return processes

    return await eventually(all_ended)


async def test_push_nak_twice_then_ack(traced: Traced, stream: Stream) -> None:
    await _push_nak_twice_then_ack(traced, stream, "naky")
    _check_three_deliveries(traced, stream, "naky", "ack")


def _exemplars(traced: Traced, sample: str, **labels: str) -> list[tuple[float, str]]:
    """(time, trace ID) of the exemplars on ``sample``'s series with ``labels``, oldest first."""
    found = []
    for family in text_string_to_metric_families(generate_latest(traced.registry).decode()):
        for s in family.samples:
            if s.name == sample and s.exemplar and labels.items() <= s.labels.items():
                found.append((s.exemplar.timestamp or 0.0, s.exemplar.labels["trace_id"]))
    return sorted(found)


async def test_jetstream_metrics_carry_the_trace_of_their_delivery_as_exemplar(
    traced: Traced, stream: Stream
) -> None:
    processes = await _push_nak_twice_then_ack(traced, stream, "exemplary")
    first, second, third = (format(p.context.trace_id, "032x") for p in processes)
    assert len({first, second, third}) == 3, "each delivery its own trace"
    labels = {"messaging_destination_name": stream.wildcard}
    group = {**labels, "messaging_consumer_group_name": "exemplary"}
    settle = {**labels, "messaging_operation_name": "settle"}
    # A series keeps an exemplar for HOLD_SECONDS (so the collector keeps a bounded number
    # of exemplar traces): a counter's is its first increment within that time, the
    # first redelivery and the first nak.
    assert [t for _, t in _exemplars(traced, "natstrace_redeliveries_total", **group)] == [second]
    assert [
        t for _, t in _exemplars(traced, "natstrace_settlements_total", outcome="nak", **group)
    ] == [first]
    assert [
        t for _, t in _exemplars(traced, "natstrace_settlements_total", outcome="ack", **group)
    ] == [third]
    # A histogram keeps the first exemplar of each bucket: deliveries of this message only,
    # the first delivery's among them.
    for sample, series in (
        ("natstrace_delivery_latency_seconds_bucket", group),
        ("messaging_client_operation_duration_seconds_bucket", settle),
    ):
        exemplars = _exemplars(traced, sample, **series)
        assert exemplars, sample
        assert {t for _, t in exemplars} <= {first, second, third}, sample
        assert first in {t for _, t in exemplars}, sample
    # Every trace an exemplar names was marked for the collector's tail sampling to keep.
    assert all(p.attributes.get(EXEMPLAR_ATTRIBUTE) is True for p in processes)


async def test_pull_nak_twice_then_term(traced: Traced, stream: Stream) -> None:
    await stream.js.publish(stream.subject(), b"x")
    sub = await stream.js.pull_subscribe(stream.wildcard, durable="pully")
    for attempt in range(3):
        for msg in await sub.fetch(1, timeout=2):
            if attempt < 2:
                await msg.nak()
            else:
                await msg.term()
    _check_three_deliveries(traced, stream, "pully", "term")
    receives = [s for s in traced.spans() if s.name.startswith("receive")]
    assert len(receives) == 3
    await sub.unsubscribe()


async def test_handler_raising_every_time_stops_at_max_deliver(
    traced: Traced, stream: Stream
) -> None:
    attempts = []

    async def poison(msg):
        attempts.append(msg.metadata.num_delivered)
        raise ValueError("cannot handle")

    # The server announces that the message ran out of deliveries when the third
    # one's ack wait expires, where a fourth delivery would otherwise be sent.
    exhausted = await traced.raw.subscribe(
        f"$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.{stream.name}.poison"
    )
    config = ConsumerConfig(max_deliver=3, ack_wait=0.2)
    await stream.js.subscribe(stream.wildcard, durable="poison", cb=poison, config=config)
    await stream.js.publish(stream.subject(), b"x")
    advisory = json.loads((await exhausted.next_msg(timeout=5)).data)
    assert (advisory["stream_seq"], advisory["deliveries"]) == (1, 3)
    assert attempts == [1, 2, 3]

    def all_reported() -> None:  # each span ends, then nats-py calls error_cb
        assert len(_processes(traced, stream)) == len(traced.errors) == 3

    await eventually(all_reported)
    processes = _processes(traced, stream)
    assert all(p.status.status_code is StatusCode.ERROR for p in processes)
    assert all(p.attributes["error.type"] == "ValueError" for p in processes)
    assert all(p.events[0].name == "exception" for p in processes)
    assert not any(e.name == "ack" for p in processes for e in p.events), "never auto-acked"
    send = traced.span(f"send {stream.subject()}")
    in_send_trace = [s for s in traced.spans() if s.context.trace_id == send.context.trace_id]
    assert len(in_send_trace) == 2, "only the producer and the first delivery"
    labels = {
        "messaging_destination_name": stream.wildcard,
        "messaging_consumer_group_name": "poison",
    }
    assert traced.sample("natstrace_redeliveries_total", **labels) == 2
    assert traced.sample("natstrace_settlements_total", outcome="ack", **labels) is None
    assert [type(e) for e in traced.errors] == [ValueError] * 3
