"""Starting an SDK span with attributes natstrace built itself, without the SDK re-checking them.

opentelemetry-sdk's ``Tracer.start_span`` hands a span's attributes to
``BoundedAttributes``, which re-checks and copies every value one by one. With
about ten attributes on each of a message's two spans that is the largest single
cost of a sampled message, and natstrace's values need none of it: they are
plain ``str``/``int``/``float``/``bool`` values it built itself. So, when nothing
can tell the difference, :class:`SpanStarter` starts the span without attributes
and puts them straight into the span's attribute dict, in the same order.

Nothing can tell the difference when:

- the tracer is the SDK's own ``Tracer`` (``start_span`` not overridden);
- its sampler is one of the SDK's standard ones (``StaticSampler``,
  ``TraceIdRatioBased``, ``ParentBased`` over those): they decide without
  reading attributes, which they only pass through to the span;
- every span processor ignores a span in ``on_start`` (the SDK's batch and
  simple processors, natstrace's), so none sees it before its attributes are in;
- the SDK's checks cannot change a thing: no value length limit, a count limit
  of at least the number of attributes, no empty key, every value of a plain type.

Otherwise the span starts the stock way, its attributes given to ``start_span``
(a custom sampler reads them; limits truncate and drop as they always do).

A span the sampler is certain to drop (see ``SpanShapes.drops``) is only a span
context: :meth:`SpanStarter.start_unrecorded` makes it as ``start_span`` would
(the parent's trace ID and trace state, or a new trace ID; a span ID from the
provider's ID generator; the unsampled flags) without asking the sampler a
question whose answer is known, when that is all ``start_span`` would do: the
SDK's tracer, a standard sampler, the tracer enabled and the SDK's own span
metrics off. That is most of what a message costs with sampling off.

Every access to a private part of opentelemetry-sdk is in this module, and
``tests/tracing/test_sdk_span_contract.py`` pins each one against the installed
SDK. Should one be missing at run time, spans start the stock way.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import NoneType, SimpleNamespace
from typing import Final

from opentelemetry.attributes import BoundedAttributes
from opentelemetry.context import Context
from opentelemetry.sdk import trace as sdk_trace
from opentelemetry.sdk.trace import (
    ConcurrentMultiSpanProcessor,
    SpanProcessor,
    SynchronousMultiSpanProcessor,
)
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
from opentelemetry.sdk.trace.sampling import (
    ParentBased,
    StaticSampler,
    TraceIdRatioBased,
)
from opentelemetry.trace import (
    Link,
    NonRecordingSpan,
    Span,
    SpanContext,
    SpanKind,
    TraceFlags,
    Tracer,
    get_current_span,
)

from natstrace.tracing.processor_slot import SpanProcessorSlot

try:
    from opentelemetry.sdk.trace._tracer_metrics import NoOpTracerMetrics
except ImportError:  # an SDK from before its own span metrics
    NoOpTracerMetrics = NoneType  # type: ignore[assignment,misc]

__all__ = ["SpanStarter", "fill_attributes", "reads_no_attributes"]

_PLAIN: Final = frozenset((str, int, float, bool, bytes, NoneType))
"""Value types the SDK stores unchanged (strings too, without a length limit)."""

_DECIDES_WITHOUT_ATTRIBUTES: Final = (StaticSampler.should_sample, TraceIdRatioBased.should_sample)
_PARENT_BASED_DELEGATES: Final = (
    "_root",
    "_remote_parent_sampled",
    "_remote_parent_not_sampled",
    "_local_parent_sampled",
    "_local_parent_not_sampled",
)
_QUIET_STARTS: Final = (
    SpanProcessor.on_start,
    BatchSpanProcessor.on_start,
    SimpleSpanProcessor.on_start,
)
"""``on_start`` methods that do nothing. natstrace's ``BoundedBatchSpanProcessor``
inherits the base class's."""
_NO_SPAN_METRICS: Final = (NoneType, NoOpTracerMetrics)
"""The SDK's span metrics off (or an SDK without them): a dropped span counts nowhere."""
_ENABLED: Final = SimpleNamespace(is_enabled=True)
"""The tracer config of an SDK without one."""
_RANDOM_TRACE_ID: Final = int(getattr(TraceFlags, "RANDOM_TRACE_ID", 0))
_UNSAMPLED: Final = TraceFlags(TraceFlags.DEFAULT)
_UNSAMPLED_RANDOM: Final = TraceFlags(TraceFlags.DEFAULT | _RANDOM_TRACE_ID)
_MULTI_STARTS: Final = (
    SynchronousMultiSpanProcessor.on_start,
    ConcurrentMultiSpanProcessor.on_start,
)


def reads_no_attributes(sampler: object) -> bool:
    """Whether ``sampler`` is one of the SDK's standard samplers, which decide
    without reading a span's attributes (a subclass overriding the decision is not)."""
    should_sample = getattr(type(sampler), "should_sample", None)
    if should_sample in _DECIDES_WITHOUT_ATTRIBUTES:
        return True
    if should_sample is ParentBased.should_sample:
        return all(
            reads_no_attributes(getattr(sampler, name, None)) for name in _PARENT_BASED_DELEGATES
        )
    return False


def _quiet_at_start(processor: object) -> bool:
    # A processor that does nothing in on_start cannot see the attributes arrive late.
    if type(processor) is SpanProcessorSlot:
        processor = processor.processor
        if processor is None:
            return True  # an empty slot: spans go nowhere
    return getattr(type(processor), "on_start", None) in _QUIET_STARTS


