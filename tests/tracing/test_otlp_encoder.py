"""natstrace's OTLP encoder against the stock one: for any spans, its bytes decode to
the message the stock ``encode_spans`` builds, field by field."""

from __future__ import annotations

import math
from typing import Any

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from opentelemetry.attributes import BoundedAttributes
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.util import BoundedList
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import Link, SpanContext, SpanKind, Status, StatusCode, TraceFlags
from opentelemetry.trace.span import TraceState

from natstrace.tracing.export.encoder import SpanEncoder

INT64 = st.integers(-(2**63), 2**63 - 1)
TEXT = st.text(max_size=12) | st.sampled_from(["", "ü→😀", "x" * 300])
FLOATS = st.floats(allow_nan=False) | st.sampled_from([0.0, -0.0, math.inf, -math.inf])
SCALARS: dict[str, st.SearchStrategy[Any]] = {
    "str": TEXT,
    "bool": st.booleans(),
    "int": INT64 | st.sampled_from([0, -1, 2**63 - 1, -(2**63)]),
    "float": FLOATS,
    "bytes": st.binary(max_size=12),
}
VALUES = st.one_of(
    *SCALARS.values(),
    # Arrays are homogeneous, may hold None, and may be empty.
    *(st.lists(s | st.none(), max_size=4).map(tuple) for s in SCALARS.values()),
    # What the stock encoder refuses (the pair is skipped): outside int64.
    st.sampled_from([2**63, -(2**63) - 1]),
)
KEYS = st.sampled_from(["messaging.system", "server.port", "k", "ü.key"]) | st.text(
    min_size=1, max_size=8
)
TRACE_IDS = st.integers(1, 2**128 - 1) | st.just(2**128 - 1)
SPAN_IDS = st.integers(1, 2**64 - 1) | st.just(2**64 - 1)
TIMES = st.integers(0, 2**64 - 1)
TRACE_STATES = [
    TraceState(),
    TraceState([("vendor", "v1")]),
    TraceState([("a-b_c*d/e", "x!y~z"), ("t@sys", "0")]),
]

RESOURCES = [
    Resource.create({"service.name": "orders", "service.instance.id": "1"}),
    Resource({"service.name": "orders", "service.instance.id": "1"}),
    Resource({"service.name": "payments", "tags": ("a", "b")}, schema_url="https://s/1.0"),
    # Equal to the one before: the stock encoder puts both into one ResourceSpans.
    Resource({"service.name": "payments", "tags": ("a", "b")}, schema_url="https://s/1.0"),
    Resource({}),
]
SCOPES = [
    None,
    InstrumentationScope("natstrace", "0.1.0", "https://opentelemetry.io/schemas/1.26.0"),
    InstrumentationScope("natstrace", "0.1.0", "https://opentelemetry.io/schemas/1.26.0"),
    InstrumentationScope("other", None, None, {"scope.attr": 1, "list": (1.5, 2.5)}),
    InstrumentationScope(""),
]


class _Pool:
    """Values hypothesis drew for one batch; spans are assembled from them by a
    hypothesis-drawn random source, which keeps thousands of spans per run fast to
    generate while every value and combination still comes from hypothesis."""

    def __init__(self, draw: st.DrawFn) -> None:
        self.random = draw(st.randoms(use_true_random=False))
        self.keys = draw(st.lists(KEYS, min_size=3, max_size=8))
        self.values = draw(st.lists(VALUES, min_size=4, max_size=16))
        self.texts = draw(st.lists(TEXT, min_size=2, max_size=6))
        self.contexts = [
            SpanContext(
                trace_id,
                span_id,
                is_remote=self.random.random() < 0.5,
                trace_flags=TraceFlags(self.random.choice([0, 1])),
                trace_state=self.random.choice(TRACE_STATES),
            )
            for trace_id, span_id in draw(
                st.lists(st.tuples(TRACE_IDS, SPAN_IDS), min_size=2, max_size=5)
            )
        ]
        self.times = draw(st.lists(TIMES, min_size=2, max_size=4))

    def attributes(self) -> BoundedAttributes | dict[str, Any] | None:
        rng = self.random
        values = {rng.choice(self.keys): rng.choice(self.values) for _ in range(rng.randint(0, 6))}
        kind = rng.randint(0, 3)
        if kind == 0:
            return rng.choice([None, {}])
        if kind == 1:
            return values
        # The SDK's container; a small bound gives dropped counts.
        maxlen = rng.choice([None, 0, 1, 3])
        return BoundedAttributes(maxlen=maxlen, attributes=values, immutable=False)

    def span(self) -> ReadableSpan:
        rng = self.random
        status_code = rng.choice(list(StatusCode))
        description = None
        if status_code is StatusCode.ERROR:
            description = rng.choice([None, *self.texts])
        event_list: Any = [
            Event(rng.choice(self.texts), self.attributes(), rng.choice(self.times))
            for _ in range(rng.randint(0, 3))
        ]
        link_list: Any = [
            Link(rng.choice(self.contexts), self.attributes()) for _ in range(rng.randint(0, 3))
        ]
        if rng.random() < 0.3:
            event_list = BoundedList.from_seq(rng.randint(0, 2), event_list)
            link_list = BoundedList.from_seq(rng.randint(0, 2), link_list)
        return ReadableSpan(
            name=rng.choice(self.texts),
            context=rng.choice(self.contexts),
            parent=rng.choice([None, *self.contexts]),
            resource=rng.choice(RESOURCES),
            attributes=self.attributes(),
            events=event_list,
            links=link_list,
            kind=rng.choice(list(SpanKind)),
            instrumentation_scope=rng.choice(SCOPES),
            status=Status(status_code, description),
            start_time=rng.choice(self.times),
            end_time=rng.choice(self.times),
        )


