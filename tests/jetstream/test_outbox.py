"""The outbox relay: a real SQLite outbox, a relay that crashes between publishing
and marking the row sent, the replay de-duplicated, the event processed once."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from opentelemetry import trace

import natstrace
from natstrace.jetstream import outbox
from tests.conftest import Traced
from tests.jetstream.conftest import Stream

pytestmark = pytest.mark.integration


class Crash(Exception):
    """The relay process dying right after the publish."""


async def _relay(db: sqlite3.Connection, stream: Stream, crash_after_publish: bool) -> list[bool]:
    duplicates = []
    rows = db.execute("SELECT id, subject, payload, headers FROM outbox WHERE sent = 0").fetchall()
    for row_id, subject, payload, headers in rows:
        ack = await outbox.relay(stream.js, subject, payload, json.loads(headers))
        duplicates.append(bool(ack.duplicate))
        if crash_after_publish:
            raise Crash
        with db:
            db.execute("UPDATE outbox SET sent = 1 WHERE id = ?", (row_id,))
    return duplicates


async def test_crash_and_replay_is_processed_exactly_once(traced: Traced, stream: Stream) -> None:
    db = sqlite3.connect(":memory:")
    db.execute(
        "CREATE TABLE outbox (id INTEGER PRIMARY KEY, subject TEXT, payload BLOB,"
        " headers TEXT, sent INTEGER DEFAULT 0)"
    )
    tracer = traced.nc._chains.tracer

    # The request: state change and event in one transaction, inside its span.
    with (
        tracer.start_as_current_span("POST /orders") as writer,
        natstrace.correlation_scope("req-42"),
        db,
    ):
        db.execute("CREATE TABLE IF NOT EXISTS orders (id INTEGER)")
        db.execute("INSERT INTO orders VALUES (7)")
        headers = outbox.capture()
        db.execute(
            "INSERT INTO outbox (subject, payload, headers) VALUES (?, ?, ?)",
            (stream.subject(), b'{"order": 7}', json.dumps(headers)),
        )
    assert headers["Correlation-Id"] == "req-42"
    assert headers["traceparent"].split("-")[2] == format(writer.get_span_context().span_id, "016x")

    with pytest.raises(Crash):
        await _relay(db, stream, crash_after_publish=True)
    assert await _relay(db, stream, crash_after_publish=False) == [True]
    assert await _relay(db, stream, crash_after_publish=False) == [], "row now marked sent"

    sub = await stream.js.pull_subscribe(stream.wildcard, durable="shipping")
    processed = []
    for msg in await sub.fetch(10, timeout=1):
        processed.append(msg.data)
        assert natstrace.current_correlation().correlation_id == "req-42"
        await msg.ack()
    assert processed == [b'{"order": 7}'], "exactly once"
    assert (await stream.js.stream_info(stream.name)).state.messages == 1

    writer_span = traced.span("POST /orders")
    sends = sorted(
        (s for s in traced.spans() if s.name.startswith("send")), key=lambda s: s.start_time
    )
    assert [s.attributes["natstrace.jetstream.duplicate"] for s in sends] == [False, True]
    for send in sends:
        assert send.parent is None, "the relay is not part of the request's trace"
        assert send.context.trace_id != writer_span.context.trace_id
        assert [link.context.span_id for link in send.links] == [writer_span.context.span_id]
        assert send.attributes["messaging.message.id"] == headers["Nats-Msg-Id"]
        assert send.attributes["messaging.message.conversation_id"] == "req-42"
    process = traced.span(f"process {stream.wildcard}")
    assert process.parent.span_id == writer_span.context.span_id, "continues the original trace"
    assert process.context.trace_id == writer_span.context.trace_id
    assert not trace.get_current_span().get_span_context().is_valid
    await sub.unsubscribe()


# The writer's process: one request writes the order and its event, then the process
# stops before any relay ran. Prints the writer span's trace and span IDs.
_WRITER = textwrap.dedent(
    """
    import json, sqlite3, sys
    from opentelemetry.sdk.trace import TracerProvider
    import natstrace
    from natstrace.jetstream import outbox

    tracer = TracerProvider().get_tracer("orders")
    db = sqlite3.connect(sys.argv[1])
    with (
        tracer.start_as_current_span("POST /orders") as writer,
        natstrace.correlation_scope("req-7"),
        db,
    ):
        db.execute(
            "CREATE TABLE outbox (id INTEGER PRIMARY KEY, subject TEXT, payload BLOB,"
            " headers TEXT, sent INTEGER DEFAULT 0)"
        )
        headers = outbox.capture()
        db.execute(
            "INSERT INTO outbox (subject, payload, headers) VALUES (?, ?, ?)",
            (sys.argv[2], b'{"order": 8}', json.dumps(headers)),
        )
    context = writer.get_span_context()
    print(f"{context.trace_id:032x} {context.span_id:016x}")
    """
)


async def test_a_relay_after_a_restart_links_to_the_writer_and_the_consumer_continues_its_trace(
    traced: Traced, stream: Stream, tmp_path: Path
) -> None:
    path = tmp_path / "outbox.db"
    written = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-c", _WRITER, str(path), stream.subject()],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    writer_trace, writer_span = written.stdout.split()

    # This process never saw the writer's span: all it has is the stored row.
    db = sqlite3.connect(path)
    assert await _relay(db, stream, crash_after_publish=False) == [False]
    [(stored,)] = db.execute("SELECT headers FROM outbox").fetchall()
    headers = json.loads(stored)
    sub = await stream.js.pull_subscribe(stream.wildcard, durable="shipping")
    for msg in await sub.fetch(1, timeout=1):
        assert natstrace.current_correlation().correlation_id == "req-7"
        await msg.ack()
    await sub.unsubscribe()

    send = traced.span(f"send {stream.subject()}")
    assert send.parent is None, "the relay is not part of the request's trace"
    assert format(send.context.trace_id, "032x") != writer_trace
    assert [
        (format(link.context.trace_id, "032x"), format(link.context.span_id, "016x"))
        for link in send.links
    ] == [(writer_trace, writer_span)]
    assert send.attributes["messaging.message.id"] == headers["Nats-Msg-Id"]
    assert send.attributes["messaging.message.conversation_id"] == "req-7"
    process = traced.span(f"process {stream.wildcard}")
    assert format(process.context.trace_id, "032x") == writer_trace, "continues the request"
    assert format(process.parent.span_id, "016x") == writer_span
