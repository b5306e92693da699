"""SpanStarter: a span started on the fast path is the span ``start_span`` makes,
and the fast path is taken whenever that holds, and only then."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.attributes import _clean_attribute_value
from opentelemetry.context import Context
from opentelemetry.sdk.environment_variables import OTEL_PYTHON_SDK_INTERNAL_METRICS_ENABLED
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import (
    ConcurrentMultiSpanProcessor,
    ReadableSpan,
    Span,
    SpanLimits,
    SpanProcessor,
    TracerProvider,
    _TracerConfig,
)
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.id_generator import IdGenerator
from opentelemetry.sdk.trace.sampling import (
    ALWAYS_OFF,
    ALWAYS_ON,
    Decision,
    ParentBased,
    Sampler,
    SamplingResult,
    TraceIdRatioBased,
)
from opentelemetry.trace import Link, SpanContext, SpanKind, TraceFlags, TraceState

from natstrace.tracing.processor_slot import SpanProcessorSlot
from natstrace.tracing.sdk_span import SpanStarter, fill_attributes
from natstrace.tracing.setup import BoundedBatchSpanProcessor
from tests.support.samplers import SeeingSampler

ATTRIBUTES: dict[str, object] = {
    "messaging.system": "nats",
    "messaging.operation.name": "process",
    "messaging.operation.type": "process",
    "messaging.destination.template": "orders.{id}",
    "messaging.consumer.group.name": "workers",
    "server.address": "127.0.0.1",
    "server.port": 4222,
    "messaging.destination.name": "orders.42",
    "messaging.message.body.size": 256,
    "messaging.message.id": "8zW2fMSmDwYB2v0wTbYuxh",
    "natstrace.jetstream.sync": True,
    "natstrace.jetstream.nak_delay": 0.5,
}
PARENT = SpanContext(
    0x0AF7651916CD43DD8448EB211C80319C,
    0xB7AD6B7169203331,
    is_remote=True,
    trace_flags=TraceFlags(TraceFlags.SAMPLED),
    trace_state=TraceState([("vendor", "v")]),
)
PRODUCER = SpanContext(0x1234, 0x5678, is_remote=True, trace_flags=TraceFlags(1))


class _SeeingRatio(TraceIdRatioBased):
    """A standard sampler's subclass that overrides the decision (and could read attributes)."""

    def __init__(self) -> None:
        super().__init__(1.0)
        self.seen: list[dict[str, Any]] = []

    def should_sample(self, *args: Any, **kwargs: Any) -> SamplingResult:
        self.seen.append(dict(args[4] or {}))
        return super().should_sample(*args, **kwargs)


class _Watching(SpanProcessor):
    """Notes the attributes a span has when it starts, and adds one of its own."""

    def __init__(self) -> None:
        self.seen: list[dict[str, Any]] = []

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        self.seen.append(dict(span.attributes or {}))
        span.set_attribute("watched", True)


