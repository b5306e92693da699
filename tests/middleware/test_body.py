"""Bodies reach spans only through the user's redaction function."""

from __future__ import annotations

import asyncio
import json
from functools import partial

import pytest

from natstrace.middleware.body import HandleBodyCapture, PublishBodyCapture
from natstrace.testing import eventually
from tests.conftest import Traced

pytestmark = pytest.mark.integration


def redact(subject: str, body: bytes) -> str | None:
    if subject == "orders.secret":
        return None
    order = json.loads(body)
    if order.get("explode"):
        raise ValueError("cannot parse")
    order.pop("card", None)
    return json.dumps(order)


CAPTURE = {
    "publish_middleware": [partial(PublishBodyCapture, redact=redact, max_length=40)],
    "handle_middleware": [partial(HandleBodyCapture, redact=redact, max_length=40)],
}


@pytest.mark.instrument(**CAPTURE)
async def test_redacted_bodies_are_recorded_and_a_failing_redactor_costs_nothing(
    traced: Traced, caplog: pytest.LogCaptureFixture
) -> None:
    handled: asyncio.Queue[bytes] = asyncio.Queue()

    async def handler(msg):
        await handled.put(msg.data)

    await traced.nc.subscribe("orders.*", cb=handler)
    bodies = [
        {"id": 1, "card": "4111111111111111"},
        {"id": 2, "explode": True},
        {"id": 3, "note": "x" * 100},
    ]
    for body in bodies:
        await traced.nc.publish("orders.created", json.dumps(body).encode())
    await traced.nc.publish("orders.secret", b'{"card": "4111111111111111"}')
    received = [await asyncio.wait_for(handled.get(), 2) for _ in range(4)]

    def all_ended() -> None:
        assert len([s for s in traced.spans() if s.name.startswith("process")]) == 4

    await eventually(all_ended)
    assert len(received) == 4, "every message flowed, the failing redactor included"
    recorded = [s.attributes.get("natstrace.message.body") for s in traced.spans()]
    assert '{"id": 1}' in recorded
    assert not any("4111" in (text or "") for text in recorded)
    assert max(len(text) for text in recorded if text) == 40
    by_name = [s for s in traced.spans() if s.name == "send orders.secret"]
    assert by_name[0].attributes.get("natstrace.message.body") is None
    assert "redaction function failed" in caplog.text


async def test_without_the_middleware_no_body_is_recorded(traced: Traced) -> None:
    done = asyncio.Event()

    async def handler(msg):
        done.set()

    await traced.nc.subscribe("plain.body", cb=handler)
    await traced.nc.publish("plain.body", b"secret payload")
    await asyncio.wait_for(done.wait(), 2)
    await eventually(lambda: traced.span("process plain.body"))
    assert [s.name for s in traced.spans()] == ["send plain.body", "process plain.body"]
    for span in traced.spans():
        assert "natstrace.message.body" not in span.attributes
        assert all("secret payload" not in str(v) for v in span.attributes.values())
