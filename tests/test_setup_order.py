"""``configure()`` works whatever came before it: ``instrument()``, or ``shutdown()``.

Set-up is process-wide (one global tracer provider, one default registry), so each
case runs in a process of its own, as an application or a test suite would, against
the session's real nats-server.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from natstrace.embedded_server import EmbeddedNatsServer

pytestmark = pytest.mark.integration

PRELUDE = """
import asyncio, json, sys, nats, natstrace
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client import REGISTRY, CollectorRegistry

URL = sys.argv[1]
SENT = "messaging_client_sent_messages_total"


def sent(registry, service, subject):
    return registry.get_sample_value(SENT, {
        "service_name": service, "messaging_system": "nats",
        "messaging_operation_name": "send", "messaging_destination_name": subject,
        "error_type": ""})


def services(exporter):
    return sorted({(s.name, s.resource.attributes.get("service.name"))
                   for s in exporter.get_finished_spans()})


async def round_trip(nc, subject):
    got = asyncio.Event()

    async def handle(msg):
        got.set()

    sub = await nc.subscribe(subject, cb=handle)
    await nc.publish(subject, b"{}")
    await asyncio.wait_for(got.wait(), 5)
    await sub.unsubscribe()
"""


def _run(tmp_path: Path, server: EmbeddedNatsServer, body: str) -> dict[str, object]:
    script = tmp_path / "app.py"
    script.write_text(PRELUDE + textwrap.dedent(body) + "\nasyncio.run(main())\n")
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "NATSTRACE_"))}
    result = subprocess.run(
        [sys.executable, str(script), server.url],
        env=clean,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    output: dict[str, object] = json.loads(result.stdout.strip().splitlines()[-1])
    return output


def test_instrument_before_configure_records_where_configure_says(
    tmp_path: Path, nats_server: EmbeddedNatsServer
) -> None:
    out = _run(
        tmp_path,
        nats_server,
        """
        async def main():
            nc = natstrace.instrument(await nats.connect(URL))  # before configure()
            await round_trip(nc, "early.before")
            before = sent(REGISTRY, "unknown_service", "early.before")
            registry, exporter = CollectorRegistry(), InMemorySpanExporter()
            natstrace.configure(service_name="orders", registry=registry, span_exporter=exporter)
            await round_trip(nc, "early.orders")
            await nc.drain()
            natstrace.shutdown()
            print(json.dumps({
                "before": before,
                "configured": sent(registry, "orders", "early.orders"),
                "default": [sent(REGISTRY, "unknown_service", s)
                            for s in ("early.before", "early.orders")],
                "spans": services(exporter),
            }))
        """,
    )
    assert out["before"] == 1, "recorded before configure(), as unknown_service"
    assert out["configured"] == 1
    assert out["default"] == [None, None], "nothing left behind as unknown_service"
    assert out["spans"] == [["process early.orders", "orders"], ["send early.orders", "orders"]]


def test_configure_after_shutdown_configures_again(
    tmp_path: Path, nats_server: EmbeddedNatsServer
) -> None:
    out = _run(
        tmp_path,
        nats_server,
        """
        async def main():
            first, second = CollectorRegistry(), CollectorRegistry()
            one, two = InMemorySpanExporter(), InMemorySpanExporter()
            natstrace.configure(service_name="orders", registry=first, span_exporter=one)
            nc = natstrace.instrument(await nats.connect(URL))
            await round_trip(nc, "first.orders")
            natstrace.shutdown()

            natstrace.configure(service_name="orders", registry=second, span_exporter=two)
            await round_trip(nc, "second.orders")
            await nc.drain()
            natstrace.shutdown()
            print(json.dumps({
                "first": [sent(first, "orders", s) for s in ("first.orders", "second.orders")],
                "second": [sent(second, "orders", s) for s in ("first.orders", "second.orders")],
                "one": services(one),
                "two": services(two),
            }))
        """,
    )
    assert out["first"] == [1, None]
    assert out["second"] == [None, 1]
    assert out["one"] == [["process first.orders", "orders"], ["send first.orders", "orders"]]
    assert out["two"] == [["process second.orders", "orders"], ["send second.orders", "orders"]]


def test_another_service_name_after_shutdown_says_what_to_do(
    tmp_path: Path, nats_server: EmbeddedNatsServer
) -> None:
    out = _run(
        tmp_path,
        nats_server,
        """
        async def main():
            natstrace.configure(service_name="orders", span_exporter=InMemorySpanExporter())
            natstrace.shutdown()
            try:
                natstrace.configure(service_name="billing", span_exporter=InMemorySpanExporter())
            except ValueError as exc:
                print(json.dumps({"error": str(exc)}))
            else:
                print(json.dumps({"error": None}))
        """,
    )
    error = str(out["error"])
    assert "'orders'" in error and "'billing'" in error
    assert "service_name='orders'" in error


WATCH = """
from opentelemetry.attributes import _clean_attribute_value
from opentelemetry.sdk.trace import Tracer
from natstrace.middleware.spans import SpanShapes


