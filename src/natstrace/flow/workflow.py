"""Select one workflow's spans: every trace reachable from its correlation ID.

A workflow usually spans several traces: consumers on the ``link`` policy,
redeliveries and batch receives start new traces that only link back. Starting
from the traces that mention the correlation ID, traces are added while a link
(either direction) or a producer/consumer relation reaches them. Spans that carry
a *different* correlation ID are then dropped, so a batch trace shared by many
workflows does not drag the others in.
"""

from __future__ import annotations

from collections.abc import Iterable

from natstrace.flow.errors import NoSpansError
from natstrace.flow.index import SpanIndex, span_key
from natstrace.flow.model import Span
from natstrace.flow.tree import Flow, build_flow

__all__ = ["MAX_TRACES", "reconstruct_flow", "select_workflow"]

MAX_TRACES = 10_000
"""A bound on the traces one workflow may pull in, so a link storm cannot run away."""


def _neighbour_traces(index: SpanIndex, span: Span) -> set[str]:
    found = {link.trace_id for link in span.links}
    found.update(other.trace_id for other in index.linked_from.get(span_key(span), ()))
    producer = index.producer_of(span)
    if producer is not None:
        found.add(producer[0].trace_id)
    found.update(consumer.trace_id for consumer in index.consumers_of(span))
    return found


def select_workflow(index: SpanIndex, correlation_id: str) -> list[Span]:
    """The spans of the workflow ``correlation_id``, in start order.

    Raises:
        NoSpansError: no span carries the correlation ID.
    """
    seeds = {span.trace_id for span in index.spans if span.conversation_id == correlation_id}
    if not seeds:
        raise NoSpansError(f"no spans with correlation ID {correlation_id!r}")
    traces = set(seeds)
    pending = list(seeds)
    while pending and len(traces) < MAX_TRACES:
        trace_id = pending.pop()
        for span in index.by_trace.get(trace_id, ()):
            if span.conversation_id not in (None, correlation_id):
                continue
            for neighbour in _neighbour_traces(index, span):
                if neighbour not in traces and neighbour in index.by_trace:
                    traces.add(neighbour)
                    pending.append(neighbour)
    spans = [
        span
        for trace_id in traces
        for span in index.by_trace[trace_id]
        if span.conversation_id in (None, correlation_id)
    ]
    spans.sort(key=lambda span: span.start_ns)
    return spans


def reconstruct_flow(spans: Iterable[Span], correlation_id: str) -> Flow:
    """The causal tree of workflow ``correlation_id`` from any collection of spans.

    Raises:
        NoSpansError: no span carries the correlation ID.
    """
    index = SpanIndex(spans)
    return build_flow(index, correlation_id, select_workflow(index, correlation_id))
