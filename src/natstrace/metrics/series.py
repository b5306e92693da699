"""Counters, histograms and gauges for the per-message path, exposed as a Collector.

prometheus-client's metric objects take a lock, check the labels and validate
the exemplar on every call: about 5 µs for a counter plus a histogram, on every
message, twice. These families keep one small object per label combination
(the combinations are bounded), do the arithmetic under that object's lock, and
build exemplars only when a scrape asks. The exposition is prometheus-client's
own, so a registry, its HTTP server and ``get_sample_value`` see no difference.
"""

from __future__ import annotations

import threading
from bisect import bisect_left
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from time import time
from typing import Any, Generic, TypeVar

from opentelemetry.trace import Span
from prometheus_client.metrics_core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector
from prometheus_client.samples import Exemplar
from prometheus_client.utils import floatToGoString

from natstrace.metrics.exemplars import HOLD_SECONDS, mark_exemplar_trace

__all__ = [
    "CounterFamily",
    "FamilyCollector",
    "GaugeFamily",
    "HistogramCountFamily",
    "HistogramFamily",
    "InFlight",
]

_TraceExemplar = tuple[int, float, float]
"""(trace ID, observed value, unix time): turned into an Exemplar at scrape time,
so the hex formatting of the ID costs nothing on the per-message path. Trace ID 0:
no exemplar, the last attempt failed at that time."""

_RETRY_SECONDS = 1.0
"""After a trace that could not be marked, seconds before the next attempt: a series
of unmarkable traces (publishes outside any handler) then costs one look at the
current span per second, not one per message."""


def _exemplar(stored: _TraceExemplar | None) -> Exemplar | None:
    if stored is None or not stored[0]:
        return None
    trace_id, value, timestamp = stored
    return Exemplar({"trace_id": f"{trace_id:032x}"}, value, timestamp)


def _next_exemplar(
    stored: _TraceExemplar | None, trace_id: int, value: float, span: Span | None = None
) -> _TraceExemplar | None:
    """The exemplar to store after observing ``value`` in trace ``trace_id``, or None
    to keep ``stored`` (younger than the hold period, see .exemplars). A trace that
    cannot be marked for the collector to keep gives no exemplar. ``span``: the span
    to mark (default: the current one)."""
    now = time()
    if stored is not None and now - stored[2] < (HOLD_SECONDS if stored[0] else _RETRY_SECONDS):
        return None
    if not mark_exemplar_trace(trace_id, span):
        return (0, 0.0, now)
    return (trace_id, value, now)


class Counter:
    """One label combination of a counter."""

    __slots__ = ("_lock", "exemplar", "value")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.value = 0.0
        self.exemplar: _TraceExemplar | None = None

    def inc(
        self, trace_id: int | None = None, amount: float = 1.0, span: Span | None = None
    ) -> None:
        """Add ``amount``; remember ``trace_id`` as the exemplar when given (marking
        ``span``, default: the current span, see :mod:`.exemplars`)."""
        with self._lock:
            self.value += amount
        if trace_id is not None:
            self.exemplar = _next_exemplar(self.exemplar, trace_id, amount, span) or self.exemplar


class Histogram:
    """One label combination of a histogram."""

    __slots__ = ("_bounds", "_lock", "counts", "exemplars", "sum")

    def __init__(self, bounds: Sequence[float]) -> None:
        self._lock = threading.Lock()
        self._bounds = bounds
        self.counts = [0] * (len(bounds) + 1)  # the last one is +Inf
        self.sum = 0.0
        self.exemplars: list[_TraceExemplar | None] = [None] * (len(bounds) + 1)

    def observe(self, value: float, trace_id: int | None = None, span: Span | None = None) -> None:
        """Count ``value`` in its bucket; remember ``trace_id`` as that bucket's exemplar
        (marking ``span``, default: the current span, see :mod:`.exemplars`)."""
        index = bisect_left(self._bounds, value)
        with self._lock:
            self.counts[index] += 1
            self.sum += value
        if trace_id is not None:
            stored = self.exemplars[index]
            self.exemplars[index] = _next_exemplar(stored, trace_id, value, span) or stored

    def snapshot(self) -> tuple[list[int], float]:
        """The bucket counts and the sum, read together."""
        with self._lock:
            return list(self.counts), self.sum


class Gauge:
    """One label combination of a gauge."""

    __slots__ = ("_lock", "value")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.value = 0.0

    def inc(self, amount: float = 1.0) -> None:
        with self._lock:
            self.value += amount

    def dec(self, amount: float = 1.0) -> None:
        with self._lock:
            self.value -= amount

    def set(self, value: float) -> None:
        self.value = value


class InFlight:
    """One label combination of a gauge that only steps up and down by one: how many
    messages are being handled.

    A deque's ``append`` and ``pop`` are atomic, so no lock is taken: twice per
    message, this costs a fifth of :class:`Gauge`'s ``inc`` and ``dec``. The deque
    holds one ``None`` per message in flight.
    """

    __slots__ = ("_held",)

    def __init__(self) -> None:
        self._held: deque[None] = deque()

    def inc(self) -> None:
        self._held.append(None)

    def dec(self) -> None:
        # Every dec follows its inc (a delivery finishes once, after it started).
        self._held.pop()

    @property
    def value(self) -> float:
        return float(len(self._held))


