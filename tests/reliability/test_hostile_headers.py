"""Property tests: every header natstrace reads accepts exactly what its
specification allows, within size limits, and nothing raises.

Each oracle below is written independently of ``natstrace.client.headers``
(character by character, from the W3C grammars and README's ID rules), and the
test demands agreement both ways: nothing invalid passes, nothing valid is dropped.
"""

from __future__ import annotations

import asyncio
import string
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from nats.aio.msg import Msg
from opentelemetry import baggage, trace
from opentelemetry.sdk.trace import TracerProvider
from prometheus_client import CollectorRegistry

from natstrace.client.headers import read_incoming
from natstrace.client.subjects import SubjectTemplates
from natstrace.metrics import NatstraceMetrics
from natstrace.middleware.chain import ClientChains
from natstrace.middleware.contract import IncomingMessage, OutgoingMessage

CASES = 10_000
FAST = settings(
    max_examples=CASES, deadline=None, database=None, suppress_health_check=list(HealthCheck)
)

HEX = "0123456789abcdef"
LCALPHA = string.ascii_lowercase
ID_CHARS = string.ascii_letters + string.digits + "._:@/+=~!#$%&*?^|-"
TCHAR = "!#$%&'*+-.^_`|~" + string.ascii_letters + string.digits


# --- oracles -------------------------------------------------------------------------


def traceparent_ok(value: str) -> bool:
    if len(value) > 256:
        return False
    parts = value.split("-")
    if len(parts) < 4:
        return False
    version, trace_id, span_id, flags = parts[:4]

    def hexes(text: str, size: int) -> bool:
        return len(text) == size and all(c in HEX for c in text)

    if not (hexes(version, 2) and hexes(trace_id, 32) and hexes(span_id, 16) and hexes(flags, 2)):
        return False
    if version == "ff" or set(trace_id) == {"0"} or set(span_id) == {"0"}:
        return False
    return len(parts) == 4 if version == "00" else True


def _strip_ows(text: str) -> str:
    return text.strip(" \t")


def _ts_key_ok(key: str) -> bool:
    rest = LCALPHA + string.digits + "_-*/"
    if "@" in key:
        tenant, _, system = key.partition("@")
        return (
            1 <= len(tenant) <= 241
            and tenant[0] in LCALPHA + string.digits
            and all(c in rest for c in tenant)
            and 1 <= len(system) <= 14
            and system[0] in LCALPHA
            and all(c in rest for c in system)
        )
    return 1 <= len(key) <= 256 and key[0] in LCALPHA and all(c in rest for c in key)


def _ts_value_ok(value: str) -> bool:
    allowed = {chr(c) for c in range(0x20, 0x7F)} - {",", "="}
    return 1 <= len(value) <= 256 and all(c in allowed for c in value) and value[-1] != " "


def tracestate_ok(value: str) -> bool:
    members = value.split(",")
    if len(value) > 512 or len(members) > 32:
        return False
    for member in members:
        member = _strip_ows(member)
        if not member:
            continue
        key, eq, val = member.partition("=")
        if not eq or not _ts_key_ok(key) or not _ts_value_ok(val):
            return False
    return True


def _token_ok(text: str) -> bool:
    return bool(text) and all(c in TCHAR for c in text)


def _baggage_value_ok(text: str) -> bool:
    return all(0x21 <= ord(c) <= 0x7E and c not in '",;\\' for c in text)


def baggage_ok(value: str) -> bool:
    members = value.split(",")
    if len(value.encode()) > 8192 or len(members) > 180:
        return False
    for member in members:
        entry, *properties = member.split(";")
        key, eq, val = entry.partition("=")
        if not eq or not _token_ok(_strip_ows(key)) or not _baggage_value_ok(_strip_ows(val)):
            return False
        for prop in properties:
            name, eq, val = prop.partition("=")
            if not _token_ok(_strip_ows(name)):
                return False
            if eq and not _baggage_value_ok(_strip_ows(val)):
                return False
    return True


def id_ok(value: str) -> bool:
    return 1 <= len(value) <= 128 and all(c in ID_CHARS for c in value)


