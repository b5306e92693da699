"""Unsampled spans start bare under OpenTelemetry's standard samplers; a custom
sampler, which may read attributes, always gets them."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import nats
import pytest
from opentelemetry.context import Context
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.sampling import (
    ALWAYS_OFF,
    Decision,
    ParentBased,
    Sampler,
    SamplingResult,
)
from opentelemetry.trace import Link, SpanKind, TraceState
from prometheus_client import CollectorRegistry

import natstrace
from natstrace.embedded_server import EmbeddedNatsServer
from natstrace.metrics import NatstraceMetrics
from natstrace.middleware import spans

pytestmark = pytest.mark.integration


class _Seeing(Sampler):
    """Drops everything, noting the attributes each decision was given."""

    def __init__(self) -> None:
        self.seen: list[dict[str, Any]] = []

    def should_sample(
        self,
        parent_context: Context | None,
        trace_id: int,
        name: str,
        kind: SpanKind | None = None,
        attributes: Any = None,
        links: Sequence[Link] | None = None,
        trace_state: TraceState | None = None,
    ) -> SamplingResult:
        self.seen.append(dict(attributes or {}))
        return SamplingResult(Decision.DROP)

    def get_description(self) -> str:
        return "Seeing"


async def _round_trip(nats_server: EmbeddedNatsServer, sampler: Sampler) -> dict[str, str]:
    raw = await nats.connect(nats_server.url)
    nc = natstrace.instrument(
        raw,
        tracer_provider=TracerProvider(sampler=sampler),
        metrics=NatstraceMetrics(CollectorRegistry(), service_name="s"),
    )
    got: asyncio.Queue[dict[str, str]] = asyncio.Queue()

    async def handler(msg: Any) -> None:
        await got.put(msg.headers)

    await nc.subscribe("shape.in", cb=handler)
    await nc.publish("shape.in", b"x")
    headers = await asyncio.wait_for(got.get(), 2)
    await raw.close()
    return headers


@pytest.mark.parametrize(
    "sampler", [ALWAYS_OFF, ParentBased(ALWAYS_OFF)], ids=["always_off", "parent_based_off"]
)
async def test_standard_samplers_that_drop_get_no_attributes_built(
    nats_server: EmbeddedNatsServer, sampler: Sampler, monkeypatch: pytest.MonkeyPatch
) -> None:
    built: list[str] = []
    shaped = spans.SpanShapes.get

    def counting(self: spans.SpanShapes, operation: str, *args: Any) -> Any:
        built.append(operation)
        return shaped(self, operation, *args)

    monkeypatch.setattr(spans.SpanShapes, "get", counting)
    headers = await _round_trip(nats_server, sampler)
    assert built == []
    flags = int(headers["traceparent"].rsplit("-", 1)[1], 16)
    assert not flags & 1, "the trace context still travels, marked not sampled"
    assert headers["Correlation-Id"]


async def test_a_custom_sampler_sees_the_attributes(nats_server: EmbeddedNatsServer) -> None:
    sampler = _Seeing()
    await _round_trip(nats_server, sampler)
    operations = [seen["messaging.operation.name"] for seen in sampler.seen]
    assert operations == ["send", "process"]
    assert all(seen["messaging.destination.name"] == "shape.in" for seen in sampler.seen)
