"""The service graph: service -[subject template]-> service, with numbers per edge.

Each send in the window counts once on every edge to a service that processed
it; a send nobody processed counts on an edge to no one (``consumer=None``), and
a delivery whose send was never traced counts on an edge from ``producer=None``.
Errors and latencies are per delivery, so redeliveries show up as errors.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from natstrace.flow import attributes as attr
from natstrace.flow.index import SpanIndex
from natstrace.flow.model import Span
from natstrace.flow.window import TimeWindow

__all__ = ["Edge", "Topology", "build_topology", "percentile"]


def percentile(values: Sequence[int], fraction: float) -> int | None:
    """The nearest-rank percentile of ``values`` (``None`` when empty)."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(fraction * len(ordered) + 0.5) - 1))
    return ordered[rank]


@dataclass(slots=True)
class Edge:
    """Traffic from one service to another on one subject template."""

    producer: str | None
    template: str
    consumer: str | None
    messages: int = 0
    deliveries: int = 0
    errors: int = 0
    latencies_ns: list[int] = field(default_factory=list)
    durations_ns: list[int] = field(default_factory=list)

    @property
    def error_ratio(self) -> float:
        """Failed deliveries over deliveries (0 with no deliveries)."""
        return self.errors / self.deliveries if self.deliveries else 0.0

    def rate(self, seconds: float) -> float:
        """Messages per second over ``seconds``."""
        return self.messages / seconds if seconds > 0 else 0.0


@dataclass(slots=True)
class Topology:
    """The edges, and the length of time they were counted over."""

    edges: list[Edge]
    seconds: float

    @property
    def services(self) -> list[str]:
        """Every service on an edge, sorted."""
        names = {e.producer for e in self.edges} | {e.consumer for e in self.edges}
        return sorted(name for name in names if name is not None)


def build_topology(
    spans: Iterable[Span],
    window: TimeWindow | None = None,
    *,
    ignore_prefixes: Sequence[str] = attr.IGNORED_TEMPLATE_PREFIXES,
) -> Topology:
    """Count the edges of the sends and deliveries that started in ``window``."""
    index = SpanIndex(spans)
    window = window or TimeWindow()
    edges: dict[tuple[str | None, str, str | None], Edge] = {}

    def edge(producer: str | None, template: str, consumer: str | None) -> Edge:
        found = edges.get((producer, template, consumer))
        if found is None:
            found = edges[(producer, template, consumer)] = Edge(producer, template, consumer)
        return found

    starts: list[int] = []
    ends: list[int] = []
    for span in index.spans:
        if not window.contains(span.start_ns):
            continue
        if span.is_send and not span.template.startswith(tuple(ignore_prefixes)):
            starts.append(span.start_ns)
            ends.append(span.end_ns)
            consumers = index.consumers_of(span)
            if not consumers:
                edge(span.service, span.template, None).messages += 1
            by_service: dict[str, list[Span]] = {}
            for consumer in consumers:
                by_service.setdefault(consumer.service, []).append(consumer)
            for service, deliveries in by_service.items():
                target = edge(span.service, span.template, service)
                target.messages += 1
                for delivery in deliveries:
                    target.deliveries += 1
                    target.errors += delivery.failed
                    target.latencies_ns.append(delivery.start_ns - span.start_ns)
                    target.durations_ns.append(delivery.duration_ns)
        elif span.is_process and index.producer_of(span) is None:
            starts.append(span.start_ns)
            ends.append(span.end_ns)
            target = edge(None, span.template, span.service)
            target.messages += 1
            target.deliveries += 1
            target.errors += span.failed
            target.durations_ns.append(span.duration_ns)
    if window.bounded:
        assert window.start_ns is not None and window.end_ns is not None
        seconds = (window.end_ns - window.start_ns) / 1e9
    else:
        seconds = (max(ends) - min(starts)) / 1e9 if starts else 0.0
    ordered = sorted(edges.values(), key=lambda e: (e.producer or "", e.template, e.consumer or ""))
    # A one-message window would claim an absurd rate; a millisecond is the floor.
    return Topology(ordered, max(seconds, 0.001))
