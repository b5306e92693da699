"""Users add their own middlewares; they run innermost, after the built-ins."""

from __future__ import annotations

import asyncio
from functools import partial

import pytest
from opentelemetry import trace

import natstrace
from natstrace import HandleApp, IncomingMessage, OutgoingMessage, PublishApp
from natstrace.testing import eventually
from tests.conftest import Traced

pytestmark = pytest.mark.integration

calls: list[str] = []


class StampTenant:
    def __init__(self, app: PublishApp, tenant: str) -> None:
        self.app = app
        self.tenant = tenant

    async def __call__(self, message: OutgoingMessage) -> object:
        # Built-ins already ran: the IDs and the span exist.
        calls.append(f"publish {message.message_id == message.headers['Nats-Msg-Id']}")
        assert message.span.get_span_context().is_valid
        message.headers["Tenant"] = self.tenant
        return await self.app(message)


class RecordHandling:
    def __init__(self, app: HandleApp) -> None:
        self.app = app

    async def __call__(self, message: IncomingMessage) -> None:
        current = trace.get_current_span()
        calls.append(f"handle {current is message.span} {message.msg.headers['Tenant']}")
        await self.app(message)
        calls.append("handled")


@pytest.mark.instrument(
    publish_middleware=[partial(StampTenant, tenant="acme")], handle_middleware=[RecordHandling]
)
async def test_user_middlewares_see_the_span_and_ids(traced: Traced) -> None:
    calls.clear()
    done = asyncio.Event()

    async def handler(msg):
        calls.append("handler")
        done.set()

    await traced.nc.subscribe("mw.test", cb=handler)
    await traced.nc.publish("mw.test", b"")
    await asyncio.wait_for(done.wait(), 2)

    def handled() -> None:  # the middleware's last step runs after the handler returned
        assert calls == ["publish True", "handle True acme", "handler", "handled"]

    await eventually(handled)
    assert isinstance(traced.nc, natstrace.InstrumentedClient)
