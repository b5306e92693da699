"""natstrace's collector build on the shipped configs, with hand-made traces: the
configs load, tail sampling's decision_wait and late spans, and the scale-out
variant (one agent, two gateways) keeping every trace on one gateway."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from go_stack import (
    AGENT_YAML,
    DECISION_WAIT,
    Collector,
    Jaeger,
    telemetry_value,
    wait_until,
)
from otlp_send import FakeSpan, new_trace_id, post_spans
from stack_support import free_port
from tests.support.otlp_receiver import OtlpReceiver

pytestmark = pytest.mark.integration


@pytest.fixture
def receivers() -> Iterator[list[OtlpReceiver]]:
    started = [OtlpReceiver().start(), OtlpReceiver().start()]
    yield started
    for receiver in started:
        receiver.stop()


def to(receiver: OtlpReceiver) -> dict[str, str]:
    """otelcol.yaml's Jaeger endpoint replaced by a real OTLP receiver."""
    return {"jaeger:4317": f"127.0.0.1:{receiver.grpc_port}"}


def test_jaeger_loads_jaeger_yaml() -> None:
    jaeger = Jaeger(f"http://127.0.0.1:{free_port()}").start()
    try:
        assert jaeger.services() == []
        assert jaeger.deprecations() == []
    finally:
        jaeger.remove()


def agent(gateway_port: int, edit: Any = None) -> Collector:
    """scale-out/agent.yaml as shipped, its DNS resolver pointed at `localhost`."""
    return Collector(
        "agent",
        AGENT_YAML,
        upstream={"otelcol-gateway": "localhost", "4317": str(gateway_port)},
        edit=edit,
    )


def test_agent_loads_agent_yaml(receivers: list[OtlpReceiver]) -> None:
    process = agent(receivers[0].grpc_port).start()
    try:
        assert process.deprecations() == []
    finally:
        process.remove()


def test_the_collector_rejects_a_numeric_resolver_port(receivers: list[OtlpReceiver]) -> None:
    # Why agent.yaml quotes the port: the config is decoded strictly.
    def numeric(config: dict[str, Any]) -> None:
        resolver = config["exporters"]["load_balancing"]["resolver"]["dns"]
        resolver["port"] = int(resolver["port"])

    process = agent(receivers[0].grpc_port, edit=numeric)
    with pytest.raises(RuntimeError, match="port"):
        process.start()
    process.remove()


def spans_of(receiver: OtlpReceiver) -> dict[str, set[str]]:
    traces: dict[str, set[str]] = {}
    for span in receiver.spans:
        traces.setdefault(span.trace_id, set()).add(span.span_id)
    return traces


def test_decision_wait_counts_from_the_first_span(receivers: list[OtlpReceiver]) -> None:
    receiver = receivers[0]
    collector = Collector("otelcol", upstream=to(receiver)).start()
    try:
        assert collector.deprecations() == [], "otelcol.yaml uses a deprecated name"
        failed = FakeSpan(new_trace_id(), "send a", error=True)
        ordinary = [FakeSpan(new_trace_id(), "send b") for _ in range(8)]
        post_spans(collector.otlp_http, [failed, *ordinary])
        # The first spans are decided decision_wait after they arrived...
        assert wait_until(lambda: failed.trace_id in spans_of(receiver), 30)
        decided_at = time.monotonic()
        # ... so a child arriving after that is late: it follows the decision. A late
        # error cannot rescue a dropped trace; a late span of a kept trace is kept.
        late_ok = FakeSpan(failed.trace_id, "process a", parent=failed.span_id, kind=5)
        late_errors = [
            FakeSpan(s.trace_id, "process b", parent=s.span_id, kind=5, error=True)
            for s in ordinary
        ]
        post_spans(collector.otlp_http, [late_ok, *late_errors])
        assert wait_until(lambda: late_ok.span_id in spans_of(receiver)[failed.trace_id], 10)
        text = wait_until(
            lambda: (
                (t := collector.telemetry())
                and telemetry_value(
                    t, "otelcol_processor_tail_sampling_sampling_late_span_age_count"
                )
                >= 1 + len(ordinary)
                and t
            ),
            10,
        )
        assert text, "late spans are not reported"
        assert time.monotonic() - decided_at < DECISION_WAIT
        traces = spans_of(receiver)
        for root, late in zip(ordinary, late_errors, strict=True):
            # Kept whole by the share, or dropped whole: never the late error alone.
            assert (root.trace_id not in traces) or traces[root.trace_id] == {
                root.span_id,
                late.span_id,
            }
        assert any(root.trace_id not in traces for root in ordinary)
    finally:
        collector.remove()


def test_scale_out_keeps_every_trace_on_one_gateway(receivers: list[OtlpReceiver]) -> None:
    gateways = [Collector(f"gateway{i}", upstream=to(r)).start() for i, r in enumerate(receivers)]

    def static_gateways(config: dict[str, Any]) -> None:
        # Two gateways on one host cannot share a port, so the test lists them
        # instead of resolving one DNS name to several addresses.
        exporter = config["exporters"]["load_balancing"]
        exporter["resolver"] = {
            "static": {"hostnames": [f"127.0.0.1:{g.grpc_port}" for g in gateways]}
        }

    front = agent(gateways[0].grpc_port, edit=static_gateways).start()
    try:
        traces = [new_trace_id() for _ in range(40)]
        spans = []
        for trace_id in traces:
            root = FakeSpan(trace_id, "send orders.*", service="orders", error=True)
            child = FakeSpan(
                trace_id, "process orders.*", service="payments", parent=root.span_id, kind=5
            )
            spans += [root, child]
        # In several requests, as services would send them.
        for i in range(0, len(spans), 10):
            post_spans(front.otlp_http, spans[i : i + 10])
        every = wait_until(
            lambda: sum(len(r.spans) for r in receivers) >= len(spans) and receivers, 40
        )
        assert every, [len(r.spans) for r in receivers]
        held = [spans_of(r) for r in receivers]
        assert all(held), "one gateway got nothing"
        assert not set(held[0]) & set(held[1]), "a trace was split across gateways"
        assert set(held[0]) | set(held[1]) == set(traces)
        assert all(len(ids) == 2 for h in held for ids in h.values())
    finally:
        front.remove()
        for gateway in gateways:
            gateway.remove()
