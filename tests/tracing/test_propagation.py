"""The direct W3C path of ``natstrace.tracing.propagation`` gives exactly what the
configured OpenTelemetry propagator gives, and steps aside for anything else."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry import baggage, propagate, trace
from opentelemetry import context as otel_context
from opentelemetry.baggage.propagation import W3CBaggagePropagator
from opentelemetry.propagators.composite import CompositePropagator
from opentelemetry.propagators.textmap import TextMapPropagator
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags, TraceState
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from natstrace.client.headers import read_incoming
from natstrace.tracing import propagation

PROPERTY = settings(
    max_examples=2_000, deadline=None, database=None, suppress_health_check=list(HealthCheck)
)

trace_ids = st.integers(min_value=1, max_value=2**128 - 1)
span_ids = st.integers(min_value=1, max_value=2**64 - 1)
flags = st.integers(min_value=0, max_value=255)
versions = st.integers(min_value=0, max_value=254).map(lambda v: f"{v:02x}")
extensions = st.text(alphabet="0123456789abcdef-", max_size=40).map(lambda t: f"-{t}")


@pytest.fixture
def global_propagator() -> Iterator[None]:
    """Restores the global propagator a test replaces."""
    saved = propagate.get_global_textmap()
    yield
    propagate.set_global_textmap(saved)


def _generic_inject(span: trace.Span) -> dict[str, str]:
    headers: dict[str, str] = {}
    propagate.inject(headers, context=trace.set_span_in_context(span))
    return headers


@PROPERTY
@given(trace_ids, span_ids, flags)
def test_injected_traceparent_is_the_propagators(trace_id: int, span_id: int, flag: int) -> None:
    span = NonRecordingSpan(SpanContext(trace_id, span_id, False, TraceFlags(flag)))
    headers: dict[str, str] = {}
    propagation.inject_span(headers, span)
    assert headers == _generic_inject(span)


@PROPERTY
@given(trace_ids, span_ids, flags, versions, extensions)
def test_extracted_context_is_the_propagators(
    trace_id: int, span_id: int, flag: int, version: str, extension: str
) -> None:
    traceparent = f"{version}-{trace_id:032x}-{span_id:016x}-{flag:02x}"
    if version != "00":
        traceparent += extension
    read = read_incoming({"traceparent": traceparent})
    generic = propagate.extract({"traceparent": traceparent})
    expected = trace.get_current_span(generic).get_span_context()
    if not read.trace:
        # Dropped by natstrace's checks: then the propagator found nothing valid either.
        assert not expected.is_valid
        return
    direct = propagation.extract(read.trace, validated=True)
    assert trace.get_current_span(direct).get_span_context() == expected


@PROPERTY
@given(trace_ids, span_ids, flags)
def test_extracted_context_holds_what_the_propagators_holds(
    trace_id: int, span_id: int, flag: int
) -> None:
    # Whatever is current (here: baggage) stays out of an extracted context, as with
    # the propagator, which starts from an empty one.
    traceparent = f"00-{trace_id:032x}-{span_id:016x}-{flag:02x}"
    token = otel_context.attach(baggage.set_baggage("ambient", "x"))
    try:
        generic = propagate.extract({"traceparent": traceparent})
        direct = propagation.extract(
            read_incoming({"traceparent": traceparent}).trace, validated=True
        )
    finally:
        otel_context.detach(token)
    assert set(direct) == set(generic)
    assert baggage.get_all(direct) == baggage.get_all(generic) == {}
    span_context = trace.get_current_span(direct).get_span_context()
    assert span_context == trace.get_current_span(generic).get_span_context()
    assert span_context.trace_flags == flag and type(span_context.trace_flags) is TraceFlags


def test_baggage_and_tracestate_take_the_propagators_path() -> None:
    state = TraceState([("vendor", "abc")])
    span = NonRecordingSpan(SpanContext(1, 2, False, TraceFlags(1), state))
    token = otel_context.attach(baggage.set_baggage("tenant", "acme"))
    try:
        headers: dict[str, str] = {}
        propagation.inject_span(headers, span)
    finally:
        otel_context.detach(token)
    assert headers["tracestate"] == "vendor=abc"
    assert headers["baggage"] == "tenant=acme"

    extracted = propagation.extract(read_incoming(headers).trace, validated=True)
    assert baggage.get_baggage("tenant", extracted) == "acme"
    assert trace.get_current_span(extracted).get_span_context().trace_state == state


class _Stamp(TextMapPropagator):
    """A propagator of another format: natstrace must use it, not W3C."""

    def inject(self, carrier, context=None, setter=None) -> None:  # type: ignore[no-untyped-def,override]
        span_context = trace.get_current_span(context).get_span_context()
        carrier["stamp"] = f"{span_context.trace_id:x}"

    def extract(self, carrier, context=None, getter=None):  # type: ignore[no-untyped-def,override]
        return otel_context.set_value("stamped", carrier.get("stamp"), context)

    @property
    def fields(self) -> set[str]:
        return {"stamp"}


@pytest.mark.usefixtures("global_propagator")
def test_another_configured_propagator_is_used() -> None:
    propagate.set_global_textmap(_Stamp())
    span = NonRecordingSpan(SpanContext(0xABC, 2, False, TraceFlags(1)))
    headers: dict[str, str] = {}
    propagation.inject_span(headers, span)
    assert headers == {"stamp": "abc"}

    valid = {"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}
    extracted = propagation.extract(read_incoming(valid).trace, validated=True)
    assert not trace.get_current_span(extracted).get_span_context().is_valid


@pytest.mark.usefixtures("global_propagator")
def test_tracecontext_alone_drops_baggage_like_the_propagator() -> None:
    propagate.set_global_textmap(CompositePropagator([TraceContextTextMapPropagator()]))
    span = NonRecordingSpan(SpanContext(1, 2, False, TraceFlags(1)))
    token = otel_context.attach(baggage.set_baggage("tenant", "acme"))
    try:
        headers: dict[str, str] = {}
        propagation.inject_span(headers, span)
        assert headers == _generic_inject(span)
    finally:
        otel_context.detach(token)
    assert "baggage" not in headers


@pytest.mark.usefixtures("global_propagator")
def test_baggage_alone_writes_no_traceparent() -> None:
    propagate.set_global_textmap(CompositePropagator([W3CBaggagePropagator()]))
    headers: dict[str, str] = {}
    propagation.inject_span(headers, NonRecordingSpan(SpanContext(1, 2, False, TraceFlags(1))))
    assert headers == {}


def test_baggage_the_propagator_garbles_is_not_written() -> None:
    # OpenTelemetry's baggage propagator decodes the key "+" to a space and strips
    # it: re-injected as is, the header would be "=", which no W3C parser accepts.
    extracted = propagation.extract(read_incoming({"baggage": "+=,tenant=acme"}).trace)
    token = otel_context.attach(extracted)
    try:
        headers: dict[str, str] = {}
        propagation.inject_span(headers, NonRecordingSpan(SpanContext(1, 2, False, TraceFlags(1))))
    finally:
        otel_context.detach(token)
    assert headers["baggage"] == "tenant=acme"
    assert read_incoming(headers).invalid == ()


@pytest.mark.parametrize(
    ("header", "written"),
    [
        ("tenant=acme", "tenant=acme"),
        ("=,tenant=acme", "tenant=acme"),
        ("=", None),
        ("k=" + "v" * 9000, None),
    ],
)
def test_setter_writes_only_valid_baggage(header: str, written: str | None) -> None:
    headers: dict[str, str] = {}
    propagation.NatsHeadersSetter().set(headers, "baggage", header)
    assert headers.get("baggage") == written
