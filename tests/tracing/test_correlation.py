"""The correlation context API: ambient scopes, tasks, and refused IDs."""

from __future__ import annotations

import asyncio
import dataclasses
import logging

import pytest

import natstrace
from natstrace.tracing import correlation
from natstrace.tracing.correlation import MAX_ID_LENGTH, Correlation, is_valid_id


async def test_scope_follows_awaits_and_tasks_and_ends_with_the_block() -> None:
    async def read_later() -> str | None:
        await asyncio.sleep(0)
        current = natstrace.current_correlation()
        return current.correlation_id if current else None

    with natstrace.correlation_scope("req-1") as scope:
        assert scope.correlation_id == "req-1"
        task = asyncio.create_task(read_later())
        with natstrace.correlation_scope("req-2"):
            assert await read_later() == "req-2"
        assert await read_later() == "req-1"
    assert await task == "req-1"
    assert natstrace.current_correlation() is None


@pytest.mark.parametrize(
    "hostile",
    ["", "a\r\nInjected: 1", "a b", "x" * (MAX_ID_LENGTH + 1), "caf\u00e9", "a;b", "a,b"],
)
def test_hostile_ambient_ids_are_refused_with_a_clear_error(hostile: str) -> None:
    with pytest.raises(natstrace.InvalidIdError, match="invalid correlation ID"):  # noqa: SIM117
        with natstrace.correlation_scope(hostile):
            pass
    assert not is_valid_id(hostile)


@pytest.mark.integration
async def test_hostile_caller_ids_never_reach_the_wire(traced) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(natstrace.InvalidIdError, match="Nats-Msg-Id"):
        await traced.nc.publish("x", b"", headers={"Nats-Msg-Id": "a\r\nEvil: 1"})
    assert traced.spans() == [], "nothing was sent, so no span either"


def test_log_records_carry_trace_and_correlation(caplog: pytest.LogCaptureFixture) -> None:
    from opentelemetry.sdk.trace import TracerProvider

    natstrace.enable_log_correlation()
    natstrace.enable_log_correlation()  # twice is harmless
    tracer = TracerProvider().get_tracer("t")
    logger = logging.getLogger("app")
    with caplog.at_level(logging.INFO, "app"):
        logger.info("outside")
        with tracer.start_as_current_span("s") as span, natstrace.correlation_scope("wf-1"):
            logger.info("inside")
    outside, inside = caplog.records
    assert (outside.trace_id, outside.span_id, outside.correlation_id) == ("", "", "")
    context = span.get_span_context()
    assert inside.trace_id == format(context.trace_id, "032x")
    assert inside.span_id == format(context.span_id, "016x")
    assert inside.correlation_id == "wf-1"


def test_filter_for_one_handler() -> None:
    record = logging.LogRecord("app", logging.INFO, __file__, 1, "m", None, None)
    with natstrace.correlation_scope("wf-2"):
        assert natstrace.TraceContextFilter().filter(record)
    assert record.correlation_id == "wf-2"
    assert record.trace_id == ""


def test_message_ids_are_unique_valid_and_differ_in_a_forked_child() -> None:
    import os

    from natstrace.tracing.correlation import new_message_id

    ids = [new_message_id() for _ in range(10_000)]
    assert len(set(ids)) == len(ids)
    assert all(is_valid_id(i) for i in ids)
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report one ID and leave without running any cleanup
        os.write(write, new_message_id().encode())
        os._exit(0)
    os.close(write)
    child_id = os.read(read, 100).decode()
    os.waitpid(pid, 0)
    parent_id = new_message_id()
    assert child_id[:16] != parent_id[:16], "a forked child must draw its own prefix"


@pytest.mark.parametrize(
    "ids", [("c", "m", None), ("c", "m", "cause"), ("same", "same", "same")], ids=str
)
def test_a_handled_messages_correlation_is_the_one_the_class_makes(
    ids: tuple[str, str, str | None],
) -> None:
    made, handled = Correlation(*ids), correlation.handled(*ids)
    assert type(handled) is Correlation
    assert handled == made
    assert hash(handled) == hash(made)
    assert repr(handled) == repr(made)
    assert (handled.correlation_id, handled.message_id, handled.causation_id) == ids
    with pytest.raises(dataclasses.FrozenInstanceError):
        handled.message_id = "changed"  # type: ignore[misc]
