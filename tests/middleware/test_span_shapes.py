"""Unsampled spans start bare under OpenTelemetry's standard samplers, made without
asking the SDK; a custom sampler, which may read attributes, always gets them."""

from __future__ import annotations

import asyncio
from typing import Any

import nats
import pytest
from opentelemetry.sdk.trace import Tracer, TracerProvider
from opentelemetry.sdk.trace.sampling import (
    ALWAYS_OFF,
    ParentBased,
    Sampler,
)
from prometheus_client import CollectorRegistry

import natstrace
from natstrace.embedded_server import EmbeddedNatsServer
from natstrace.metrics import NatstraceMetrics
from natstrace.middleware import spans
from tests.support.samplers import SeeingSampler

pytestmark = pytest.mark.integration


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
    started: list[str] = []
    start_span = Tracer.start_span

    def counting(self: spans.SpanShapes, operation: str, *args: Any) -> Any:
        built.append(operation)
        return shaped(self, operation, *args)

    def starting(self: Tracer, name: str, *args: Any, **kwargs: Any) -> Any:
        started.append(name)
        return start_span(self, name, *args, **kwargs)

    monkeypatch.setattr(spans.SpanShapes, "get", counting)
    monkeypatch.setattr(Tracer, "start_span", starting)
    headers = await _round_trip(nats_server, sampler)
    assert built == []
    assert started == [], "a span certain to be dropped is made without the SDK's start_span"
    flags = int(headers["traceparent"].rsplit("-", 1)[1], 16)
    assert not flags & 1, "the trace context still travels, marked not sampled"
    assert headers["Correlation-Id"]


async def test_a_custom_sampler_sees_the_attributes(nats_server: EmbeddedNatsServer) -> None:
    sampler = SeeingSampler()
    await _round_trip(nats_server, sampler)
    operations = [seen["messaging.operation.name"] for seen in sampler.seen]
    assert operations == ["send", "process"]
    assert all(seen["messaging.destination.name"] == "shape.in" for seen in sampler.seen)


class _SeeingParentBased(ParentBased):
    """ParentBased's description, a decision of its own that reads the attributes."""

    def __init__(self) -> None:
        super().__init__(ALWAYS_OFF)
        self.seen = SeeingSampler()

    def should_sample(self, *args: Any, **kwargs: Any) -> Any:
        return self.seen.should_sample(*args, **kwargs)


async def test_a_standard_samplers_subclass_with_its_own_decision_sees_the_attributes(
    nats_server: EmbeddedNatsServer,
) -> None:
    sampler = _SeeingParentBased()
    assert sampler.get_description() == ParentBased(ALWAYS_OFF).get_description()
    await _round_trip(nats_server, sampler)
    operations = [seen.get("messaging.operation.name") for seen in sampler.seen.seen]
    assert operations == ["send", "process"]