SPANS_PER_BATCH = 25


@st.composite
def batches(draw: st.DrawFn) -> list[ReadableSpan]:
    pool = _Pool(draw)
    return [pool.span() for _ in range(SPANS_PER_BATCH)]


def _assert_same_as_stock(encoder: SpanEncoder, spans: list[ReadableSpan]) -> None:
    ours = ExportTraceServiceRequest.FromString(encoder.encode(spans))
    stock = encode_spans(spans)
    # Message equality compares every field, in order (natstrace keeps the stock
    # attribute order too); byte equality after a canonical re-serialisation says
    # the same for doubles (NaN never equals itself).
    assert ours.SerializeToString(deterministic=True) == stock.SerializeToString(
        deterministic=True
    ), _first_difference(ours, stock)


def _first_difference(ours: ExportTraceServiceRequest, stock: ExportTraceServiceRequest) -> str:
    for resource_ours, resource_stock in zip(
        ours.resource_spans, stock.resource_spans, strict=False
    ):
        if resource_ours.resource != resource_stock.resource:
            return f"resource {resource_ours.resource} != {resource_stock.resource}"
        for scope_ours, scope_stock in zip(
            resource_ours.scope_spans, resource_stock.scope_spans, strict=False
        ):
            for span_ours, span_stock in zip(scope_ours.spans, scope_stock.spans, strict=False):
                if span_ours != span_stock:
                    return f"span\n{span_ours}\n!=\n{span_stock}"
    return f"\n{ours}\n!=\n{stock}"


# One encoder for every example, as in an exporter: its caches carry over between
# batches, so a stale or colliding cache entry would show.
ENCODER = SpanEncoder()


# No shrinking: a batch is assembled by a drawn random source, which hypothesis
# shrinks slowly; the failure message names the first span that differs instead.
@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    database=None,
    phases=[Phase.explicit, Phase.generate],
)
@given(batches())
def test_any_batch_encodes_like_the_stock_encoder(spans: list[ReadableSpan]) -> None:
    _assert_same_as_stock(ENCODER, spans)


def test_nan_and_values_that_compare_equal_across_types() -> None:
    # 1 == 1.0 == True and 0.0 == -0.0: a cache keyed on the value alone would mix them.
    values: list[Any] = [1, 1.0, True, 0.0, -0.0, math.nan, 0, False, "1", b"1"]
    spans = [
        ReadableSpan(name="s", context=SpanContext(1, 2, False), attributes={"k": value})
        for value in values * 2
    ]
    ours = ExportTraceServiceRequest.FromString(ENCODER.encode(spans))
    got = [span.attributes[0].value for span in ours.resource_spans[0].scope_spans[0].spans]
    expected = [AnyValue(int_value=1), AnyValue(double_value=1.0), AnyValue(bool_value=True)]
    assert got[:3] == expected
    assert math.copysign(1, got[4].double_value) == -1
    assert math.isnan(got[5].double_value)
    _assert_same_as_stock(ENCODER, spans)


def test_what_utf_8_cannot_carry_is_skipped_like_the_stock_encoder() -> None:
    attributes = {"ok": "yes", "\ud800key": "v", "value": "\udfff", "list": ("a", "\ud800")}
    spans = [ReadableSpan(name="s", context=SpanContext(1, 2, False), attributes=attributes)]
    ours = ExportTraceServiceRequest.FromString(SpanEncoder().encode(spans))
    (span,) = ours.resource_spans[0].scope_spans[0].spans
    assert [pair.key for pair in span.attributes] == ["ok"]
    _assert_same_as_stock(SpanEncoder(), spans)


def test_spans_from_the_sdk_encode_like_the_stock_encoder() -> None:
    # Real SDK spans: the encoder reads the SDK's own attribute container directly.
    exporter = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "sdk"}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("natstrace", "0.1.0")
    with tracer.start_as_current_span("parent", attributes={"a": 1, "b": ("x", "y")}) as parent:
        parent.add_event("happened", {"n": 2.5})
        with tracer.start_as_current_span(
            "child", kind=SpanKind.CONSUMER, links=[Link(parent.get_span_context(), {"l": True})]
        ) as child:
            child.set_attribute("late", b"bytes")
            child.set_status(Status(StatusCode.ERROR, "broken"))
    spans = list(exporter.get_finished_spans())
    assert len(spans) == 2
    _assert_same_as_stock(SpanEncoder(), spans)


def test_a_key_whose_values_never_repeat_stops_filling_the_cache() -> None:
    from natstrace.tracing.export import encoder as encoder_module

    encoder = SpanEncoder()
    spans = [
        ReadableSpan(
            name="process orders",
            context=SpanContext(1, index + 1, False),
            attributes={"messaging.system": "nats", "messaging.message.id": f"id-{index}"},
        )
        for index in range(3 * encoder_module._VOLATILE_AFTER)
    ]
    for start in range(0, len(spans), 500):
        _assert_same_as_stock(encoder, spans[start : start + 500])
    # The IDs stopped being cached after _VOLATILE_AFTER of them; the shared pair and
    # the resource's few pairs stay.
    assert len(encoder._str_pairs) <= encoder_module._VOLATILE_AFTER + 10
    assert ("messaging.system", "nats") in encoder._str_pairs