def watching(code, within=None):
    '''Calls of ``code`` (made inside a call of ``within``, if given) while profiled.'''
    calls = []

    def inside(frame):
        while frame is not None:
            if frame.f_code is within:
                return True
            frame = frame.f_back
        return False

    def profile(frame, event, arg):
        if event == "call" and frame.f_code is code and (within is None or inside(frame)):
            calls.append(frame.f_code.co_name)

    return calls, profile


async def watched_after_late_configure(subject, code, within=None, **options):
    '''Instrument, round trip, configure(**options), then one round trip on ``subject``
    watched for calls of ``code``: those calls, and the spans exported.'''
    nc = natstrace.instrument(await nats.connect(URL))  # before configure()
    await round_trip(nc, "early.before")
    exporter = InMemorySpanExporter()
    natstrace.configure(service_name="orders", span_exporter=exporter, **options)
    calls, profile = watching(code, within)
    sys.setprofile(profile)
    await round_trip(nc, subject)
    sys.setprofile(None)
    await nc.drain()
    natstrace.shutdown()
    return calls, exporter.get_finished_spans()
"""


def test_instrument_before_configure_starts_spans_the_fast_way(
    tmp_path: Path, nats_server: EmbeddedNatsServer
) -> None:
    # The client got a stand-in tracer; once configure() installed the provider,
    # spans start on its tracer, without the SDK re-checking natstrace's attributes.
    out = _run(
        tmp_path,
        nats_server,
        WATCH
        + textwrap.dedent(
            """
        async def main():
            checks, spans = await watched_after_late_configure(
                "early.fast", _clean_attribute_value.__code__, Tracer.start_span.__code__
            )
            print(json.dumps({
                "checks": len(checks),
                "spans": sorted((s.name, s.attributes.get("messaging.destination.name"))
                                for s in spans),
            }))
        """
        ),
    )
    assert out["spans"] == [["process early.fast", "early.fast"], ["send early.fast", "early.fast"]]
    assert out["checks"] == 0


def test_instrument_before_configure_builds_no_attributes_for_dropped_spans(
    tmp_path: Path, nats_server: EmbeddedNatsServer
) -> None:
    out = _run(
        tmp_path,
        nats_server,
        WATCH
        + textwrap.dedent(
            """
        from opentelemetry.sdk.trace.sampling import ALWAYS_OFF

        async def main():
            built, spans = await watched_after_late_configure(
                "early.off", SpanShapes.get.__code__, sampler=ALWAYS_OFF
            )
            print(json.dumps({
                "built": len(built),
                "spans": len(spans),
                "sent": sent(REGISTRY, "orders", "early.off"),
            }))
        """
        ),
    )
    assert out == {"built": 0, "spans": 0, "sent": 1}
