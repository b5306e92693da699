"""The collector and Jaeger go down and come back while the demo runs: the messages
keep flowing at the same pace, what natstrace cannot export it counts, and export
resumes without restarting any service."""

from __future__ import annotations

import time
from itertools import pairwise
from pathlib import Path

import pytest
from go_stack import Collector, Jaeger, prometheus_config, telemetry_value, wait_until
from stack_run import consecutive_free_ports
from stack_support import Prometheus, checked_in_dashboards, free_port, panel_queries, substitute
from tests.demo.processes import DemoProcess

from natstrace.embedded_server import EmbeddedNatsServer
from natstrace.flow import read_files

pytestmark = pytest.mark.integration

PHASE = 4.0
"""Seconds of each phase: normal, collector down, normal, Jaeger down, normal."""


def accepted(collector: Collector) -> float:
    return telemetry_value(collector.telemetry(), "otelcol_receiver_accepted_spans")


def test_outages_do_not_slow_the_flow_and_export_resumes(tmp_path: Path) -> None:
    nats = EmbeddedNatsServer().start()
    prometheus_port = free_port()
    jaeger = Jaeger(f"http://127.0.0.1:{prometheus_port}").start()
    upstream = {"jaeger:4317": f"127.0.0.1:{jaeger.otlp_grpc_port}"}
    collector = Collector("otelcol", upstream=upstream).start()
    base = consecutive_free_ports(5)
    prometheus = Prometheus(
        [],
        config=prometheus_config({"natstrace": [f"127.0.0.1:{base + i}" for i in range(5)]}),
        port=prometheus_port,
    )
    trace_file = tmp_path / "demo.jsonl"
    demo = DemoProcess.start(
        [
            "--nats-url", nats.url,
            "--duration", str(5 * PHASE),
            "--interval", "0.05",
            "--metrics-port", str(base),
            "--trace-file", str(trace_file),
        ],
        cwd=tmp_path,
        env={
            "OTEL_EXPORTER_OTLP_ENDPOINT": collector.otlp_http,
            # A queue smaller than an outage's worth of spans: some must be dropped.
            "OTEL_BSP_MAX_QUEUE_SIZE": "100",
            "OTEL_BSP_MAX_EXPORT_BATCH_SIZE": "50",
        },
    )  # fmt: skip
    try:
        demo.wait_for_line("placing orders", timeout=60)
        phases = [time.time_ns()]
        time.sleep(PHASE)
        before_outage = accepted(collector)
        collector.stop()
        phases.append(time.time_ns())
        time.sleep(PHASE)
        collector.start()  # same config, same ports: the services are not told
        phases.append(time.time_ns())
        time.sleep(PHASE)
        jaeger.stop()
        phases.append(time.time_ns())
        time.sleep(PHASE)
        jaeger.start()  # in-memory storage: it starts empty
        phases.append(time.time_ns())
        returncode, output = demo.finish(timeout=PHASE + 60)
        assert returncode == 0, output
        phases.append(time.time_ns())

        spans = read_files([trace_file]).spans
        sends = [s.start_ns for s in spans if s.service == "orders" and s.name.startswith("send")]
        rates = [
            sum(start <= t < end for t in sends) / (end - start) * 1e9
            for start, end in pairwise(phases)
        ]
        # Full pace while the collector and Jaeger are down: the orders service sends
        # at the same rate in every phase.
        assert min(rates[1:4]) >= 0.8 * rates[0], rates

        # Every span is either received by a collector or counted as dropped, and the
        # dashboard's "Spans dropped" panel shows the drops.
        dropped = prometheus.api(
            "query", query="sum(natstrace_spans_dropped_total)", time=str(phases[4] / 1e9)
        )
        dropped_count = float(dropped["data"]["result"][0]["value"][1])
        received = before_outage + accepted(collector)
        assert dropped_count > 0
        assert received + dropped_count >= 0.97 * len(spans), (received, dropped_count, len(spans))
        board = checked_in_dashboards()["natstrace-overview.json"]
        panel = dict(panel_queries(board))["Spans dropped"]
        body = prometheus.api(
            "query",
            query=substitute(panel, {"service": ".*", "__rate_interval": "1m"}),
            time=str(phases[4] / 1e9),
        )
        assert body["data"]["result"], panel
        # Export resumed after the collector came back, into a Jaeger that came back.
        after = {s.trace_id for s in spans if s.start_ns > phases[4] and s.status == 2}
        assert after, "no failed trace after the outages to look for"
        kept = wait_until(lambda: [t for t in after if jaeger.trace(t)], 30)
        assert kept, "nothing exported after Jaeger came back"
    finally:
        if demo.process.poll() is None:
            demo.process.kill()
        collector.remove()
        jaeger.remove()
        prometheus.stop()
        nats.close()
