"""The slowest hops and the longest delivery latencies in a window."""

from __future__ import annotations

import heapq
from collections.abc import Iterable
from dataclasses import dataclass

from natstrace.flow.index import SpanIndex
from natstrace.flow.model import Span
from natstrace.flow.window import TimeWindow

__all__ = ["SlowHop", "SlowReport", "find_slow"]


@dataclass(frozen=True, slots=True)
class SlowHop:
    """One delivery: the process span, and the send it came from when known."""

    consumer: Span
    producer: Span | None

    @property
    def delivery_latency_ns(self) -> int | None:
        """Handling start minus publish start; ``None`` without a known producer."""
        if self.producer is None:
            return None
        return self.consumer.start_ns - self.producer.start_ns


@dataclass(slots=True)
class SlowReport:
    """The top hops by handling time and by delivery latency."""

    slowest: list[SlowHop]
    longest_latency: list[SlowHop]
    hops_checked: int


def find_slow(
    spans: Iterable[Span], window: TimeWindow | None = None, *, limit: int = 10
) -> SlowReport:
    """The ``limit`` slowest process spans and the ``limit`` longest delivery
    latencies among hops that started in ``window``."""
    index = SpanIndex(spans)
    window = window or TimeWindow()
    hops: list[SlowHop] = []
    for span in index.spans:
        if span.is_process and window.contains(span.start_ns):
            producer = index.producer_of(span)
            hops.append(SlowHop(span, producer[0] if producer else None))
    slowest = heapq.nlargest(limit, hops, key=lambda hop: hop.consumer.duration_ns)
    with_latency = [hop for hop in hops if hop.producer is not None]
    longest = heapq.nlargest(limit, with_latency, key=lambda hop: hop.delivery_latency_ns or 0)
    return SlowReport(slowest, longest, len(hops))