def _processors(tracer: object) -> tuple[object, ...] | None:
    # The multi-processor's tuple is replaced (not mutated) when a processor is added.
    multi = getattr(tracer, "span_processor", None)
    if getattr(type(multi), "on_start", None) not in _MULTI_STARTS:
        return None
    processors = getattr(multi, "_span_processors", None)
    return processors if type(processors) is tuple else None


def fill_attributes(span: Span, attributes: Mapping[str, object]) -> bool:
    """Put ``attributes`` into a just-started, attribute-less SDK span as ``start_span``
    would have; ``False`` (and nothing done) when only the SDK's own checks can."""
    store = getattr(span, "_attributes", None)
    if type(store) is not BoundedAttributes:
        return False
    values = getattr(store, "_dict", None)
    maxlen = store.maxlen
    if (
        type(values) is dict
        and not values
        and store.max_value_len is None
        and (maxlen is None or len(attributes) <= maxlen)
        and "" not in attributes
        and _PLAIN.issuperset(map(type, attributes.values()))
    ):
        values.update(attributes)
        return True
    return False


_Verdict = tuple[
    object, tuple[object, ...] | None, tuple[tuple[SpanProcessorSlot, object], ...], bool, bool
]
"""What the verdict was drawn from (sampler, processors, each slot's processor), and
it: the fast path for recorded spans, the one for spans the sampler drops."""


class SpanStarter:
    """Starts the spans of one tracer, on the fast path whenever it gives the span
    the stock path would (see the module docstring), else the stock way."""

    __slots__ = ("_verdict", "tracer")

    def __init__(self, tracer: Tracer) -> None:
        self.tracer = tracer
        self._verdict = self._decide()

    def _decide(self) -> _Verdict:
        tracer = self.tracer
        sampler = getattr(tracer, "sampler", None)
        processors = _processors(tracer)
        slots = tuple((p, p.processor) for p in processors or () if type(p) is SpanProcessorSlot)
        stock_start = type(tracer).start_span is sdk_trace.Tracer.start_span
        standard = stock_start and reads_no_attributes(sampler)
        fast = standard and processors is not None and all(map(_quiet_at_start, processors))
        # Processors never see a span that is not recorded: only the IDs matter.
        # The SDK's span metrics are made with the tracer: on, they count every span.
        unrecorded = (
            standard
            and hasattr(getattr(tracer, "id_generator", None), "generate_span_id")
            and type(getattr(tracer, "_tracer_metrics", None)) in _NO_SPAN_METRICS
        )
        # One assignment: a thread reading it sees a verdict with what it came from.
        self._verdict = (sampler, processors, slots, fast, unrecorded)
        return self._verdict

    def fast(self) -> bool:
        """Whether the next recorded span starts on the fast path (a processor added,
        or a sampler or slot processor replaced, since the last span is noticed here)."""
        tracer = self.tracer
        sampler, processors, slots, fast, _ = self._verdict
        if getattr(tracer, "sampler", None) is not sampler or _processors(tracer) is not processors:
            return self._decide()[3]
        for slot, inner in slots:
            if slot.processor is not inner:
                return self._decide()[3]
        return fast

    def fast_unrecorded(self) -> bool:
        """Whether the next span the sampler drops is made without the SDK."""
        tracer = self.tracer
        verdict = self._verdict
        # Processors do not matter here (they never see such a span): only the sampler.
        if getattr(tracer, "sampler", None) is not verdict[0]:
            verdict = self._decide()
        # The config is read every time: the SDK replaces it when it is reconfigured.
        return verdict[4] and getattr(tracer, "_tracer_config", _ENABLED).is_enabled

    def start_unrecorded(
        self, name: str, context: Context | None = None, kind: SpanKind = SpanKind.INTERNAL
    ) -> Span:
        """``tracer.start_span(name, context, kind)`` for a span that the caller knows
        the tracer's sampler drops (no attributes: it would not keep them)."""
        tracer = self.tracer
        if not self.fast_unrecorded():
            return tracer.start_span(name, context, kind)
        # What start_span makes of a dropped span, in its order of ID generation: the
        # standard samplers give a dropped span its parent's trace state.
        ids = tracer.id_generator  # type: ignore[attr-defined]
        parent = get_current_span(context).get_span_context()
        if parent.is_valid:
            trace_id = parent.trace_id
            random = parent.trace_flags & _RANDOM_TRACE_ID
            state = parent.trace_state
        else:
            trace_id = ids.generate_trace_id()
            random = _RANDOM_TRACE_ID and ids.is_trace_id_random()
            state = None
        return NonRecordingSpan(
            SpanContext(
                trace_id,
                ids.generate_span_id(),
                False,
                _UNSAMPLED_RANDOM if random else _UNSAMPLED,
                state,
            )
        )

    def start(
        self,
        name: str,
        attributes: dict[str, object],
        *,
        context: Context | None = None,
        kind: SpanKind = SpanKind.INTERNAL,
        links: Sequence[Link] | None = None,
        start_time: int | None = None,
    ) -> Span:
        """``tracer.start_span(name, context, kind, attributes, links, start_time)``,
        cheaper on the fast path."""
        tracer = self.tracer
        if not self.fast():
            return tracer.start_span(
                name,
                context,
                kind,
                attributes,  # type: ignore[arg-type]
                links,
                start_time,
            )
        span = tracer.start_span(name, context, kind, None, links, start_time)
        if not fill_attributes(span, attributes) and span.is_recording():
            # The SDK's own checks, exactly as start_span would have run them: the
            # sampler did not read the attributes and no processor looked at the span.
            span.set_attributes(attributes)  # type: ignore[arg-type]
        return span
