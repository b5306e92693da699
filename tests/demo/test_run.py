"""``natstrace demo --orders 6`` runs to the end, cleans up, and writes OTLP JSON lines."""

from __future__ import annotations

import json
import re

import pytest
from google.protobuf.json_format import Parse
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from natstrace.demo.options import SERVICES
from tests.demo.conftest import ORDERS, DemoRun

pytestmark = pytest.mark.integration


def test_the_demo_finishes_and_reports_where_everything_is(demo_run: DemoRun) -> None:
    assert demo_run.returncode == 0, demo_run.output
    out = demo_run.output
    assert "embedded nats-server at nats://127.0.0.1:" in out
    assert f"Demo finished: {ORDERS} orders placed" in out
    assert "completed, 1 cancelled (compensated)" in out
    assert f"Traces: {demo_run.trace_file}" in out
    # Each service bound a free port of its own and reported it.
    ports = {
        service: re.search(rf"  {service:<13}http://localhost:(\d+)/metrics", out)
        for service in SERVICES
    }
    assert all(ports.values()), out
    numbers = {int(match.group(1)) for match in ports.values() if match}
    assert len(numbers) == len(SERVICES) and 0 not in numbers
    assert "One workflow, order-" in out and "-0003 (its payment was declined" in out
    assert "orchestrator  send inventory.release" in out
    assert "Never consumed: orders.audit from orders, 6 message(s)" in out


def test_no_process_is_left_behind(demo_run: DemoRun) -> None:
    # The nats-server helper and nats-server itself, and five services.
    assert len(demo_run.demo.seen) >= 2 + len(SERVICES)
    assert demo_run.demo.left_behind() == []


def test_the_trace_file_is_otlp_json_from_every_service(demo_run: DemoRun) -> None:
    services = set()
    spans = 0
    for line in demo_run.trace_file.read_text().splitlines():
        request = Parse(line, ExportTraceServiceRequest())
        for resource_spans in request.resource_spans:
            attributes = {
                kv.key: kv.value.string_value for kv in resource_spans.resource.attributes
            }
            services.add(attributes["service.name"])
            spans += sum(len(scope.spans) for scope in resource_spans.scope_spans)
        # Hex IDs, as the Collector's file exporter writes them.
        first = json.loads(line)["resourceSpans"][0]["scopeSpans"][0]["spans"][0]
        assert len(first["traceId"]) == 32 and int(first["traceId"], 16)
    assert services == set(SERVICES)
    assert spans == len(demo_run.spans) > ORDERS * 10