# --- strategies ----------------------------------------------------------------------

hostile_text = st.one_of(
    st.text(max_size=80),  # any Unicode, control characters included
    st.text(alphabet=st.characters(max_codepoint=0x7F), max_size=300),
    st.builds(
        lambda c, n: c * n,
        st.sampled_from(["a", "=", ",", "\r\n", "\x00", "é"]),
        st.integers(0, 20_000),
    ),
)


def _hex(size: int) -> st.SearchStrategy[str]:
    return st.text(alphabet=HEX, min_size=size, max_size=size)


traceparents = st.one_of(
    hostile_text,
    st.builds(
        lambda v, t, s, f, tail: f"{v}-{t}-{s}-{f}{tail}",
        st.one_of(st.just("00"), _hex(2), st.sampled_from(["ff", "0G", "0"])),
        st.one_of(_hex(32), st.just("0" * 32), _hex(31), _hex(32).map(str.upper)),
        st.one_of(_hex(16), st.just("0" * 16), _hex(17)),
        st.one_of(_hex(2), st.sampled_from(["1", "xy", "01 "])),
        st.one_of(st.just(""), st.just("-"), st.text(max_size=8).map(lambda t: "-" + t)),
    ),
)

_ts_member = st.builds(
    lambda k, v: f"{k}={v}",
    st.one_of(
        st.text(alphabet=LCALPHA + "_-*/@09", min_size=1, max_size=12),
        st.text(alphabet=string.printable, min_size=1, max_size=6),
    ),
    st.text(
        alphabet=st.characters(min_codepoint=0x1F, max_codepoint=0x7F), min_size=0, max_size=12
    ),
)
tracestates = st.one_of(
    hostile_text,
    st.lists(st.one_of(_ts_member, st.sampled_from(["", " ", "\t"])), max_size=6).map(",".join),
    # Around the 32-member limit, cheaply: one member repeated.
    st.builds(lambda m, n: ",".join([m] * n), _ts_member, st.integers(28, 36)),
)

_bag_member = st.builds(
    lambda k, v, p: f"{k}={v}{p}",
    st.one_of(st.text(alphabet=TCHAR, min_size=1, max_size=8), st.text(min_size=0, max_size=4)),
    st.text(alphabet=st.characters(min_codepoint=0x1F, max_codepoint=0x7F), max_size=10),
    st.one_of(st.just(""), st.text(alphabet=TCHAR + ";= ", max_size=8).map(lambda t: ";" + t)),
)
baggages = st.one_of(
    hostile_text,
    st.lists(_bag_member, min_size=1, max_size=6).map(",".join),
    # Around the 180-member and 8192-byte limits, cheaply: one member repeated.
    st.builds(lambda m, n: ",".join([m] * n), _bag_member, st.integers(170, 190)),
    st.builds(lambda n: "k=" + "v" * n, st.integers(8180, 8200)),
)
ids = st.one_of(
    hostile_text,
    st.text(alphabet=ID_CHARS, min_size=0, max_size=140),
    st.text(alphabet=ID_CHARS + " \r\n\t:\"';,\\", min_size=1, max_size=40),
)


def _spellings(name: str) -> st.SearchStrategy[str]:
    return st.sampled_from([name, name.lower(), name.upper(), name.title()])


def _check(name: str, value: str, accepted_by_spec: bool, *, bound: int) -> None:
    read = read_incoming({name: value, "Other-Header": value})
    kept = {
        "traceparent": read.trace.get("traceparent"),
        "tracestate": read.trace.get("tracestate"),
        "baggage": read.trace.get("baggage"),
        "nats-msg-id": read.message_id,
        "correlation-id": read.correlation_id,
        "causation-id": read.causation_id,
    }[name.lower()]
    assert (kept is not None) == accepted_by_spec, (name, value[:200])
    if kept is None:
        assert len(read.invalid) == 1 and read.invalid[0].lower() == name.lower()
    else:
        assert kept == value and len(kept) <= bound and read.invalid == ()


@FAST
@given(_spellings("traceparent"), traceparents)
def test_traceparent(name: str, value: str) -> None:
    _check(name, value, traceparent_ok(value), bound=256)


