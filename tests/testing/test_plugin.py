"""The plugin's fixtures: real servers, spans reset between tests, fresh registries."""

from __future__ import annotations

from pathlib import Path

import nats
import pytest

import natstrace
from natstrace.embedded_server import EmbeddedNatsServer
from natstrace.testing import MetricsCapture, SpanCapture

pytestmark = pytest.mark.integration

DOCS = Path(__file__).parents[2] / "docs" / "testing.md"
EXAMPLE = Path(__file__).with_name("test_example.py")


async def test_spans_of_an_instrumented_client_are_captured(
    nats_url: str, natstrace_spans: SpanCapture, natstrace_metrics: MetricsCapture
) -> None:
    raw = await nats.connect(nats_url)
    nc = natstrace.instrument(
        raw, tracer_provider=natstrace_spans.tracer_provider, metrics=natstrace_metrics.metrics
    )
    await nc.publish("plugin.captured", b"x")
    await raw.close()
    (span,) = natstrace_spans.named("send plugin.captured", service="test")
    assert span.attributes["messaging.destination.name"] == "plugin.captured"
    natstrace_metrics.assert_changed(
        "messaging_client_sent_messages_total", by=1, messaging_destination_name="plugin.captured"
    )


def test_the_next_test_starts_with_no_spans(natstrace_spans: SpanCapture) -> None:
    # Runs after the test above (file order): nothing of it is left.
    assert natstrace_spans.spans == []


async def test_a_fresh_server_is_the_tests_own(
    fresh_nats_server: EmbeddedNatsServer, fresh_nats_url: str, nats_url: str
) -> None:
    assert fresh_nats_url != nats_url
    nc = await nats.connect(fresh_nats_url)
    assert nc.is_connected
    await nc.close()
    assert fresh_nats_server.running


async def test_waiting_for_a_span_that_never_comes_shows_the_flow(
    natstrace_spans: SpanCapture,
) -> None:
    with pytest.raises(AssertionError, match=r"waited 0\.05s for 1 span\(s\) 'nope'"):
        await natstrace_spans.wait_for("nope", timeout=0.05)


def test_the_documented_example_is_the_tested_one() -> None:
    example = EXAMPLE.read_text()
    assert example.strip() in DOCS.read_text(), (
        "docs/testing.md: paste tests/testing/test_example.py"
    )
