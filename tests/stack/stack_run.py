"""One run of the whole stack, shared by the end-to-end tests: a real nats-server,
the demo's five services sending OTLP to natstrace's collector (otelcol.yaml),
Jaeger v2 (jaeger.yaml) behind it, and Prometheus (prometheus.yml) scraping the
services, the span metrics and the collector."""

from __future__ import annotations

import asyncio
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from go_stack import (
    DECISION_WAIT,
    Collector,
    Jaeger,
    local,
    prometheus_config,
    telemetry_value,
    wait_until,
)
from stack_support import Prometheus, free_port
from tests.demo.processes import DemoProcess

from natstrace.demo import contract
from natstrace.embedded_server import EmbeddedNatsServer
from natstrace.flow import Span, read_files
from natstrace.flow.jaeger_source import JaegerClient
from natstrace.flow.window import TimeWindow

DEMO_SECONDS = 25.0
"""Long enough for two flushes of the span metrics (every 15 s) with traffic between
them: rates of span metrics need two different values."""


def consecutive_free_ports(count: int) -> int:
    """The first of `count` consecutive free loopback ports (the demo numbers its
    services' metrics ports from one base)."""
    for _ in range(50):
        base = free_port()
        if base + count > 65535:
            continue
        try:
            for port in range(base, base + count):
                with socket.socket() as sock:
                    sock.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
    raise RuntimeError("no run of free ports")


async def publish_untrusted_orders(url: str) -> None:
    """Orders from a client that is not natstrace's: one with a malformed traceparent
    (the services count the header as invalid and carry on) and one whose body is
    not an order (the handlers fail on it: consumer errors on the dashboards)."""
    import nats

    nc = await nats.connect(url, name="untrusted")
    order = contract.Order("untrusted-1", 1000, "mug", 1, 500)
    await nc.publish(
        contract.ORDERS_CREATED, order.to_bytes(), headers={"traceparent": "not-a-trace"}
    )
    await nc.publish(contract.ORDERS_CREATED, b"not an order")
    await nc.drain()


@dataclass
class StackRun:
    """The running stack after the demo finished and tail sampling decided."""

    nats: EmbeddedNatsServer
    jaeger: Jaeger
    collector: Collector
    prometheus: Prometheus
    trace_file: Path
    demo_output: str
    during: float = 0.0
    """A unix time while the demo was still running: gauges are only there then
    (Prometheus marks a series stale once its target is gone)."""
    services: list[str] = field(default_factory=list)

    @property
    def spans(self) -> list[Span]:
        """Every span the demo sent, from its own file."""
        return read_files([self.trace_file]).spans

    def query(self, expr: str) -> list[dict[str, Any]]:
        """A PromQL query evaluated while the demo ran."""
        body = self.prometheus.api("query", query=expr, time=str(self.during))
        assert body["status"] == "success", (expr, body)
        result: list[dict[str, Any]] = body["data"]["result"]
        return result

    def stop(self) -> None:
        for part in (self.collector, self.jaeger):
            part.remove()
        self.prometheus.stop()
        self.nats.close()


def start_stack(workdir: Path) -> StackRun:
    """Start everything, run the demo through it, wait for the sampling decisions;
    whatever started is stopped again if a step fails."""
    started: list[Any] = []
    try:
        return _run_stack(workdir, started)
    except BaseException:
        for part in reversed(started):
            # GoProcess.remove, EmbeddedNatsServer.close, Prometheus.stop
            (getattr(part, "remove", None) or getattr(part, "close", None) or part.stop)()
        raise


def _run_stack(workdir: Path, started: list[Any]) -> StackRun:
    nats = EmbeddedNatsServer().start()
    started.append(nats)
    prometheus_port = free_port()
    jaeger = Jaeger(f"http://127.0.0.1:{prometheus_port}")
    started.append(jaeger)
    jaeger.start()
    collector = Collector("otelcol", upstream={"jaeger:4317": local(jaeger.otlp_grpc_port)})
    started.append(collector)
    collector.start()
    metrics_base = consecutive_free_ports(5)
    jobs = {
        "natstrace": [local(metrics_base + i) for i in range(5)],
        "otelcol-spanmetrics": [local(collector.spanmetrics_port)],
        "otelcol": [local(collector.telemetry_port)],
    }
    prometheus = Prometheus([], config=prometheus_config(jobs), port=prometheus_port)
    started.append(prometheus)

    trace_file = workdir / "demo.jsonl"
    demo = DemoProcess.start(
        [
            "--nats-url", nats.url,
            "--duration", str(DEMO_SECONDS),
            "--interval", "0.1",
            "--metrics-port", str(metrics_base),
            "--trace-file", str(trace_file),
        ],
        cwd=workdir,
        env={"OTEL_EXPORTER_OTLP_ENDPOINT": collector.otlp_http},
    )  # fmt: skip
    try:
        demo.wait_for_line("placing orders", timeout=60)
        asyncio.run(publish_untrusted_orders(nats.url))
        returncode, output = demo.finish(timeout=DEMO_SECONDS + 60)
    finally:
        if demo.process.poll() is None:
            demo.process.kill()
    assert returncode == 0, output
    # The services stop within a second or two of the end; five seconds before it
    # every one was still being scraped.
    during = time.time() - 5
    run = StackRun(nats, jaeger, collector, prometheus, trace_file, output, during)
    run.services = sorted({span.service for span in run.spans})
    wait_for_decisions(run)
    return run


def wait_for_decisions(run: StackRun) -> None:
    """Until the collector has decided on every trace the demo sent (decision_wait
    after its first span) and Jaeger has stored what it kept."""
    ids = {span.trace_id for span in run.spans}

    def decided() -> bool:
        text = run.collector.telemetry()
        return _sampled_traces(text) >= len(ids)

    assert wait_until(decided, timeout=DECISION_WAIT + 30), run.collector.log()
    # Then until the exporter to Jaeger has sent everything (its batches leave every 2 s).
    last = [-1.0]

    def settled() -> bool:
        sent = telemetry_value(run.collector.telemetry(), "otelcol_exporter_sent_spans")
        done = sent == last[0]
        last[0] = sent
        return done

    assert wait_until(settled, timeout=30, interval=2.5)


def _sampled_traces(text: str) -> float:
    return telemetry_value(text, "otelcol_processor_tail_sampling_global_count_traces_sampled")


def jaeger_spans(run: StackRun) -> dict[str, list[Span]]:
    """Trace ID -> the spans Jaeger holds for it (every service of the run)."""
    client = JaegerClient(run.jaeger.url)
    found: dict[str, list[Span]] = {}
    for span in client.read(TimeWindow(), run.services, follow_links=False).spans:
        found.setdefault(span.trace_id, []).append(span)
    return found
