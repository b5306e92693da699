"""The exact-name reading of incoming headers gives what the general reading gives,
for any headers, and the ID check's shortcut agrees with the ID pattern."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from natstrace.client.headers import _read_any, read_incoming
from natstrace.tracing.correlation import _ID_PATTERN, MAX_ID_LENGTH, is_valid_id

PROPERTY = settings(
    max_examples=3_000, deadline=None, database=None, suppress_health_check=list(HealthCheck)
)

_NAMES = (
    "traceparent",
    "Traceparent",
    "tracestate",
    "baggage",
    "Nats-Msg-Id",
    "nats-msg-id",
    "Correlation-Id",
    "CORRELATION-ID",
    "Causation-Id",
    "causation-id",
    "Other",
)
_TRACEPARENTS = (
    "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
    "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00",
    "01-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-more",
    "00-" + "0" * 32 + "-b7ad6b7169203331-01",
    "ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
    "00-xyz",
)
_ID_CHARS = "AZaz09._:@/+=~!#$%&*?^|-é, \r\n\x00²٣"

ids = st.one_of(
    st.text(alphabet=_ID_CHARS, max_size=MAX_ID_LENGTH + 3),
    st.integers(min_value=0, max_value=2**64).map(lambda n: f"{n:x}"),
    st.just("x" * MAX_ID_LENGTH),
    st.just("x" * (MAX_ID_LENGTH + 1)),
)
values = st.one_of(ids, st.sampled_from(_TRACEPARENTS), st.just("vendor=abc"), st.text(max_size=8))
headers = st.dictionaries(st.sampled_from(_NAMES), values, max_size=len(_NAMES))


@PROPERTY
@given(headers)
def test_read_incoming_equals_the_general_reading(given_headers: dict[str, str]) -> None:
    fast, general = read_incoming(given_headers), _read_any(given_headers)
    assert fast == general
    assert dict(fast.trace) == dict(general.trace)
    assert list(fast.trace) == list(general.trace)


@PROPERTY
@given(st.one_of(ids, st.text(max_size=MAX_ID_LENGTH + 3)))
def test_id_check_equals_the_id_pattern(value: str) -> None:
    assert is_valid_id(value) == (_ID_PATTERN.fullmatch(value) is not None)
