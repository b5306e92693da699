"""The contract natstrace relies on in nats-py's (and asyncio's) private parts, one
test each: when an upgrade changes one, the test named after it fails here, not a
span somewhere else."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from itertools import count
from typing import Any

import nats
import pytest
from nats.aio.client import Client
from nats.aio.msg import Msg

from natstrace.client import internals
from natstrace.embedded_server import EmbeddedNatsServer

pytestmark = pytest.mark.integration

_ids = count()


@pytest.fixture
async def nc(nats_server: EmbeddedNatsServer) -> AsyncIterator[Client]:
    client = await nats.connect(nats_server.url)
    yield client
    await client.close()


@pytest.fixture
async def stream(nc: Client) -> AsyncIterator[str]:
    name = f"INTERNALS{next(_ids)}"
    js = nc.jetstream()
    await js.add_stream(name=name, subjects=[f"{name.lower()}.*"])
    await js.publish(f"{name.lower()}.x", b"1")
    yield name
    await js.delete_stream(name)


class _Recording:
    """A stand-in client that records what a message sends through it."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes]] = []

    async def publish(self, subject: str, payload: bytes = b"", *args: Any, **kw: Any) -> None:
        self.sent.append((subject, payload))


async def test_message_client_is_what_respond_and_ack_publish_through(nc: Client) -> None:
    msg = Msg(_client=nc, subject="s", reply="r.1", data=b"", headers=None)
    assert internals.message_client(msg) is nc
    stand_in = _Recording()
    internals.route_message_client(msg, stand_in)
    assert internals.message_client(msg) is stand_in
    await msg.respond(b"reply")
    msg.reply = "$JS.ACK.S.C.1.1.1.1700000000000000000.0"
    await msg.ack()
    assert stand_in.sent == [("r.1", b"reply"), (msg.reply, b"")]


async def test_pull_subscription_knows_its_stream_and_consumer(nc: Client, stream: str) -> None:
    sub = await nc.jetstream().pull_subscribe(f"{stream.lower()}.*", durable="dur")
    assert internals.pull_stream(sub) == stream
    assert internals.pull_consumer(sub) == "dur"
    await sub.unsubscribe()


async def test_push_subscription_exposes_the_auto_ack_wrapper(nc: Client, stream: str) -> None:
    async def cb(msg: Msg) -> None:
        pass

    js = nc.jetstream()
    wrapped = await js.subscribe(f"{stream.lower()}.*", cb=cb)
    manual = await js.subscribe(f"{stream.lower()}.*", cb=cb, manual_ack=True)
    assert internals.push_callback(manual) is cb
    assert internals.push_callback(wrapped) not in (None, cb)
    await wrapped.unsubscribe()
    await manual.unsubscribe()


async def test_bucket_prefix_and_context(nc: Client) -> None:
    js = nc.jetstream()
    name = f"internals{next(_ids)}"
    kv = await js.create_key_value(bucket=name)
    assert internals.bucket_prefix(kv) == f"$KV.{name}."
    assert internals.bucket_context(kv) is not None
    marker = object()
    scoped = internals.bucket_on(kv, marker)
    assert internals.bucket_context(scoped) is marker
    assert internals.bucket_context(kv) is not marker, "the bucket itself is untouched"
    await js.delete_key_value(name)


async def test_inbox_prefix_is_the_one_requests_reply_to(nats_server: EmbeddedNatsServer) -> None:
    default = await nats.connect(nats_server.url)
    custom = await nats.connect(nats_server.url, inbox_prefix="_R.orders")
    try:
        assert internals.inbox_prefix(default) == "_INBOX"
        assert internals.inbox_prefix(custom) == "_R.orders"
        assert custom.new_inbox().startswith("_R.orders.")
    finally:
        await default.close()
        await custom.close()


async def test_task_error_leaves_the_exception_unretrieved() -> None:
    async def fails() -> None:
        raise ValueError("x")

    async def returns() -> None:
        pass

    failed = asyncio.create_task(fails())
    done = asyncio.create_task(returns())
    cancelled = asyncio.create_task(asyncio.sleep(10))
    await asyncio.sleep(0)
    cancelled.cancel()
    await asyncio.wait([failed, done, cancelled])
    error = internals.task_error(failed)
    assert isinstance(error, ValueError)
    assert failed._log_traceback, "asyncio still reports it if nobody awaits the task"
    assert internals.task_error(done) is None
    assert isinstance(internals.task_error(cancelled), asyncio.CancelledError)
    failed.exception()  # retrieved here, so the test run stays quiet
