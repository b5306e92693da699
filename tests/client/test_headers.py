"""Incoming headers are untrusted: bad values are dropped and counted, never raised,
never copied onward; the handler always runs with a fresh, valid context."""

from __future__ import annotations

import asyncio

import nats
import pytest
from opentelemetry import trace

from natstrace.client.headers import read_incoming
from natstrace.embedded_server import EmbeddedNatsServer
from natstrace.testing import subscriptions_ready
from tests.conftest import Traced

VALID_TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


@pytest.mark.parametrize(
    ("headers", "invalid"),
    [
        ({"traceparent": "00-xyz"}, ("traceparent",)),
        ({"traceparent": "00-" + "0" * 32 + "-b7ad6b7169203331-01"}, ("traceparent",)),
        (
            {"traceparent": "ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"},
            ("traceparent",),
        ),
        ({"traceparent": VALID_TRACEPARENT + "-extra"}, ("traceparent",)),
        ({"Correlation-Id": "x" * 100_000}, ("Correlation-Id",)),
        ({"Correlation-Id": "abc\r\nInjected: yes"}, ("Correlation-Id",)),
        ({"Nats-Msg-Id": "caf\u00e9"}, ("Nats-Msg-Id",)),
        ({"Causation-Id": ""}, ("Causation-Id",)),
        ({"tracestate": "a=b," * 40}, ("tracestate",)),
        ({"baggage": "k=" + "v" * 9000}, ("baggage",)),
        ({"baggage": "k=v\x00"}, ("baggage",)),
    ],
)
def test_invalid_values_are_dropped_and_named(headers: dict[str, str], invalid: tuple[str]) -> None:
    read = read_incoming(headers)
    assert read.invalid == invalid
    assert read.trace == {}
    assert (read.message_id, read.correlation_id, read.causation_id) == (None, None, None)


def test_valid_values_are_kept_and_names_matched_case_insensitively() -> None:
    read = read_incoming(
        {
            "Traceparent": VALID_TRACEPARENT,  # as Go clients canonicalise it
            "tracestate": "vendor=abc",
            "Nats-Msg-Id": "msg-1",
            "correlation-id": "wf-9",
            "Other": "untouched",
        }
    )
    assert read.invalid == ()
    assert read.trace == {"traceparent": VALID_TRACEPARENT, "tracestate": "vendor=abc"}
    assert (read.message_id, read.correlation_id) == ("msg-1", "wf-9")


def test_future_traceparent_versions_with_more_fields_are_accepted() -> None:
    future = "01-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-more"
    assert read_incoming({"traceparent": future}).trace == {"traceparent": future}


@pytest.mark.integration
async def test_hostile_headers_over_nats_never_reach_the_handler(
    traced: Traced, nats_server: EmbeddedNatsServer
) -> None:
    hostile = [
        {"traceparent": "00-garbage-garbage-01"},
        {"Correlation-Id": "x" * 100_000},
        {"Correlation-Id": "evil\tvalue"},
        {"Nats-Msg-Id": "\u00fc\u00f1\u00ee\u00e7\u00f8d\u00e9"},
        {"Causation-Id": "a b"},
    ]
    handled: asyncio.Queue[tuple[str, object]] = asyncio.Queue()

    async def handler(msg):
        context = trace.get_current_span().get_span_context()
        await handled.put((format(context.trace_id, "032x"), context.is_valid))
        await traced.nc.publish("hostile.out", b"")

    outgoing: asyncio.Queue[dict[str, str]] = asyncio.Queue()

    async def capture(msg):
        await outgoing.put(dict(msg.headers))

    await traced.nc.subscribe("hostile.in", cb=handler)
    plain = await nats.connect(nats_server.url)
    await plain.subscribe("hostile.out", cb=capture)
    await subscriptions_ready(plain, traced.nc)
    for headers in hostile:
        await plain.publish("hostile.in", b"", headers=headers)
    # Raw bytes nats-py would never build: a duplicated header line and bytes that
    # are not UTF-8, written straight onto the connection.
    header_block = (
        b"NATS/1.0\r\nCorrelation-Id: one\r\nCorrelation-Id: two\r\nNats-Msg-Id: \xff\xfe\r\n\r\n"
    )
    plain._transport.write(
        b"HPUB hostile.in %d %d\r\n%s\r\n" % (len(header_block), len(header_block), header_block)
    )
    await plain.flush()

    results = [await asyncio.wait_for(handled.get(), 5) for _ in range(len(hostile) + 1)]
    assert all(valid for _, valid in results), "handler must run inside a valid span"
    assert len({trace_id for trace_id, _ in results}) == len(results), "each gets a fresh trace"
    for _ in results:
        headers = await asyncio.wait_for(outgoing.get(), 5)
        assert "x" * 100 not in headers.get("Correlation-Id", "")
        # No valid ID came in: the handled message's identity given at receipt names
        # the workflow and the cause.
        assert headers["Correlation-Id"] == headers["Causation-Id"] or headers[
            "Correlation-Id"
        ] in ("one", "two")
        assert "garbage" not in headers["traceparent"]
    await plain.close()

    def count(header: str) -> float:
        return traced.sample("natstrace_invalid_headers_total", header=header) or 0

    assert count("traceparent") == 1
    assert count("Correlation-Id") == 2
    assert count("Causation-Id") == 1
    assert count("Nats-Msg-Id") == 2  # the non-ASCII one and the undecodable bytes
