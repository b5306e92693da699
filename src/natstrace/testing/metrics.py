"""Metric assertions: "this metric changed by N for these labels".

Works on any ``prometheus_client`` registry. Take a snapshot, run the code,
compare::

    before = MetricsSnapshot(registry)
    await nc.publish("orders.created", b"{}")
    assert_metric_changed(registry, "messaging_client_sent_messages_total", by=1,
                          since=before, messaging_destination_name="orders.created")

Names are sample names as exposed (``..._total`` for counters, ``..._count``,
``..._sum`` or ``..._bucket`` for histograms). Labels not given match anything;
the values of all matching samples are added up.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry

from natstrace.metrics.instruments import NatstraceMetrics

__all__ = ["MetricsCapture", "MetricsSnapshot", "assert_metric_changed"]

_Key = tuple[str, tuple[tuple[str, str], ...]]


def _read(registry: CollectorRegistry) -> dict[_Key, float]:
    values: dict[_Key, float] = {}
    for family in registry.collect():
        for sample in family.samples:
            values[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return values


def _matches(labels: tuple[tuple[str, str], ...], wanted: Mapping[str, str]) -> bool:
    present = dict(labels)
    return all(present.get(name) == value for name, value in wanted.items())


def _format(name: str, labels: Mapping[str, str]) -> str:
    inner = ",".join(f'{key}="{value}"' for key, value in labels.items())
    return f"{name}{{{inner}}}"


@dataclass(frozen=True)
class MetricsSnapshot:
    """The values of every sample in ``registry`` at one moment.

    Example::

        before = MetricsSnapshot(registry)
    """

    registry: CollectorRegistry
    values: dict[_Key, float] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "values", _read(self.registry))

    def value(self, name: str, **labels: str) -> float:
        """The sum of the samples called ``name`` whose labels include ``labels``."""
        return sum(
            value
            for (sample, found), value in self.values.items()
            if sample == name and _matches(found, labels)
        )


def assert_metric_changed(
    registry: CollectorRegistry | NatstraceMetrics,
    name: str,
    *,
    by: float,
    since: MetricsSnapshot | None = None,
    **labels: str,
) -> None:
    """Assert that sample ``name``, for ``labels``, changed by ``by`` since ``since``
    (default: since zero, right for a fresh registry).

    Example::

        assert_metric_changed(registry, "messaging_process_duration_seconds_count",
                              by=2, since=before, messaging_destination_name="orders.*")
    """
    if isinstance(registry, NatstraceMetrics):
        registry = registry.registry
    now = MetricsSnapshot(registry)
    before = since.value(name, **labels) if since is not None else 0.0
    after = now.value(name, **labels)
    if after - before == by:
        return
    lines = [
        f"{_format(name, labels)} changed by {after - before:g} "
        f"(from {before:g} to {after:g}), expected {by:g}"
    ]
    samples = sorted((found, v) for (n, found), v in now.values.items() if n == name)
    if not samples:
        family = name.split("_")[0]
        similar = sorted({n for n, _ in now.values if n.startswith(family)})
        lines.append(f"no sample is called {name!r}; similar: {', '.join(similar) or 'none'}")
    else:
        lines.append(f"samples of {name} now:")
        for label_items, value in samples:
            was = since.values.get((name, label_items), 0.0) if since is not None else 0.0
            mark = "" if _matches(label_items, labels) else "   (labels differ)"
            lines.append(f"  {_format(name, dict(label_items))} {value:g} (was {was:g}){mark}")
    raise AssertionError("\n".join(lines))


class MetricsCapture:
    """A fresh registry with natstrace's instruments, for one test.

    Pass :attr:`metrics` to :func:`natstrace.instrument`; assert with
    :meth:`assert_changed`.

    Example::

        nc = natstrace.instrument(raw, metrics=natstrace_metrics.metrics)
        ...
        natstrace_metrics.assert_changed("messaging_client_sent_messages_total", by=1)
    """

    def __init__(self, service_name: str = "test") -> None:
        self.registry = CollectorRegistry()
        self.metrics = NatstraceMetrics(self.registry, service_name=service_name)

    def snapshot(self) -> MetricsSnapshot:
        """The values now, to pass as ``since``."""
        return MetricsSnapshot(self.registry)

    def value(self, name: str, **labels: str) -> float:
        """The current sum of the samples called ``name`` with ``labels``."""
        return MetricsSnapshot(self.registry).value(name, **labels)

    def assert_changed(
        self, name: str, *, by: float, since: MetricsSnapshot | None = None, **labels: str
    ) -> None:
        """:func:`assert_metric_changed` on this registry."""
        assert_metric_changed(self.registry, name, by=by, since=since, **labels)