class _Family:
    def __init__(self, name: str, documentation: str, labelnames: Sequence[str]) -> None:
        self.name = name
        self.documentation = documentation
        self.labelnames = tuple(labelnames)


class CounterFamily(_Family):
    """A counter with labels; :meth:`labels` returns the series for one combination."""

    def __init__(self, name: str, documentation: str, labelnames: Sequence[str]) -> None:
        super().__init__(name, documentation, labelnames)
        self._series: dict[tuple[str, ...], Counter] = {}

    def labels(self, *values: str) -> Counter:
        series = self._series.get(values)
        if series is None:
            series = self._series.setdefault(values, Counter())
        return series

    def collect(self) -> Metric:
        family = CounterMetricFamily(self.name, self.documentation, labels=self.labelnames)
        for values, series in list(self._series.items()):
            family.add_metric(values, series.value, exemplar=_exemplar(series.exemplar))
        return family


class HistogramFamily(_Family):
    """A histogram with labels and fixed bucket bounds (seconds)."""

    def __init__(
        self, name: str, documentation: str, labelnames: Sequence[str], bounds: Sequence[float]
    ) -> None:
        super().__init__(name, documentation, labelnames)
        self._bounds = tuple(bounds)
        # The way prometheus-client itself writes ``le``, so the exposition matches.
        les = [floatToGoString(b) for b in self._bounds]  # type: ignore[no-untyped-call]
        self._les = [*les, "+Inf"]
        self._series: dict[tuple[str, ...], Histogram] = {}

    def labels(self, *values: str) -> Histogram:
        series = self._series.get(values)
        if series is None:
            series = self._series.setdefault(values, Histogram(self._bounds))
        return series

    def series(self) -> list[tuple[tuple[str, ...], Histogram]]:
        """Every label combination seen so far, with its series."""
        return list(self._series.items())

    def collect(self) -> Metric:
        family = HistogramMetricFamily(self.name, self.documentation, labels=self.labelnames)
        for values, series in self.series():
            counts, total = series.snapshot()
            cumulative = 0
            buckets: list[tuple[str, float] | tuple[str, float, Exemplar]] = []
            for le, count, stored in zip(self._les, counts, series.exemplars, strict=True):
                cumulative += count
                exemplar = _exemplar(stored)
                buckets.append((le, cumulative, exemplar) if exemplar else (le, cumulative))
            family.add_metric(values, buckets, total)
        return family


class HistogramCountFamily(_Family):
    """A counter that is the observation count of a histogram's series.

    Where every event is both counted and timed under the same labels (a send,
    a handled message), the count lives once, in the histogram: the per-message
    path updates one object instead of two. ``where`` picks the histogram series
    that count (by their label values); the exemplar is the newest one of the
    series' buckets.
    """

    def __init__(
        self,
        name: str,
        documentation: str,
        histogram: HistogramFamily,
        where: Callable[[tuple[str, ...]], bool] = lambda values: True,
    ) -> None:
        super().__init__(name, documentation, histogram.labelnames)
        self._histogram = histogram
        self._where = where

    def collect(self) -> Metric:
        family = CounterMetricFamily(self.name, self.documentation, labels=self.labelnames)
        for values, series in self._histogram.series():
            if self._where(values):
                counts, _ = series.snapshot()
                stored = [exemplar for exemplar in series.exemplars if exemplar and exemplar[0]]
                newest = max(stored, key=lambda exemplar: exemplar[2]) if stored else None
                # A counter's exemplar value is the increment (one event), not the duration.
                exemplar = (newest[0], 1.0, newest[2]) if newest else None
                family.add_metric(values, sum(counts), exemplar=_exemplar(exemplar))
        return family


_GaugeSeries = TypeVar("_GaugeSeries", Gauge, InFlight)


class GaugeFamily(_Family, Generic[_GaugeSeries]):
    """A gauge with labels; ``series`` makes the series of one combination
    (:class:`Gauge`, or :class:`InFlight` for a count of messages in flight)."""

    def __init__(
        self,
        name: str,
        documentation: str,
        labelnames: Sequence[str],
        series: Callable[[], _GaugeSeries],
    ) -> None:
        super().__init__(name, documentation, labelnames)
        self._new: Callable[[], _GaugeSeries] = series
        self._series: dict[tuple[str, ...], _GaugeSeries] = {}

    def labels(self, *values: str) -> _GaugeSeries:
        series = self._series.get(values)
        if series is None:
            series = self._series.setdefault(values, self._new())
        return series

    def collect(self) -> Metric:
        family = GaugeMetricFamily(self.name, self.documentation, labels=self.labelnames)
        for values, series in list(self._series.items()):
            family.add_metric(values, series.value)
        return family


class FamilyCollector(Collector):
    """Registers families with a prometheus-client registry."""

    def __init__(
        self,
        families: Sequence[
            CounterFamily | HistogramFamily | HistogramCountFamily | GaugeFamily[Any]
        ],
    ) -> None:
        self._families = tuple(families)

    def collect(self) -> Iterator[Metric]:
        for family in self._families:
            yield family.collect()

    def describe(self) -> Iterator[Metric]:
        # Lets the registry detect duplicate names at registration, like built-in metrics.
        return self.collect()
