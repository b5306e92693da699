"""Arrange one workflow's spans into a causal tree.

A span's place in the tree is its *cause*, not only its trace parent: a
``process`` span hangs under the ``send`` that produced its message (even across
traces), a span that lost its trace context hangs under the handling named by its
``natstrace.causation_id``. Settlement spans are folded into the ``process``
node they settle instead of being shown as hops of their own.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Literal

from natstrace.flow import attributes as attr
from natstrace.flow.index import SpanIndex, SpanKey, span_key
from natstrace.flow.model import Span

__all__ = ["Cause", "Flow", "FlowNode", "build_flow"]

Cause = Literal["root", "parent", "link", "message", "causation"]
"""Why a node sits under its parent: trace parent, span link, same message ID, or
the ``natstrace.causation_id`` attribute."""


@dataclass(slots=True)
class FlowNode:
    """One span in the causal tree, with what the tools show about it."""

    span: Span
    cause: Cause
    offset_ns: int
    """Start relative to the workflow's first span."""
    producer: Span | None = None
    """For a process span: the send of the message it handled."""
    delivery_latency_ns: int | None = None
    """For a process span: its start minus the producer's start (publish to handling)."""
    settlement: str | None = None
    """``ack``, ``nak``, ``term``, ... when the message was settled (JetStream)."""
    children: list[FlowNode] = field(default_factory=list)


@dataclass(slots=True)
class Flow:
    """One workflow: the roots of its causal tree and some totals."""

    correlation_id: str
    roots: list[FlowNode]
    spans: list[Span]
    start_ns: int
    end_ns: int

    @property
    def trace_ids(self) -> list[str]:
        """The traces the workflow spans, in order of first appearance."""
        return list(dict.fromkeys(span.trace_id for span in self.spans))

    @property
    def services(self) -> list[str]:
        """The services the workflow touched, in order of first appearance."""
        return list(dict.fromkeys(span.service for span in self.spans))

    @property
    def errors(self) -> int:
        """How many spans failed."""
        return sum(1 for span in self.spans if span.failed)

    def walk(self) -> Iterator[tuple[int, FlowNode]]:
        """Every node depth-first, in display order, with its depth."""
        stack = [(0, node) for node in reversed(self.roots)]
        while stack:
            depth, node = stack.pop()
            yield depth, node
            stack.extend((depth + 1, child) for child in reversed(node.children))


def _is_settle(span: Span) -> bool:
    return span.operation_type == attr.SETTLE_OPERATION_TYPE


def _settlement_of(span: Span, settles: list[Span]) -> str | None:
    # The last outcome wins: a message nak'ed and then acked was acked.
    outcomes: list[tuple[int, str]] = []
    for settle in settles:
        name = settle.text(attr.SETTLEMENT) or settle.name.partition(" ")[0]
        outcomes.append((settle.start_ns, name))
    for event in span.events:
        if event.name in attr.SETTLEMENT_NAMES:
            outcomes.append((event.time_ns, event.name))
    return max(outcomes)[1] if outcomes else None


def _cause_of(
    span: Span, index: SpanIndex, members: dict[SpanKey, Span], handled: dict[str, Span]
) -> tuple[Span, Cause] | None:
    if span.is_process:
        producer = index.producer_of(span)
        if producer is not None and span_key(producer[0]) in members:
            return producer[0], producer[1]
    if span.is_receive:
        # A fetch belongs under the first of this workflow's messages it returned.
        for link in span.links:
            fetched = members.get((link.trace_id, link.span_id))
            if fetched is not None:
                return fetched, "link"
    if span.parent_span_id is not None:
        parent = members.get((span.trace_id, span.parent_span_id))
        if parent is not None:
            return parent, "parent"
    causation = span.causation_id
    if causation is not None:
        handler = handled.get(causation)
        if handler is not None and handler is not span:
            return handler, "causation"
    return None


def _creates_cycle(child: SpanKey, parent: SpanKey, parents: dict[SpanKey, SpanKey]) -> bool:
    seen = {child}
    current: SpanKey | None = parent
    while current is not None:
        if current in seen:
            return True
        seen.add(current)
        current = parents.get(current)
    return False


def build_flow(index: SpanIndex, correlation_id: str, spans: list[Span]) -> Flow:
    """The causal tree of the workflow ``correlation_id`` made of ``spans``
    (from :func:`~natstrace.flow.workflow.select_workflow`); ``index`` covers them."""
    members = {span_key(span): span for span in spans}
    # Which span handled message M: the first process span with that message ID.
    handled: dict[str, Span] = {}
    for span in spans:
        message_id = span.message_id
        if span.is_process and message_id is not None:
            handled.setdefault(message_id, span)
    # A pull fetch starts waiting before the message it returns exists: the
    # workflow's clock starts at its first span that is not such a wait, and a
    # fetch that began earlier shows a negative offset.
    start = min(
        (span.start_ns for span in spans if not span.is_receive),
        default=min(span.start_ns for span in spans),
    )
    end = max(span.end_ns for span in spans)
    nodes: dict[SpanKey, FlowNode] = {}
    parents: dict[SpanKey, SpanKey] = {}
    settles: dict[SpanKey, list[Span]] = {}
    for span in spans:
        found = _cause_of(span, index, members, handled)
        if _is_settle(span) and found is not None:
            settles.setdefault(span_key(found[0]), []).append(span)
            continue
        node = FlowNode(span, "root", span.start_ns - start)
        if found is not None and not _creates_cycle(span_key(span), span_key(found[0]), parents):
            parents[span_key(span)] = span_key(found[0])
            node.cause = found[1]
            if span.is_process and found[0].is_send:
                node.producer = found[0]
                node.delivery_latency_ns = span.start_ns - found[0].start_ns
        nodes[span_key(span)] = node
    roots: list[FlowNode] = []
    for span_id, node in nodes.items():
        node.settlement = _settlement_of(node.span, settles.get(span_id, []))
        parent = nodes.get(parents.get(span_id, ("", "")))
        (parent.children if parent is not None else roots).append(node)
    # Spans arrive in start order, so children are already in start order.
    return Flow(correlation_id, roots, spans, start, end)
