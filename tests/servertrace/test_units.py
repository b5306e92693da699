"""Units without a server: parsing, keys, assembly, spans, the enable helper, the CLI."""

from __future__ import annotations

import argparse
import gzip
import json
from typing import Any

import pytest

from natstrace.embedded_server import EmbeddedNatsServer
from natstrace.servertrace import (
    InvalidTraceEventError,
    TraceAssembler,
    build_spans,
    parse_trace_event,
    trace_headers,
)
from natstrace.servertrace.cli import add_arguments, run
from natstrace.servertrace.identity import message_key, parse_traceparent
from natstrace.servertrace.timestamps import parse_rfc3339_ns

TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


def event(
    server: str = "S1",
    seq: int = 1,
    hop: str = "",
    steps: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
) -> bytes:
    """A trace event in the server's JSON shape (fields as nats-server 2.15 writes them)."""
    header = {"Nats-Trace-Dest": ["t"], **{k: [v] for k, v in (headers or {}).items()}}
    if hop:
        header["Nats-Trace-Hop"] = [hop]
    ingress = {
        "type": "in",
        "ts": "2030-01-01T00:00:00.000000100Z",
        "kind": 0,
        "cid": 5,
        "name": "pub",
        "acc": "$G",
        "subj": "orders.new",
    }
    document = {
        "server": {
            "name": server,
            "id": f"ID{server}",
            "host": "127.0.0.1",
            "ver": "2.15.1",
            "seq": seq,
            "time": "2030-01-01T00:00:00.000009Z",
        },
        "request": {"header": header, "msgsize": 10},
        "events": [ingress, *(steps or [])],
    }
    return json.dumps(document).encode()


def route(hop: str, ts: str = "2030-01-01T00:00:00.000000500Z") -> dict[str, Any]:
    return {"type": "eg", "ts": ts, "kind": 1, "cid": 9, "name": "peer", "hop": hop}


def test_timestamps_keep_nanoseconds() -> None:
    assert parse_rfc3339_ns("1970-01-01T00:00:01.000000001Z") == 1_000_000_001
    assert parse_rfc3339_ns("1970-01-01T01:00:00+01:00") == 0
    with pytest.raises(ValueError):
        parse_rfc3339_ns("yesterday")


def test_gzip_and_plain_parse_the_same() -> None:
    plain = parse_trace_event(event(steps=[route("1")]))
    zipped = parse_trace_event(
        gzip.compress(event(steps=[route("1")])), {"Content-Encoding": "gzip"}
    )
    assert plain == zipped
    assert plain.ingress.ts_ns % 1_000_000_000 == 100
    assert plain.egresses[0].remote and plain.egresses[0].hop == "1"


@pytest.mark.parametrize(
    ("payload", "headers", "reason"),
    [
        (b"\xff\xfe", None, "json"),
        (b"{}", None, "schema"),
        (event()[:-1], None, "json"),
        (event().replace(b'"type": "in"', b'"type": "js"'), None, "schema"),
        (event().replace(b'"seq": 1', b'"seq": true'), None, "schema"),
        (event(), {"Content-Encoding": "snappy"}, "encoding"),
        (event(), {"Content-Encoding": "gzip"}, "encoding"),
        (gzip.compress(event())[:-4], None, "encoding"),
        (b" " * 2048, None, "too_large"),
    ],
)
def test_invalid_events_raise_with_a_reason(
    payload: bytes, headers: dict[str, str] | None, reason: str
) -> None:
    with pytest.raises(InvalidTraceEventError) as caught:
        parse_trace_event(payload, headers, max_bytes=1024)
    assert caught.value.reason == reason


def test_unknown_step_types_are_skipped() -> None:
    parsed = parse_trace_event(event(steps=[{"type": "zz", "ts": "2030-01-01T00:00:00Z"}]))
    assert len(parsed.steps) == 1


def test_message_key_prefers_traceparent_then_msg_id() -> None:
    with_tp = parse_trace_event(event(headers={"traceparent": TRACEPARENT, "Nats-Msg-Id": "m"}))
    assert message_key(with_tp) == "tp:0af7651916cd43dd8448eb211c80319c:b7ad6b7169203331|id:m"
    assert message_key(parse_trace_event(event(headers={"Nats-Msg-Id": "m"}))) == "id:m"
    assert message_key(parse_trace_event(event())) == "dest:t"
    assert parse_traceparent("00-" + "0" * 32 + "-b7ad6b7169203331-01") is None
    assert parse_traceparent("garbage") is None


