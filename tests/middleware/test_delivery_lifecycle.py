"""Every handed-out message is finished exactly once, whoever ends its handling:
the next pull, the loop body raising, the pulling task being cancelled, the
subscription or the client being unsubscribed, drained or closed."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Awaitable, Callable
from typing import ClassVar

import nats
import pytest
from opentelemetry import trace
from opentelemetry.trace import StatusCode

import natstrace
from tests.conftest import Traced

pytestmark = pytest.mark.integration

DETACH_ERROR = "Failed to detach context"


async def _until(condition: Callable[[], bool], timeout: float = 2.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.005)


def _in_flight(traced: Traced, template: str) -> float | None:
    return traced.sample(
        "natstrace_messages_in_flight",
        messaging_destination_name=template,
        messaging_consumer_group_name="",
    )


def _processes(traced: Traced, template: str) -> list[object]:
    return [s for s in traced.spans() if s.name == f"process {template}"]


async def _worker_holding_a_message(
    traced: Traced, subject: str, release: asyncio.Event | None = None
) -> tuple[natstrace.InstrumentedSubscription, asyncio.Task[None]]:
    """A task iterating a subscription, inside the handling of its first message
    until ``release`` is set (or for a minute)."""
    sub = await traced.nc.subscribe(subject)
    handling = asyncio.Event()

    async def worker() -> None:
        async for _ in sub.messages:
            handling.set()
            await (release.wait() if release is not None else asyncio.sleep(60))

    task = asyncio.create_task(worker())
    await traced.nc.publish(subject, b"x")
    await asyncio.wait_for(handling.wait(), 2)
    return sub, task


async def test_loop_body_raising_ends_the_span(
    traced: Traced, caplog: pytest.LogCaptureFixture
) -> None:
    sub = await traced.nc.subscribe("life.raise")

    async def worker() -> None:
        async for _ in sub.messages:
            raise ValueError("bad order")

    task = asyncio.create_task(worker())
    await traced.nc.publish("life.raise", b"x")
    with pytest.raises(ValueError):
        await asyncio.wait_for(task, 2)
    [span] = _processes(traced, "life.raise")
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes["error.type"] == "ValueError"
    assert _in_flight(traced, "life.raise") == 0
    await sub.unsubscribe()
    gc.collect()
    assert DETACH_ERROR not in caplog.text


async def test_cancelled_pulling_task_ends_the_span(
    traced: Traced, caplog: pytest.LogCaptureFixture
) -> None:
    sub, task = await _worker_holding_a_message(traced, "life.cancel")
    assert _in_flight(traced, "life.cancel") == 1
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    [span] = _processes(traced, "life.cancel")
    assert span.attributes["error.type"] == "CancelledError"
    assert _in_flight(traced, "life.cancel") == 0
    await sub.unsubscribe()
    gc.collect()
    assert DETACH_ERROR not in caplog.text


@pytest.mark.parametrize("stop", ["unsubscribe", "drain", "client_drain", "client_close"])
async def test_stopping_from_another_task_ends_the_handed_out_message(
    traced: Traced, caplog: pytest.LogCaptureFixture, stop: str
) -> None:
    subject = f"life.stop.{stop}"
    release = asyncio.Event()
    sub, task = await _worker_holding_a_message(traced, subject, release)
    stops: dict[str, Callable[[], Awaitable[object]]] = {
        "unsubscribe": sub.unsubscribe,
        "drain": sub.drain,
        "client_drain": traced.nc.drain,
        "client_close": traced.nc.close,
    }
    await stops[stop]()
    assert len(_processes(traced, subject)) == 1, "the span ends when the subscription stops"
    assert _in_flight(traced, subject) == 0
    release.set()
    await asyncio.wait_for(task, 2)
    task = None
    gc.collect()
    assert DETACH_ERROR not in caplog.text
    assert len(_processes(traced, subject)) == 1, "finished once"


@pytest.mark.parametrize("stop", ["client_drain", "client_close"])
async def test_next_msg_then_client_stop_ends_span_and_correlation(
    traced: Traced, stop: str
) -> None:
    subject = f"life.next.{stop}"
    sub = await traced.nc.subscribe(subject)
    await traced.nc.publish(subject, b"x")
    msg = await sub.next_msg(timeout=2)
    assert natstrace.current_correlation().message_id == msg.headers["Nats-Msg-Id"]
    await (traced.nc.drain() if stop == "client_drain" else traced.nc.close())
    assert len(_processes(traced, subject)) == 1
    assert _in_flight(traced, subject) == 0
    assert natstrace.current_correlation() is None
    assert not trace.get_current_span().get_span_context().is_valid


async def test_garbage_collected_pull_is_finished_without_detach_errors(
    traced: Traced, caplog: pytest.LogCaptureFixture
) -> None:
    sub = await traced.nc.subscribe("life.gc")
    await traced.nc.publish("life.gc", b"x")
    pulled = asyncio.Event()

    async def worker(sub: natstrace.InstrumentedSubscription) -> None:
        await sub.next_msg(timeout=2)
        pulled.set()
        await asyncio.sleep(60)

    task = asyncio.create_task(worker(sub))
    await asyncio.wait_for(pulled.wait(), 2)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    del task, sub
    gc.collect()
    assert len(_processes(traced, "life.gc")) == 1
    assert _in_flight(traced, "life.gc") == 0
    assert DETACH_ERROR not in caplog.text


async def test_message_without_headers_is_one_workflow(traced: Traced) -> None:
    done = asyncio.Event()

    async def handler(msg: object) -> None:
        await traced.nc.publish("plain.out", b"1")
        await traced.nc.publish("plain.out", b"2")
        done.set()

    out = await traced.raw.subscribe("plain.out")
    await traced.nc.subscribe("plain.in", cb=handler)
    await traced.raw.publish("plain.in", b"no headers")  # a plain nats-py publisher
    await asyncio.wait_for(done.wait(), 2)
    first = await out.next_msg(timeout=2)
    second = await out.next_msg(timeout=2)
    correlation = first.headers["Correlation-Id"]
    assert second.headers["Correlation-Id"] == correlation
    assert first.headers["Causation-Id"] == second.headers["Causation-Id"] == correlation
    process = traced.span("process plain.in")
    assert process.attributes["messaging.message.conversation_id"] == correlation


async def test_a_plain_function_callback_is_refused_at_subscribe(traced: Traced) -> None:
    def not_a_coroutine(msg: object) -> None:
        pass

    with pytest.raises(nats.errors.Error, match="must use coroutine for subscriptions"):
        await traced.nc.subscribe("plain.cb", cb=not_a_coroutine)  # type: ignore[arg-type]
    js = traced.nc.jetstream()
    with pytest.raises(nats.errors.Error, match="must use coroutine for subscriptions"):
        await js.subscribe("plain.js", cb=not_a_coroutine)  # type: ignore[arg-type]


class _Around:
    """A user middleware: notes what it sees before and after the handling."""

    seen: ClassVar[list[tuple[str, bool, str | None]]] = []

    def __init__(self, app: natstrace.HandleApp) -> None:
        self.app = app

    async def __call__(self, message: natstrace.IncomingMessage) -> None:
        current = natstrace.current_correlation()
        self.seen.append(
            (
                "before",
                trace.get_current_span() is message.span,
                current.message_id if current else None,
            )
        )
        try:
            await self.app(message)
        except BaseException as exc:
            self.seen.append(("raised", False, type(exc).__name__))
            raise
        self.seen.append(("after", not message.span.is_recording(), message.message_id))


@pytest.mark.instrument(handle_middleware=[_Around])
async def test_user_middleware_runs_around_pulled_messages(traced: Traced) -> None:
    _Around.seen = []
    sub = await traced.nc.subscribe("mw.pull")
    await traced.nc.publish("mw.pull", b"1")
    await traced.nc.publish("mw.pull", b"2")
    ids = []
    async for msg in sub.messages:
        # The middleware's code before the handling ran before the loop body.
        assert _Around.seen[-1] == ("before", True, msg.headers["Nats-Msg-Id"])
        ids.append(msg.headers["Nats-Msg-Id"])
        if len(ids) == 2:
            break
    await sub.unsubscribe()
    await _until(lambda: len(_Around.seen) == 4)
    assert _Around.seen == [
        ("before", True, ids[0]),
        ("after", True, ids[0]),
        ("before", True, ids[1]),
        ("after", True, ids[1]),
    ]


@pytest.mark.instrument(handle_middleware=[_Around])
async def test_user_middleware_sees_the_pulling_task_cancelled(traced: Traced) -> None:
    _Around.seen = []
    sub, task = await _worker_holding_a_message(traced, "mw.cancel")
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await _until(lambda: len(_Around.seen) == 2)
    assert _Around.seen[1] == ("raised", False, "CancelledError")
    await sub.unsubscribe()


async def test_unsubscribe_from_a_task_the_handler_started_leaves_the_loop_clean(
    traced: Traced,
) -> None:
    sub = await traced.nc.subscribe("life.child")
    await traced.nc.publish("life.child", b"x")
    async for _ in sub.messages:
        # The child task's context is a copy of this one, with the message current.
        await asyncio.create_task(sub.unsubscribe())
    assert len(_processes(traced, "life.child")) == 1
    assert natstrace.current_correlation() is None
    assert not trace.get_current_span().get_span_context().is_valid


async def test_a_dropped_subscription_finishes_what_it_handed_out(traced: Traced) -> None:
    sub = await traced.nc.subscribe("life.dropped")
    await traced.nc.publish("life.dropped", b"x")
    raw = sub.subscription
    await sub.next_msg(timeout=2)  # this task holds the message, and goes on
    del sub
    gc.collect()
    assert len(_processes(traced, "life.dropped")) == 1
    assert _in_flight(traced, "life.dropped") == 0
    await raw.unsubscribe()
