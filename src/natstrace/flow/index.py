"""Who produced what: the producer/consumer relations between spans.

A ``process`` span refers to the ``send`` that produced its message in one of
three ways, tried in this order: it is the send's child (consumer policy
``parent``), it links to the send (policy ``link``, redeliveries, batches), or it
carries the same ``messaging.message.id`` (the ``Nats-Msg-Id`` header survives
even when trace context was lost). Every tool asks the index, so all of them
agree on what a hop is.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Literal

from natstrace.flow.bulk import paused_gc
from natstrace.flow.model import Span

__all__ = ["Relation", "SpanIndex", "SpanKey", "span_key"]

SpanKey = tuple[str, str]
"""(trace ID, span ID)."""

Relation = Literal["parent", "link", "message"]
"""How a consumer span was matched to its producer."""


def span_key(span: Span) -> SpanKey:
    """The span's identity."""
    return (span.trace_id, span.span_id)


class SpanIndex:
    """Lookups over a fixed set of spans, built once in O(spans)."""

    def __init__(self, spans: Iterable[Span]) -> None:
        with paused_gc():
            self._build(spans)

    def _build(self, spans: Iterable[Span]) -> None:
        self.spans: list[Span] = list(spans)
        self.by_key: dict[SpanKey, Span] = {}
        self.by_trace: dict[str, list[Span]] = defaultdict(list)
        self.linked_from: dict[SpanKey, list[Span]] = defaultdict(list)
        sends_by_message: dict[str, list[Span]] = defaultdict(list)
        for span in self.spans:
            self.by_key[span_key(span)] = span
            self.by_trace[span.trace_id].append(span)
            for link in span.links:
                self.linked_from[(link.trace_id, link.span_id)].append(span)
            if span.is_send:
                message_id = span.message_id
                if message_id is not None:
                    sends_by_message[message_id].append(span)
        self.producer: dict[SpanKey, tuple[Span, Relation]] = {}
        self.consumers: dict[SpanKey, list[Span]] = defaultdict(list)
        for span in self.spans:
            if span.is_process:
                found = self._find_producer(span, sends_by_message)
                if found is not None:
                    self.producer[span_key(span)] = found
                    self.consumers[span_key(found[0])].append(span)

    def _find_producer(
        self, span: Span, sends_by_message: dict[str, list[Span]]
    ) -> tuple[Span, Relation] | None:
        if span.parent_span_id is not None:
            parent = self.by_key.get((span.trace_id, span.parent_span_id))
            if parent is not None and parent.is_send:
                return parent, "parent"
        for link in span.links:
            target = self.by_key.get((link.trace_id, link.span_id))
            if target is not None and target.is_send:
                return target, "link"
        message_id = span.message_id
        if message_id is not None:
            candidates = sends_by_message.get(message_id)
            if candidates:
                # A republished ID (a retrying producer) has several sends: take the
                # latest that started before this delivery.
                earlier = [c for c in candidates if c.start_ns <= span.start_ns]
                chosen = max(earlier or candidates, key=lambda c: c.start_ns)
                return chosen, "message"
        return None

    def producer_of(self, span: Span) -> tuple[Span, Relation] | None:
        """The send that produced the message ``span`` processed, and how it was found."""
        return self.producer.get(span_key(span))

    def consumers_of(self, span: Span) -> list[Span]:
        """Every process span (every delivery) of the message ``span`` sent."""
        return self.consumers.get(span_key(span), [])