@FAST
@given(_spellings("tracestate"), tracestates)
def test_tracestate(name: str, value: str) -> None:
    _check(name, value, tracestate_ok(value), bound=512)


@FAST
@given(_spellings("baggage"), baggages)
def test_baggage(name: str, value: str) -> None:
    _check(name, value, baggage_ok(value), bound=8192)


# The limit itself, every run rather than when the generator happens to reach it:
# 128 characters kept, 129 dropped.
LONGEST_ID = (ID_CHARS * 2)[:128]


@pytest.mark.parametrize("header", ["Nats-Msg-Id", "Correlation-Id", "Causation-Id"])
def test_ids(header: str) -> None:
    @FAST
    @given(_spellings(header), ids)
    @example(header, LONGEST_ID)
    @example(header, LONGEST_ID + "x")
    def check(name: str, value: str) -> None:
        _check(name, value, id_ok(value), bound=128)

    check()


def test_the_oracles_can_say_yes() -> None:
    """The generators reach valid values too, or the tests above would prove little."""
    assert traceparent_ok("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
    assert tracestate_ok("rojo=00f067aa0ba902b7, congo=t61rcWkgMzE,ten@sys=x ,")
    assert baggage_ok("userId=alice;p=1, serverNode = DF%2028")
    assert not baggage_ok('k="quoted"') and not tracestate_ok("UPPER=x")


# --- the handle chain ---------------------------------------------------------------


_LOOP = asyncio.new_event_loop()


class _Wire:
    """Stands in for the nats-py client: records what would be published."""

    connected_url = None
    max_payload = 1024 * 1024

    def __init__(self) -> None:
        self.sent: list[dict[str, str]] = []

    async def publish(self, subject: str, payload: bytes, reply: str, headers: Any) -> None:
        self.sent.append(dict(headers))


header_dicts = st.dictionaries(
    st.one_of(
        st.sampled_from(
            ["traceparent", "Traceparent", "tracestate", "baggage", "Nats-Msg-Id",
             "correlation-id", "Causation-Id", "X-Other"]
        ),
        st.text(max_size=10),
    ),
    st.one_of(hostile_text, traceparents, baggages, ids),
    max_size=8,
)  # fmt: skip


@settings(max_examples=2_000, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(header_dicts, st.booleans())
# Valid on the way in; OpenTelemetry's baggage propagator garbles it to "=" on the way out.
@example({"baggage": "+="}, False)
def test_handle_chain_never_raises_and_never_copies_invalid_values(
    headers: dict[str, str], untrusted: bool
) -> None:
    wire = _Wire()
    registry = CollectorRegistry()
    chains = ClientChains(
        wire,  # type: ignore[arg-type]
        tracer=TracerProvider().get_tracer("t"),
        metrics=NatstraceMetrics(registry, service_name="p"),
        templates=SubjectTemplates((), None),
        policy="auto",
        trust="untrusted" if untrusted else "trusted",
        baggage_allowlist=("tenant",),
    )
    ran: list[bool] = []

    async def handler(message: IncomingMessage) -> None:
        assert trace.get_current_span().get_span_context().is_valid
        if untrusted:
            assert set(baggage.get_all()) <= {"tenant"}
        ran.append(True)
        out = OutgoingMessage("out", b"", "", {}, "send", "out")
        await chains.publish(out)

    msg = Msg(_client=wire, subject="in", reply="", data=b"", headers=headers)  # type: ignore[arg-type]
    deliver = chains.subscriber("in", "").callback(handler)
    _LOOP.run_until_complete(deliver(msg))
    assert ran == [True]
    (sent,) = wire.sent
    assert read_incoming(sent).invalid == (), sent  # only valid values leave
    read = read_incoming(headers)
    for value in sent.values():
        assert len(value) <= 8192
    if read.correlation_id is not None:
        assert sent["Correlation-Id"] == read.correlation_id
    bad = sum(
        registry.get_sample_value("natstrace_invalid_headers_total",
                                  {"service_name": "p", "header": name}) or 0
        for name in set(read.invalid)
    )  # fmt: skip
    assert bad == len(read.invalid)
