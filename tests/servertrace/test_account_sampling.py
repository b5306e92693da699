"""The shipped account ``msg_trace`` config traces sampled ``traceparent`` messages."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import nats
import pytest
from opentelemetry.sdk.trace import ReadableSpan

from natstrace.embedded_server import EmbeddedNatsServer
from natstrace.testing import eventually

pytestmark = pytest.mark.integration

SAMPLE_CONFIG = Path(__file__).parents[2] / "collector-config" / "nats-server-msgtrace.conf"


async def test_sampled_traceparent_is_traced_without_trace_dest(
    collector_for: Callable[..., Awaitable[Any]],
    send_span: Callable[[str], tuple[ReadableSpan, dict[str, str]]],
) -> None:
    # The sample as shipped, on the test's own port and with every sampled trace kept.
    text = SAMPLE_CONFIG.read_text()
    config = "\n".join(line for line in text.splitlines() if not line.startswith("listen:"))
    config = config.replace('sampling: "10%"', 'sampling: "100%"')
    assert 'dest: "natstrace.servertrace"' in config
    with EmbeddedNatsServer(jetstream=False, config=config) as server:
        url = f"nats://app:change-me@{server.host}:{server.port}"
        harness = await collector_for(url, "natstrace.servertrace")
        nc = await nats.connect(url, name="sampler")
        try:
            _, unsampled = send_span("st.sampled")
            unsampled["traceparent"] = unsampled["traceparent"][:-2] + "00"
            await nc.publish("st.sampled", b"not traced", headers=unsampled)
            send, sampled = send_span("st.sampled")
            await nc.publish("st.sampled", b"traced", headers=sampled)
            await nc.flush()
            spans = await harness.spans(1)
            # The raw capture gets the events in the server's order: once the sampled
            # message's event is in, one for the earlier unsampled message would be too.
            trace_id = sampled["traceparent"].split("-")[1]

            def captured() -> None:
                assert any(trace_id.encode() in payload for payload, _ in harness.raw)

            await eventually(captured)
            assert len(harness.raw) == 1, "the unsampled message was not traced"
        finally:
            await nc.close()
            await harness.collector.stop()
    [span] = spans
    assert span.parent is not None and span.parent.span_id == send.context.span_id
    assert (span.attributes or {})["natstrace.server.account"] == "APP"
