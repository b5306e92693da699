"""The processor slot hands every span to the processor in it now, through a real
SDK tracer provider: after a replacement, to the new one only; empty, to none."""

from __future__ import annotations

from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_ON, Decision, Sampler, SamplingResult

from natstrace.tracing.processor_slot import SpanProcessorSlot
from natstrace.tracing.setup import BoundedBatchSpanProcessor


class _Seeing(SpanProcessor):
    """Names the spans it is told about, at start and at end."""

    def __init__(self) -> None:
        self.started: list[str] = []
        self.ended: list[str] = []

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        self.started.append(span.name)

    def on_end(self, span: ReadableSpan) -> None:
        self.ended.append(span.name)


class _RecordOnly(Sampler):
    """Records every span without sampling it: the span reaches on_end, unsampled."""

    def should_sample(self, *args: object, **kwargs: object) -> SamplingResult:
        return SamplingResult(Decision.RECORD_ONLY)

    def get_description(self) -> str:
        return "record only"


def _span(provider: TracerProvider, name: str) -> None:
    provider.get_tracer("t").start_span(name).end()


def test_spans_go_to_the_processor_in_the_slot_now() -> None:
    first, second = _Seeing(), _Seeing()
    slot = SpanProcessorSlot(first)
    provider = TracerProvider()
    provider.add_span_processor(slot)
    _span(provider, "a")
    assert slot.replace(second) is first
    assert slot.processor is second
    _span(provider, "b")
    assert slot.replace(None) is second
    _span(provider, "nowhere")
    assert slot.replace(first) is None
    _span(provider, "c")
    assert (first.started, first.ended) == (["a", "c"], ["a", "c"])
    assert (second.started, second.ended) == (["b"], ["b"])


def test_an_empty_slot_and_a_shut_down_one_pass_spans_nowhere() -> None:
    exporter = InMemorySpanExporter()
    slot = SpanProcessorSlot()
    provider = TracerProvider()
    provider.add_span_processor(slot)
    _span(provider, "before")
    slot.replace(SimpleSpanProcessor(exporter))
    _span(provider, "exported")
    slot.shutdown()
    assert slot.processor is None
    _span(provider, "after")
    assert [span.name for span in exporter.get_finished_spans()] == ["exported"]
    # The generic methods, as a caller holding the class's ones would use them.
    SpanProcessorSlot.on_start(slot, provider.get_tracer("t").start_span("x"))
    assert slot.force_flush()


def test_the_bounded_processor_in_a_slot_hands_over_sampled_spans_only() -> None:
    exporter = InMemorySpanExporter()
    bounded = BoundedBatchSpanProcessor(exporter)
    for sampler, names in ((ALWAYS_ON, ["kept"]), (_RecordOnly(), [])):
        provider = TracerProvider(sampler=sampler)
        provider.add_span_processor(SpanProcessorSlot(bounded))
        _span(provider, "kept")
        assert provider.force_flush()
        assert [span.name for span in exporter.get_finished_spans()] == names
        assert bounded.queued == 0
        exporter.clear()
    bounded.shutdown()
