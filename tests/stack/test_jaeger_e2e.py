"""The demo's spans through natstrace's collector (otelcol.yaml as shipped) into
Jaeger v2 (jaeger.yaml), read back through Jaeger's query API v3 the way a user
and `natstrace flow --jaeger` read them."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from collections.abc import Iterable

import pytest
from stack_run import StackRun, jaeger_spans

from natstrace.flow import Span
from natstrace.flow.model import SpanKind, StatusCode

pytestmark = pytest.mark.integration

KEEP_SHARE = 0.10
"""otelcol.yaml's keep-a-share probabilistic policy."""


def by_trace(spans: Iterable[Span]) -> dict[str, list[Span]]:
    traces: dict[str, list[Span]] = {}
    for span in spans:
        traces.setdefault(span.trace_id, []).append(span)
    return traces


def shape(span: Span) -> tuple[object, ...]:
    """What a user sees of a span in Jaeger: who, what, which kind, where it hangs,
    what it links to, whether it failed."""
    links = frozenset((link.trace_id, link.span_id) for link in span.links)
    return (
        span.span_id,
        span.service,
        span.name,
        span.kind,
        span.parent_span_id,
        links,
        span.status,
    )


def kept_on_purpose(spans: list[Span]) -> bool:
    """Whether a policy other than the probabilistic share keeps this trace."""
    return (
        any(
            span.status == StatusCode.ERROR
            or int(span.attributes.get("natstrace.jetstream.delivery_count", 1) or 1) >= 2  # type: ignore[arg-type]
            or span.attributes.get("natstrace.exemplar") is True
            or span.attributes.get("messaging.operation.type") == "receive"
            for span in spans
        )
        or max(s.end_ns for s in spans) - min(s.start_ns for s in spans) > 500_000_000
    )


def test_jaeger_has_every_service_and_the_operations_natstrace_named(
    stack_run: StackRun,
) -> None:
    assert set(stack_run.services) == {
        "orders", "payments", "inventory", "shipping", "orchestrator"
    }  # fmt: skip
    assert set(stack_run.services) <= set(stack_run.jaeger.services())
    kept = [span for spans in jaeger_spans(stack_run).values() for span in spans]
    for service in stack_run.services:
        body = stack_run.jaeger.api("/api/v3/operations", service=service)
        listed = {(op["name"], op["spanKind"]) for op in body["operations"]}
        wanted = {(s.name, s.kind.name.lower()) for s in kept if s.service == service}
        assert wanted and wanted <= listed, service
    kinds = {span.kind for span in kept}
    assert {SpanKind.PRODUCER, SpanKind.CONSUMER, SpanKind.CLIENT} <= kinds


def test_every_kept_trace_is_whole_and_as_natstrace_sent_it(stack_run: StackRun) -> None:
    sent = by_trace(stack_run.spans)
    kept = jaeger_spans(stack_run)
    assert kept, "Jaeger holds no trace of the run"
    assert set(kept) <= set(sent)
    for trace_id, spans in kept.items():
        assert sorted(map(shape, spans), key=str) == sorted(map(shape, sent[trace_id]), key=str)
    # Links across traces survive: a redelivery's trace links to the failed delivery.
    assert any(span.links for spans in kept.values() for span in spans)


def test_tail_sampling_keeps_errors_whole_and_a_share_of_the_rest(stack_run: StackRun) -> None:
    sent = by_trace(stack_run.spans)
    kept = jaeger_spans(stack_run)
    failed = {t for t, spans in sent.items() if any(s.status == StatusCode.ERROR for s in spans)}
    redelivered = {
        t
        for t, spans in sent.items()
        if any(s.attributes.get("natstrace.jetstream.delivery_count", 1) != 1 for s in spans)
    }
    assert failed and redelivered
    assert failed <= set(kept), "a trace with an error was dropped"
    assert redelivered <= set(kept), "a redelivery's trace was dropped"

    ordinary = [t for t, spans in sent.items() if not kept_on_purpose(spans)]
    share = sum(t in kept for t in ordinary) / len(ordinary)
    # Binomial: 4 standard deviations either side of the configured share.
    spread = 4 * (KEEP_SHARE * (1 - KEEP_SHARE) / len(ordinary)) ** 0.5
    assert len(ordinary) >= 50, len(ordinary)
    assert abs(share - KEEP_SHARE) <= spread, (share, len(ordinary))


def natstrace_flow(*args: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "natstrace.cli", "flow", *args],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_flow_from_jaeger_draws_the_same_tree_as_from_the_file(stack_run: StackRun) -> None:
    kept = set(jaeger_spans(stack_run))
    workflows: dict[str, set[str]] = {}
    for span in stack_run.spans:
        correlation = span.text("messaging.message.conversation_id")
        if correlation:
            workflows.setdefault(correlation, set()).add(span.trace_id)
    # Traces linked to a workflow's spans (a JetStream fetch's own trace) belong to it.
    for span in stack_run.spans:
        for link in span.links:
            for traces in workflows.values():
                if link.trace_id in traces:
                    traces.add(span.trace_id)
    complete = [c for c, traces in workflows.items() if traces <= kept and len(traces) > 2]
    assert complete, "no workflow of the run was kept whole"
    correlation = sorted(complete)[0]
    from_file = natstrace_flow(correlation, "--file", str(stack_run.trace_file), "--format", "json")
    from_jaeger = natstrace_flow(correlation, "--jaeger", stack_run.jaeger.url, "--format", "json")
    assert json.loads(from_jaeger) == json.loads(from_file)
    tree_file = natstrace_flow(correlation, "--file", str(stack_run.trace_file))
    tree_jaeger = natstrace_flow(correlation, "--jaeger", stack_run.jaeger.url)
    assert tree_jaeger == tree_file
    assert Counter(tree_file.split()).get(correlation, 0) >= 1
