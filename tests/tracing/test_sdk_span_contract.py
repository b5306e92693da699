"""What natstrace.tracing.sdk_span relies on in the installed opentelemetry-sdk.

Each test pins one private part, or one behaviour of a public part, the fast span
start depends on. A failure here means the SDK changed under natstrace: the fast
path must be re-checked against the new version before the test is adjusted.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import NoReturn

import pytest
from opentelemetry.attributes import BoundedAttributes
from opentelemetry.sdk.trace import (
    SpanLimits,
    SpanProcessor,
    SynchronousMultiSpanProcessor,
    Tracer,
    TracerProvider,
)
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import (
    ALWAYS_OFF,
    ALWAYS_ON,
    DEFAULT_ON,
    ParentBased,
    Sampler,
    TraceIdRatioBased,
)
from opentelemetry.trace import SpanKind

from natstrace.tracing import sdk_span
from natstrace.tracing.setup import BoundedBatchSpanProcessor


class _Untouchable(Mapping[str, object]):
    """Attributes that fail loudly when anything reads them."""

    def __getitem__(self, key: str) -> NoReturn:
        raise AssertionError("read an attribute")

    def __iter__(self) -> Iterator[str]:
        raise AssertionError("iterated the attributes")

    def __len__(self) -> int:
        raise AssertionError("counted the attributes")


class _UntouchableSpan:
    """A span that fails loudly when anything looks at it."""

    def __getattribute__(self, name: str) -> NoReturn:
        raise AssertionError(f"looked at span.{name}")


def _tracer(**options: object) -> tuple[Tracer, InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider(**options)  # type: ignore[arg-type]
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("contract")
    assert type(tracer) is Tracer
    return tracer, exporter


def test_a_span_started_without_attributes_keeps_them_in_an_empty_bounded_dict() -> None:
    tracer, exporter = _tracer()
    span = tracer.start_span("s", kind=SpanKind.CONSUMER)
    store = span._attributes  # type: ignore[attr-defined]
    assert type(store) is BoundedAttributes
    assert type(store._dict) is dict
    assert store._dict == {}
    # What the span reports and exports is what that dict holds.
    store._dict.update({"a": "x", "b": 2})
    span.end()
    (finished,) = exporter.get_finished_spans()
    assert list(finished.attributes.items()) == [("a", "x"), ("b", 2)]  # type: ignore[union-attr]
    assert finished.dropped_attributes == 0


def test_the_bounded_dict_carries_the_span_limits() -> None:
    tracer, _ = _tracer()
    default = tracer.start_span("s")._attributes  # type: ignore[attr-defined]
    assert default.maxlen == 128
    assert default.max_value_len is None
    limited, _ = _tracer(span_limits=SpanLimits(max_span_attributes=3, max_span_attribute_length=5))
    store = limited.start_span("s")._attributes  # type: ignore[attr-defined]
    assert store.maxlen == 3
    assert store.max_value_len == 5


def test_the_tracer_holds_its_processors_in_a_tuple_replaced_when_one_is_added() -> None:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(InMemorySpanExporter()))
    tracer = provider.get_tracer("contract")
    multi = tracer.span_processor
    assert type(multi) is SynchronousMultiSpanProcessor
    before = multi._span_processors
    assert type(before) is tuple
    assert len(before) == 1
    added = BatchSpanProcessor(InMemorySpanExporter())
    provider.add_span_processor(added)
    assert multi._span_processors is not before
    assert multi._span_processors[-1] is added
    provider.shutdown()


def test_parent_based_keeps_its_delegates_under_the_names_read() -> None:
    root, other = TraceIdRatioBased(0.5), ALWAYS_OFF
    sampler = ParentBased(root, other, other, other, other)
    delegates = [getattr(sampler, name) for name in sdk_span._PARENT_BASED_DELEGATES]
    assert delegates == [root, other, other, other, other]


@pytest.mark.parametrize(
    "sampler",
    [ALWAYS_ON, ALWAYS_OFF, DEFAULT_ON, TraceIdRatioBased(0.5), ParentBased(TraceIdRatioBased(0))],
    ids=["always_on", "always_off", "parentbased_always_on", "ratio", "parentbased_ratio"],
)
def test_standard_samplers_decide_without_reading_attributes(sampler: Sampler) -> None:
    assert sdk_span.reads_no_attributes(sampler)
    for trace_id in (1, 1 << 63, (1 << 128) - 1):
        sampler.should_sample(None, trace_id, "s", SpanKind.CONSUMER, _Untouchable())


@pytest.mark.parametrize(
    "processor",
    [
        SpanProcessor(),
        BatchSpanProcessor(InMemorySpanExporter()),
        SimpleSpanProcessor(InMemorySpanExporter()),
        BoundedBatchSpanProcessor(InMemorySpanExporter()),
    ],
    ids=["base", "batch", "simple", "natstrace_bounded_batch"],
)
def test_quiet_processors_do_not_look_at_a_span_when_it_starts(processor: SpanProcessor) -> None:
    assert type(processor).on_start in sdk_span._QUIET_STARTS
    processor.on_start(_UntouchableSpan(), None)  # type: ignore[arg-type]
    processor.shutdown()


def test_a_tracer_keeps_its_config_ids_and_span_metrics_under_the_names_read() -> None:
    provider = TracerProvider(shutdown_on_exit=False)
    tracer = provider.get_tracer("contract")
    assert tracer.id_generator is provider.id_generator
    assert tracer._tracer_config.is_enabled is True
    # Imported from the SDK, not the stand-in for SDKs without span metrics.
    assert sdk_span.NoOpTracerMetrics is not type(None)
    assert type(tracer._tracer_metrics) is sdk_span.NoOpTracerMetrics