def _provider(
    sampler: Sampler | None = None,
    limits: SpanLimits | None = None,
    wrap: Callable[[SpanProcessor], SpanProcessor] = lambda p: p,
    **options: Any,
) -> tuple[TracerProvider, InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider(
        sampler=sampler, span_limits=limits, shutdown_on_exit=False, **options
    )
    provider.add_span_processor(wrap(SimpleSpanProcessor(exporter)))
    return provider, exporter


def _start(starter: SpanStarter, stock: bool, attributes: dict[str, object]) -> None:
    context = trace.set_span_in_context(trace.NonRecordingSpan(PARENT))
    options: dict[str, Any] = {
        "context": context,
        "kind": SpanKind.CONSUMER,
        "links": [Link(PRODUCER)],
        "start_time": 1_000,
    }
    if stock:
        span = starter.tracer.start_span("process orders.{id}", attributes=attributes, **options)
    else:
        span = starter.start("process orders.{id}", attributes, **options)
    span.end(end_time=2_000)


def _shape(span: ReadableSpan) -> tuple[object, ...]:
    # Everything but the span's own id (a fresh random one each time).
    return (
        span.name,
        span.kind,
        span.parent,
        span.context.trace_id,  # type: ignore[union-attr]
        span.context.trace_flags,  # type: ignore[union-attr]
        span.context.trace_state,  # type: ignore[union-attr]
        list(span.attributes.items()),  # type: ignore[union-attr]
        span.dropped_attributes,
        [(link.context, dict(link.attributes or {})) for link in span.links],
        span.start_time,
        span.end_time,
        span.status.status_code,
        span.resource,
        span.instrumentation_scope,
    )


def _both(
    starter: SpanStarter, exporter: InMemorySpanExporter, attributes: dict[str, object]
) -> tuple[tuple[object, ...], tuple[object, ...]]:
    """The span the fast path made and the one start_span made, from the same input."""
    exporter.clear()
    _start(starter, False, dict(attributes))
    _start(starter, True, dict(attributes))
    fast, stock = exporter.get_finished_spans()
    return _shape(fast), _shape(stock)


@contextmanager
def _cleaning_calls() -> Iterator[list[int]]:
    """Counts the calls to the SDK's attribute value check made meanwhile."""
    calls: list[int] = []
    watched = _clean_attribute_value.__code__

    def profile(frame: FrameType, event: str, arg: object) -> None:
        if event == "call" and frame.f_code is watched:
            calls.append(1)

    sys.setprofile(profile)
    try:
        yield calls
    finally:
        sys.setprofile(None)


FAST_SETUPS: dict[str, Callable[[], tuple[TracerProvider, InMemorySpanExporter]]] = {
    "default": lambda: _provider(),
    "always_on": lambda: _provider(ALWAYS_ON),
    "parentbased_ratio": lambda: _provider(ParentBased(TraceIdRatioBased(1.0))),
    "natstrace_configure": lambda: _provider(
        wrap=lambda p: SpanProcessorSlot(BoundedBatchSpanProcessor(InMemorySpanExporter()))
    ),
    "concurrent_processors": lambda: _provider(
        active_span_processor=ConcurrentMultiSpanProcessor(2)
    ),
}


@pytest.mark.parametrize("setup", FAST_SETUPS.values(), ids=FAST_SETUPS.keys())
def test_standard_setups_start_spans_on_the_fast_path_without_the_sdk_checks(
    setup: Callable[[], tuple[TracerProvider, InMemorySpanExporter]],
) -> None:
    provider, _ = setup()
    starter = SpanStarter(provider.get_tracer("t"))
    assert starter.fast()
    with _cleaning_calls() as fast:
        span = starter.start("s", dict(ATTRIBUTES), kind=SpanKind.PRODUCER)
    assert not fast
    assert list(span.attributes.items()) == list(ATTRIBUTES.items())  # type: ignore[attr-defined]
    with _cleaning_calls() as stock:
        starter.tracer.start_span("s", attributes=dict(ATTRIBUTES))
    assert stock  # the check the fast path leaves out, in case the SDK drops it itself
    provider.shutdown()


def test_a_fast_span_equals_the_stock_span() -> None:
    provider, exporter = _provider()
    starter = SpanStarter(provider.get_tracer("t"))
    assert starter.fast()
    fast, stock = _both(starter, exporter, ATTRIBUTES)
    assert fast == stock


def test_a_custom_sampler_sees_the_attributes_at_start() -> None:
    for sampler in (SeeingSampler(Decision.RECORD_AND_SAMPLE), _SeeingRatio()):
        provider, exporter = _provider(sampler)
        starter = SpanStarter(provider.get_tracer("t"))
        assert not starter.fast()
        fast, stock = _both(starter, exporter, ATTRIBUTES)
        assert fast == stock
        assert sampler.seen == [ATTRIBUTES, ATTRIBUTES]
        # Anywhere in a parent-based sampler, too.
        for delegates in ((sampler,), (ALWAYS_ON, ALWAYS_ON, sampler)):
            provider, _ = _provider(ParentBased(*delegates))
            assert not SpanStarter(provider.get_tracer("t")).fast()


def test_a_processor_reading_the_span_at_start_sees_its_attributes() -> None:
    watching = _Watching()
    for wrap in (lambda p: watching, lambda p: SpanProcessorSlot(watching)):
        provider, exporter = _provider()
        provider.add_span_processor(wrap(watching))
        starter = SpanStarter(provider.get_tracer("t"))
        assert not starter.fast()
        fast, stock = _both(starter, exporter, ATTRIBUTES)
        assert fast == stock
        assert watching.seen[-2:] == [ATTRIBUTES, ATTRIBUTES]
        assert fast[6][-1] == ("watched", True)


@pytest.mark.parametrize(
    ("limits", "dropped"),
    [
        (SpanLimits(max_span_attribute_length=4), 0),
        (SpanLimits(max_span_attributes=len(ATTRIBUTES) - 1), 1),
        (SpanLimits(max_span_attributes=5, max_span_attribute_length=4), len(ATTRIBUTES) - 5),
    ],
    ids=["value_length", "count", "both"],
)
def test_span_limits_truncate_and_drop_as_on_the_stock_path(
    limits: SpanLimits, dropped: int
) -> None:
    provider, exporter = _provider(limits=limits)
    fast, stock = _both(SpanStarter(provider.get_tracer("t")), exporter, ATTRIBUTES)
    assert fast == stock
    assert fast[7] == dropped
    if limits.max_span_attribute_length is not None:
        values = [v for _, v in fast[6] if isinstance(v, str)]  # type: ignore[attr-defined]
        assert "orde" in values
        assert all(len(v) <= 4 for v in values)


@pytest.mark.parametrize(
    "odd",
    [{"list": ["a", "b"]}, {"subject": type("Subject", (str,), {})("x")}, {"": "no key"}],
    ids=["list", "str_subclass", "empty_key"],
)
def test_values_and_keys_the_sdk_would_change_are_changed(odd: dict[str, object]) -> None:
    provider, exporter = _provider()
    fast, stock = _both(SpanStarter(provider.get_tracer("t")), exporter, {**ATTRIBUTES, **odd})
    assert fast == stock
    assert ("list", ("a", "b")) in fast[6] or "list" not in odd  # type: ignore[operator]
    assert ("", "no key") not in fast[6]  # type: ignore[operator]


def test_a_change_of_processors_or_sampler_is_noticed_at_the_next_span() -> None:
    provider, _ = _provider(
        wrap=lambda p: SpanProcessorSlot(BoundedBatchSpanProcessor(InMemorySpanExporter()))
    )
    provider.add_span_processor(slot := SpanProcessorSlot(None))
    tracer = provider.get_tracer("t")
    starter = SpanStarter(tracer)
    assert starter.fast()
    watching = _Watching()
    slot.replace(watching)
    assert not starter.fast()
    slot.replace(None)
    assert starter.fast()
    provider.add_span_processor(watching)
    assert not starter.fast()
    provider, _ = _provider()
    starter = SpanStarter(provider.get_tracer("t"))
    seeing = SeeingSampler(Decision.RECORD_AND_SAMPLE)
    starter.tracer.sampler = seeing  # type: ignore[attr-defined]
    _start(starter, False, dict(ATTRIBUTES))
    assert seeing.seen == [ATTRIBUTES]


def test_tracers_other_than_the_sdks_start_spans_the_stock_way() -> None:
    starter = SpanStarter(trace.NoOpTracer())
    assert not starter.fast()
    assert not starter.start("s", dict(ATTRIBUTES)).is_recording()


def test_unsampled_spans_are_left_alone() -> None:
    provider, exporter = _provider(TraceIdRatioBased(0.0))
    starter = SpanStarter(provider.get_tracer("t"))
    assert starter.fast()
    span = starter.start("s", dict(ATTRIBUTES))
    assert not span.is_recording()
    span.end()
    assert not exporter.get_finished_spans()


def test_missing_sdk_privates_fall_back_to_the_stock_way() -> None:
    provider, _ = _provider()
    tracer = provider.get_tracer("t")
    # As if the SDK renamed the processors' tuple: no fast path.
    multi = tracer.span_processor  # type: ignore[attr-defined]
    processors = multi._span_processors
    del multi._span_processors
    try:
        assert not SpanStarter(tracer).fast()
    finally:
        multi._span_processors = processors
    # As if it stored a span's attributes another way: the SDK's own checks fill them.
    provider, _ = _provider()
    span = provider.get_tracer("t").start_span("s")
    span._attributes = dict()  # type: ignore[attr-defined]
    assert not fill_attributes(span, ATTRIBUTES)
    assert not fill_attributes(trace.NonRecordingSpan(PARENT), ATTRIBUTES)


class _CountingIds(IdGenerator):
    """IDs from a counter, so that two providers hand out the same ones in the same order."""

    def __init__(self, random: bool = True) -> None:
        self._next = 0
        self._random = random

    def generate_span_id(self) -> int:
        self._next += 1
        return self._next

    def generate_trace_id(self) -> int:
        self._next += 1
        return self._next << 64

    def is_trace_id_random(self) -> bool:
        return self._random


_UNSAMPLED_PARENTS = {
    "root": None,
    "remote_with_state": SpanContext(
        PARENT.trace_id, PARENT.span_id, True, TraceFlags(0), PARENT.trace_state
    ),
    "local_random_id": SpanContext(
        PARENT.trace_id, PARENT.span_id, False, TraceFlags(TraceFlags.RANDOM_TRACE_ID)
    ),
}
_DROPPING = {
    "always_off": (lambda: ALWAYS_OFF, list(_UNSAMPLED_PARENTS)),
    "parentbased_always_off": (lambda: ParentBased(ALWAYS_OFF), list(_UNSAMPLED_PARENTS)),
    "parentbased_ratio": (
        lambda: ParentBased(TraceIdRatioBased(1.0)),
        ["remote_with_state", "local_random_id"],
    ),
}
_DROPPED_CASES = [
    pytest.param(sampler, parent, random, id=f"{name}-{parent}-{'random' if random else 'plain'}")
    for name, (sampler, parents) in _DROPPING.items()
    for parent in parents
    for random in (True, False)
]


def _context_of(parent: str) -> Context | None:
    span_context = _UNSAMPLED_PARENTS[parent]
    return (
        None
        if span_context is None
        else trace.set_span_in_context(trace.NonRecordingSpan(span_context))
    )


@pytest.mark.parametrize(("sampler", "parent", "random"), _DROPPED_CASES)
def test_a_dropped_span_made_without_the_sdk_is_the_one_the_sdk_makes(
    sampler: Callable[[], Sampler], parent: str, random: bool
) -> None:
    made = []
    for stock in (False, True):
        provider, exporter = _provider(sampler(), id_generator=_CountingIds(random))
        starter = SpanStarter(provider.get_tracer("t"))
        assert starter.fast_unrecorded()
        context = _context_of(parent)
        for _ in range(2):
            if stock:
                span = starter.tracer.start_span("send orders", context, SpanKind.PRODUCER)
            else:
                span = starter.start_unrecorded(
                    "send orders", context=context, kind=SpanKind.PRODUCER
                )
            assert type(span) is trace.NonRecordingSpan
            span.end()
            made.append(span.get_span_context())
        assert not exporter.get_finished_spans()
    assert made[:2] == made[2:]
    assert all(not c.is_remote and not c.trace_flags.sampled for c in made)
    if parent == "remote_with_state":
        assert made[0].trace_state == PARENT.trace_state
    if parent == "root":
        assert made[0].trace_flags.random_trace_id is random


def test_a_dropped_span_is_left_to_the_sdk_when_it_would_do_more(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    context = _context_of("remote_with_state")
    # A tracer disabled by the provider's configurator: the SDK hands back the parent.
    provider, _ = _provider(ALWAYS_OFF)
    tracer = provider.get_tracer("t")
    tracer._set_tracer_config(_TracerConfig(is_enabled=False))  # type: ignore[attr-defined]
    starter = SpanStarter(tracer)
    assert not starter.fast_unrecorded()
    span = starter.start_unrecorded("s", context=context)
    assert span.get_span_context() == _UNSAMPLED_PARENTS["remote_with_state"]
    # The SDK's own span metrics on: the dropped span is counted there.
    monkeypatch.setenv(OTEL_PYTHON_SDK_INTERNAL_METRICS_ENABLED, "true")
    reader = InMemoryMetricReader()
    provider, _ = _provider(ALWAYS_OFF, meter_provider=MeterProvider(metric_readers=[reader]))
    starter = SpanStarter(provider.get_tracer("t"))
    assert not starter.fast_unrecorded()
    starter.start_unrecorded("s", context=context)
    data = reader.get_metrics_data()
    started = [
        point.value
        for resource in data.resource_metrics  # type: ignore[union-attr]
        for scope in resource.scope_metrics
        for metric in scope.metrics
        if metric.name == "otel.sdk.span.started"
        for point in metric.data.data_points
    ]
    assert started == [1]
    # A custom sampler (given, or put in since), or a tracer that is not the SDK's.
    provider, _ = _provider(SeeingSampler(Decision.DROP))
    assert not SpanStarter(provider.get_tracer("t")).fast_unrecorded()
    monkeypatch.delenv(OTEL_PYTHON_SDK_INTERNAL_METRICS_ENABLED)
    provider, _ = _provider(ALWAYS_OFF)
    starter = SpanStarter(provider.get_tracer("t"))
    assert starter.fast_unrecorded()
    seeing = SeeingSampler(Decision.DROP)
    starter.tracer.sampler = seeing  # type: ignore[attr-defined]
    starter.start_unrecorded("s", context)
    assert seeing.seen == [{}]
    starter = SpanStarter(trace.NoOpTracer())
    assert not starter.fast_unrecorded()
    assert not starter.start_unrecorded("s").is_recording()


def test_a_dropped_span_made_without_the_sdk_asks_no_sampler() -> None:
    sampler = ParentBased(ALWAYS_OFF)
    provider, _ = _provider(sampler)
    starter = SpanStarter(provider.get_tracer("t"))
    asked: list[int] = []
    decide = sampler.should_sample

    def should_sample(*args: Any, **kwargs: Any) -> SamplingResult:
        asked.append(1)
        return decide(*args, **kwargs)

    sampler.should_sample = should_sample  # type: ignore[method-assign]
    starter.start_unrecorded("s", context=_context_of("remote_with_state"))
    assert not asked
    starter.tracer.start_span("s", _context_of("remote_with_state"))
    assert asked == [1]