def test_assembler_waits_for_every_remote_hop_then_times_out() -> None:
    now = [0.0]
    assembler = TraceAssembler(timeout=1.0, clock=lambda: now[0])
    assert assembler.add(parse_trace_event(event(steps=[route("1"), route("2")]))) == []
    assert assembler.add(parse_trace_event(event("S2", hop="1"))) == []
    now[0] = 2.0
    [expired] = assembler.expire()
    assert not expired.complete and [e.hop for e in expired.events] == ["", "1"]
    # A straggler after the timeout becomes its own message but still knows its upstream.
    assembler.add(parse_trace_event(event("S3", hop="2")))
    [late] = assembler.flush()
    assert late.known_hops[""] == ("IDS1", 1) and assembler.stats.late == 1
    [span] = build_spans(late).spans
    assert (
        span.parent is not None
        and span.parent.span_id == build_spans(expired).spans[0].context.span_id
    )


def test_a_forwarded_message_whose_downstream_report_is_lost_is_not_no_interest() -> None:
    now = [0.0]
    assembler = TraceAssembler(timeout=1.0, clock=lambda: now[0])
    # Forwarded to another server, delivered to nobody here; that server's report never comes.
    assert assembler.add(parse_trace_event(event(steps=[route("1")]))) == []
    now[0] = 2.0
    [message] = assembler.expire()
    built = build_spans(message)
    assert not message.complete
    assert built.no_interest is False, "an incomplete trace cannot prove nobody got it"
    [span] = built.spans
    assert (span.attributes or {})["natstrace.server.no_interest"] is False
    assert (span.attributes or {})["natstrace.server.trace_complete"] is False


def test_assembler_drops_duplicates_and_separates_colliding_messages() -> None:
    assembler = TraceAssembler()
    assert len(assembler.add(parse_trace_event(event(seq=1)))) == 1
    assert assembler.add(parse_trace_event(event(seq=1))) == []  # same report again
    assert len(assembler.add(parse_trace_event(event(seq=2)))) == 1  # another message, same key
    assert (assembler.stats.duplicates, assembler.stats.conflicts) == (1, 1)


def test_assembler_memory_is_bounded() -> None:
    assembler = TraceAssembler(max_pending=2, max_events=2)
    for msg_id in ("a", "b", "c"):
        assembler.add(parse_trace_event(event(steps=[route("1")], headers={"Nats-Msg-Id": msg_id})))
    assert assembler.pending == 2 and assembler.stats.evicted == 1
    for server in ("S2", "S3"):
        assembler.add(parse_trace_event(event(server, hop="9", headers={"Nats-Msg-Id": "c"})))
    assert assembler.stats.overflow == 1


def test_spans_without_traceparent_are_a_deterministic_root() -> None:
    message = TraceAssembler().add(parse_trace_event(event()))[0]
    first, again = build_spans(message), build_spans(message)
    [span] = first.spans
    assert span.parent is None and first.no_interest and first.publisher == "pub"
    assert span.context == again.spans[0].context
    assert span.start_time is not None and span.end_time is not None
    assert span.end_time - span.start_time == 8900  # ingress to the server's report


def test_trace_headers() -> None:
    assert trace_headers("tr") == {"Nats-Trace-Dest": "tr"}
    assert trace_headers("tr", trace_only=True, compress=True) == {
        "Nats-Trace-Dest": "tr",
        "Nats-Trace-Only": "true",
        "Accept-Encoding": "gzip",
    }
    with pytest.raises(ValueError):
        trace_headers("traces.>")


@pytest.mark.integration
async def test_cli_runs_for_a_duration(
    nats_server: EmbeddedNatsServer, capsys: pytest.CaptureFixture[str]
) -> None:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    args = parser.parse_args(
        [
            "--server",
            nats_server.url,
            "--subject",
            "st.cli.trace",
            "--exporter",
            "console",
            "--duration",
            "0.3",
        ]
    )
    assert await run(args) == 0
    assert "server-trace stopped: events_received=0" in capsys.readouterr().err
