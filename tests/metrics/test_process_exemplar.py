"""A handled message's metrics take its own trace as exemplar and mark its
``process`` span, so the collector keeps the trace the exemplar names."""

from __future__ import annotations

import pytest
from prometheus_client.openmetrics.exposition import generate_latest
from prometheus_client.openmetrics.parser import text_string_to_metric_families

from natstrace.metrics.exemplars import EXEMPLAR_ATTRIBUTE
from natstrace.testing import eventually
from tests.conftest import Traced

pytestmark = pytest.mark.integration


def _consumed_exemplar(traced: Traced, template: str) -> str | None:
    for family in text_string_to_metric_families(generate_latest(traced.registry).decode()):
        for s in family.samples:
            if (
                s.name == "messaging_client_consumed_messages_total"
                and s.labels["messaging_destination_name"] == template
                and s.exemplar
            ):
                return str(s.exemplar.labels["trace_id"])
    return None


async def _check(traced: Traced, template: str) -> None:
    def ended() -> None:
        assert any(s.name == f"process {template}" for s in traced.spans())

    await eventually(ended)
    process = traced.span(f"process {template}")
    assert process.attributes is not None
    assert process.attributes.get(EXEMPLAR_ATTRIBUTE) is True
    assert _consumed_exemplar(traced, template) == format(process.context.trace_id, "032x")


async def test_a_callback_marks_its_process_span(traced: Traced) -> None:
    async def handle(msg: object) -> None:
        pass

    await traced.nc.subscribe("exemplar.cb", cb=handle)
    await traced.nc.publish("exemplar.cb", b"x")
    await _check(traced, "exemplar.cb")


async def test_a_pulled_message_marks_its_process_span(traced: Traced) -> None:
    sub = await traced.nc.subscribe("exemplar.pull")
    await traced.nc.publish("exemplar.pull", b"x")
    await sub.next_msg(timeout=2)
    await sub.unsubscribe()  # finishes the pulled message
    await _check(traced, "exemplar.pull")
