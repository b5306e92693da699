"""``NatsInstrumentor().instrument(**options)`` takes every option of ``natstrace.instrument``.

Checked against a real nats-server: the trust options reach the patched client's
subscriptions, and the accepted names are exactly ``instrument()``'s keywords.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Iterator

import nats
import pytest
from nats.aio.msg import Msg
from opentelemetry import baggage
from opentelemetry.trace import SpanKind

import natstrace
from natstrace.instrumentor.raw import RawClient
from natstrace.testing import MetricsCapture, SpanCapture

pytest.importorskip("opentelemetry.instrumentation")

from natstrace.instrumentor import NatsInstrumentor

pytestmark = pytest.mark.integration

PRODUCER = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


@pytest.fixture
def untrusted(
    natstrace_spans: SpanCapture, natstrace_metrics: MetricsCapture
) -> Iterator[NatsInstrumentor]:
    instrumentor = NatsInstrumentor()
    instrumentor.instrument(
        tracer_provider=natstrace_spans.provider("edge"),
        metrics=natstrace_metrics.metrics,
        trust="untrusted",
        baggage_allowlist=["tenant"],
    )
    yield instrumentor
    instrumentor.uninstrument()


def test_every_option_of_instrument_is_accepted() -> None:
    defaults = {
        name: parameter.default
        for name, parameter in inspect.signature(natstrace.instrument).parameters.items()
        if parameter.kind is inspect.Parameter.KEYWORD_ONLY
    }
    assert {"trust", "baggage_allowlist"} <= set(defaults)
    instrumentor = NatsInstrumentor()
    instrumentor.instrument(**defaults)  # none refused
    assert instrumentor.is_instrumented_by_opentelemetry
    instrumentor.uninstrument()


async def test_trust_and_baggage_allowlist_reach_the_patched_client(
    untrusted: NatsInstrumentor, nats_url: str, natstrace_spans: SpanCapture
) -> None:
    seen: asyncio.Queue[dict[str, object]] = asyncio.Queue()

    async def handle(msg: Msg) -> None:
        await seen.put(dict(baggage.get_all()))

    consumer = await nats.connect(nats_url)  # a plain nats-py client, patched
    try:
        await consumer.subscribe("edge.orders", cb=handle)
        await consumer.flush()
        # An outside publisher: nats-py's own publish, not the patched one.
        producer = await nats.connect(nats_url)
        await RawClient(producer).publish(
            "edge.orders",
            b"{}",
            headers={"traceparent": PRODUCER, "baggage": "tenant=acme,secret=hunter2"},
        )
        await producer.close()
        got = await asyncio.wait_for(seen.get(), 5)
    finally:
        await consumer.close()
    assert got == {"tenant": "acme"}
    (process,) = [s for s in natstrace_spans.spans if s.kind is SpanKind.CONSUMER]
    # Untrusted: a new trace, linked to the producer's span.
    assert process.context is not None
    assert f"{process.context.trace_id:032x}" != PRODUCER[3:35]
    assert [f"{link.context.trace_id:032x}" for link in process.links] == [PRODUCER[3:35]]
