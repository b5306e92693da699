"""OTLP span encoder: the SDK's finished spans to ``ExportTraceServiceRequest`` bytes.

Writes the protobuf wire format directly instead of building message objects
first, which is where the stock encoder spends its time. What repeats is encoded
once: a batch's resource and instrumentation scope, and a key/value pair that
spans of one shape share (``messaging.system=nats``, the template, the server).

The output decodes to the same message the stock ``encode_spans`` builds for the
same spans, field by field: the same fields set (including ``flags`` with the
remote-parent bits and a ``status`` on every span), the same grouping by resource
and scope in first-seen order, and the same treatment of attribute values it
cannot encode (an integer outside int64, an unknown type: the pair is skipped).
"""

from __future__ import annotations

import logging
import struct
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from opentelemetry.attributes import BoundedAttributes
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.util import BoundedList
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import SpanContext, SpanKind, Status, StatusCode

__all__ = ["EncodedSpan", "SpanEncoder"]

_log = logging.getLogger(__name__)

_pack_double = struct.Struct("<d").pack
_pack_fixed64 = struct.Struct("<Q").pack
_pack_fixed32 = struct.Struct("<I").pack

_INT64_MIN = -(1 << 63)
_INT64_MAX = (1 << 63) - 1
_UINT64_MASK = (1 << 64) - 1


def _varint_slow(value: int) -> bytes:
    out = bytearray()
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


# Lengths of keys, values, key/value pairs and most spans are below 4096: one
# table lookup instead of a loop.
_SMALL_VARINTS = tuple(_varint_slow(n) for n in range(4096))


def _varint(value: int) -> bytes:
    if value < 4096:
        return _SMALL_VARINTS[value]
    return _varint_slow(value)


def _tag(field: int, wire_type: int) -> bytes:
    return _varint((field << 3) | wire_type)


_VARINT, _FIXED64, _LEN, _FIXED32 = 0, 1, 2, 5

# AnyValue
_STRING_VALUE = _tag(1, _LEN)
_BOOL_TRUE = _tag(2, _VARINT) + b"\x01"
_BOOL_FALSE = _tag(2, _VARINT) + b"\x00"
_INT_VALUE = _tag(3, _VARINT)
_DOUBLE_VALUE = _tag(4, _FIXED64)
_ARRAY_VALUE = _tag(5, _LEN)
_KVLIST_VALUE = _tag(6, _LEN)
_BYTES_VALUE = _tag(7, _LEN)
# KeyValue; ArrayValue.values and KeyValueList.values share field 1
_KEY = _tag(1, _LEN)
_VALUE = _tag(2, _LEN)
_VALUES = _tag(1, _LEN)
# Span
_TRACE_ID = _tag(1, _LEN) + b"\x10"
_SPAN_ID = _tag(2, _LEN) + b"\x08"
_TRACE_STATE = _tag(3, _LEN)
_PARENT_SPAN_ID = _tag(4, _LEN) + b"\x08"
_NAME = _tag(5, _LEN)
# Indexed by the SDK's number (``_value_``, a plain attribute: ``.value`` is a
# property call); OTLP numbers span kinds from 1, the SDK from 0.
_KINDS = tuple(
    _tag(6, _VARINT) + _varint(kind.value + 1) for kind in sorted(SpanKind, key=lambda k: k.value)
)
_START_TIME = _tag(7, _FIXED64)
_END_TIME = _tag(8, _FIXED64)
_SPAN_ATTRIBUTES = _tag(9, _LEN)
_DROPPED_ATTRIBUTES = _tag(10, _VARINT)
_EVENTS = _tag(11, _LEN)
_DROPPED_EVENTS = _tag(12, _VARINT)
_LINKS = _tag(13, _LEN)
_DROPPED_LINKS = _tag(14, _VARINT)
_STATUS = _tag(15, _LEN)
# SpanFlags: the stock encoder always says whether the parent's remoteness is known
# (it is), and sets the second bit when it is remote.
_SPAN_FLAGS_LOCAL = _tag(16, _FIXED32) + _pack_fixed32(0x100)
_SPAN_FLAGS_REMOTE = _tag(16, _FIXED32) + _pack_fixed32(0x300)
# Span.Event
_EVENT_TIME = _tag(1, _FIXED64)
_EVENT_NAME = _tag(2, _LEN)
_EVENT_ATTRIBUTES = _tag(3, _LEN)
_EVENT_DROPPED_ATTRIBUTES = _tag(4, _VARINT)
# Span.Link (the stock encoder writes no trace state on links)
_LINK_TRACE_ID = _tag(1, _LEN) + b"\x10"
_LINK_SPAN_ID = _tag(2, _LEN) + b"\x08"
_LINK_ATTRIBUTES = _tag(4, _LEN)
_LINK_DROPPED_ATTRIBUTES = _tag(5, _VARINT)
_LINK_FLAGS_LOCAL = _tag(6, _FIXED32) + _pack_fixed32(0x100)
_LINK_FLAGS_REMOTE = _tag(6, _FIXED32) + _pack_fixed32(0x300)
# Status
_STATUS_MESSAGE = _tag(2, _LEN)
_STATUS_CODE = _tag(3, _VARINT)
_STATUS_UNSET = _STATUS + b"\x00"
# InstrumentationScope, Resource, ScopeSpans, ResourceSpans, ExportTraceServiceRequest
_SCOPE_NAME = _tag(1, _LEN)
_SCOPE_VERSION = _tag(2, _LEN)
_SCOPE_ATTRIBUTES = _tag(3, _LEN)
_RESOURCE_ATTRIBUTES = _tag(1, _LEN)
_SCOPE = _tag(1, _LEN)
_SPANS = _tag(2, _LEN)
_RESOURCE = _tag(1, _LEN)
_SCOPE_SPANS = _tag(2, _LEN)
_SCHEMA_URL = _tag(3, _LEN)
_RESOURCE_SPANS = _tag(1, _LEN)

# Cached pairs per container before the cache starts over: bounds memory when
# values never repeat (message IDs), while the pairs that do repeat are back after
# one miss.
_PAIR_CACHE_SIZE = 8192
# Distinct values of one key cached before the key counts as one whose values
# never repeat: more than any bounded set of subjects, operations or servers.
_VOLATILE_AFTER = 1024


def _field(tag: bytes, payload: bytes) -> bytes:
    return tag + _varint(len(payload)) + payload


def _any_value(value: Any) -> bytes | None:
    """The body of an ``AnyValue``, or ``None`` for what the stock encoder rejects."""
    # The same order of checks as the stock encoder: bool before int, str and
    # bytes before Sequence.
    if value is None:
        return b""
    if isinstance(value, bool):
        return _BOOL_TRUE if value else _BOOL_FALSE
    if isinstance(value, str):
        return _field(_STRING_VALUE, value.encode())
    if isinstance(value, int):
        if _INT64_MIN <= value <= _INT64_MAX:
            return _INT_VALUE + _varint(value & _UINT64_MASK)
        return None
    if isinstance(value, float):
        return _DOUBLE_VALUE + _pack_double(value)
    if isinstance(value, bytes):
        return _field(_BYTES_VALUE, value)
    if isinstance(value, Sequence):
        parts = []
        for item in value:
            encoded = _any_value(item)
            if encoded is None:
                return None
            parts.append(_field(_VALUES, encoded))
        return _field(_ARRAY_VALUE, b"".join(parts))
    if isinstance(value, Mapping):
        pairs = []
        for key, item in value.items():
            pair = _key_value(str(key), item)
            if pair is None:
                return None
            pairs.append(_VALUES + pair)
        return _field(_KVLIST_VALUE, b"".join(pairs))
    return None


def _key_value(key: str, value: Any) -> bytes | None:
    """A length-prefixed ``KeyValue``, ready to follow its container's field tag."""
    try:
        encoded = _any_value(value)
        encoded_key = key.encode()
    except (UnicodeEncodeError, RecursionError):
        encoded = None
    if encoded is None:
        _log.debug("natstrace: attribute %r cannot be carried by OTLP; skipped", key)
        return None
    body = _field(_KEY, encoded_key) + _field(_VALUE, encoded)
    return _varint(len(body)) + body


def _contents(items: Any) -> tuple[Any, int]:
    """A span's events or links, and how many were dropped."""
    if type(items) is BoundedList:
        return items._dq, items.dropped  # type: ignore[attr-defined]
    return items, 0


EncodedSpan = tuple[Resource, InstrumentationScope | None, bytes]
"""A span as :meth:`SpanEncoder.span` encoded it, with its resource and scope."""


class SpanEncoder:
    """Encodes batches of finished SDK spans; keeps what repeats between batches.

    One encoder serves one exporter; its caches are bounded.
    """

    def __init__(self) -> None:
        # Separate caches per exact value type: ("k", 1), ("k", 1.0) and ("k", True)
        # are equal dict keys but different attribute values.
        self._str_pairs: dict[tuple[str, str], bytes] = {}
        # Misses per key since the cache last started over; keys whose values missed
        # more often than _VOLATILE_AFTER are not cached any more.
        self._misses: dict[str, int] = {}
        self._volatile: set[str] = set()
        self._int_pairs: dict[tuple[str, int], bytes] = {}
        self._keys: dict[str, bytes] = {}
        self._names: dict[str, bytes] = {}
        self._resources: dict[int, tuple[Resource, bytes]] = {}
        self._scopes: dict[int, tuple[InstrumentationScope | None, bytes]] = {}

    def encode(self, spans: Sequence[ReadableSpan]) -> bytes:
        """The serialized ``ExportTraceServiceRequest`` for ``spans``."""
        return self.request(
            [(span.resource, span.instrumentation_scope, self.span(span)) for span in spans]
        )

    def request(self, spans: Iterable[EncodedSpan]) -> bytes:
        """The serialized ``ExportTraceServiceRequest`` for spans encoded by :meth:`span`,
        each with its resource and instrumentation scope."""
        # Group like the stock encoder: by equal resource, then equal scope, in
        # first-seen order. Identity first, so equality is checked once per object.
        resource_groups: list[
            tuple[Resource, list[tuple[InstrumentationScope | None, list[bytes]]]]
        ] = []
        group_of: dict[tuple[int, int], list[bytes]] = {}
        for resource, scope, encoded in spans:
            key = (id(resource), id(scope))
            group = group_of.get(key)
            if group is None:
                group = group_of[key] = self._group(resource_groups, resource, scope)
            group.append(encoded)
        return b"".join(
            _field(_RESOURCE_SPANS, self._resource_spans(resource, scopes))
            for resource, scopes in resource_groups
        )

    @staticmethod
    def _group(
        resource_groups: list[
            tuple[Resource, list[tuple[InstrumentationScope | None, list[bytes]]]]
        ],
        resource: Resource,
        scope: InstrumentationScope | None,
    ) -> list[bytes]:
        scopes = next(
            (
                known_scopes
                for known_resource, known_scopes in resource_groups
                if known_resource is resource or known_resource == resource
            ),
            None,
        )
        if scopes is None:
            scopes = []
            resource_groups.append((resource, scopes))
        for known_scope, group in scopes:
            if known_scope is scope or known_scope == scope:
                return group
        group = []
        scopes.append((scope, group))
        return group

    def _resource_spans(
        self,
        resource: Resource,
        scopes: list[tuple[InstrumentationScope | None, list[bytes]]],
    ) -> bytes:
        cached = self._resources.get(id(resource))
        if cached is None or cached[0] is not resource:
            if len(self._resources) > 64:
                self._resources.clear()
            body = self._attributes(_RESOURCE_ATTRIBUTES, resource.attributes)
            cached = self._resources[id(resource)] = (resource, _field(_RESOURCE, body))
        parts = [cached[1]]
        for scope, spans in scopes:
            scope_spans = self._scope(scope) + _SPANS + _SPANS.join(spans)
            parts.append(_field(_SCOPE_SPANS, scope_spans))
        if resource.schema_url:
            parts.append(_field(_SCHEMA_URL, resource.schema_url.encode()))
        return b"".join(parts)

    def _scope(self, scope: InstrumentationScope | None) -> bytes:
        """``ScopeSpans.scope`` and ``ScopeSpans.schema_url``, encoded."""
        cached = self._scopes.get(id(scope))
        if cached is None or cached[0] is not scope:
            if len(self._scopes) > 64:
                self._scopes.clear()
            encoded = _SCOPE + b"\x00"
            if scope is not None:
                body = b""
                if scope.name:
                    body += _field(_SCOPE_NAME, scope.name.encode())
                if scope.version:
                    body += _field(_SCOPE_VERSION, scope.version.encode())
                if scope.attributes:
                    body += self._attributes(_SCOPE_ATTRIBUTES, scope.attributes)
                encoded = _field(_SCOPE, body)
                if scope.schema_url:
                    encoded += _field(_SCHEMA_URL, scope.schema_url.encode())
            cached = self._scopes[id(scope)] = (scope, encoded)
        return cached[1]

    def _attributes(self, tag: bytes, attributes: Any) -> bytes:
        """Every pair of ``attributes`` as repeated ``KeyValue`` field ``tag``."""
        if type(attributes) is BoundedAttributes:
            # Its backing dict: the same pairs in the same order, without the
            # Python-level methods and the lock around each of them.
            attributes = attributes._dict
        if not attributes:
            return b""
        str_pairs = self._str_pairs
        int_pairs = self._int_pairs
        volatile = self._volatile
        parts = []
        for key, value in attributes.items():
            kind = type(value)
            if kind is str:
                pair = str_pairs.get((key, value))
                if pair is None:
                    pair = self._str_pair(key, value)
                    if pair is None:
                        continue
                    if key not in volatile:
                        self._remember(key, value, pair)
            elif kind is int:
                pair = int_pairs.get((key, value))
                if pair is None:
                    pair = _key_value(key, value)
                    if pair is None:
                        continue
                    if len(int_pairs) >= _PAIR_CACHE_SIZE:
                        int_pairs.clear()
                    int_pairs[key, value] = pair
            else:
                pair = _key_value(key, value)
                if pair is None:
                    continue
            parts.append(pair)
        if not parts:
            return b""
        return tag + tag.join(parts)

    def _remember(self, key: str, value: str, pair: bytes) -> None:
        """Cache a string pair, unless its key has shown that its values never repeat
        (message and correlation IDs): caching those would only grow the cache and
        push out the pairs that do repeat."""
        misses = self._misses.get(key, 0) + 1
        if misses > _VOLATILE_AFTER:
            if len(self._volatile) < _PAIR_CACHE_SIZE:
                self._volatile.add(key)
            return
        self._misses[key] = misses
        str_pairs = self._str_pairs
        if len(str_pairs) >= _PAIR_CACHE_SIZE:
            str_pairs.clear()
            self._misses.clear()
        str_pairs[key, value] = pair

    def _str_pair(self, key: str, value: str) -> bytes | None:
        """``_key_value`` for a string value, the common miss (IDs, subjects), inlined."""
        try:
            prefix = self._keys.get(key)
            if prefix is None:
                if len(self._keys) >= _PAIR_CACHE_SIZE:
                    self._keys.clear()
                prefix = self._keys[key] = _field(_KEY, key.encode()) + _VALUE
            encoded = value.encode()
        except UnicodeEncodeError:
            return _key_value(key, value)  # skipped, as the stock encoder does
        size = len(encoded)
        any_size = 1 + len(_varint(size)) + size
        body_size = len(prefix) + len(_varint(any_size)) + any_size
        return b"".join(
            (
                _varint(body_size),
                prefix,
                _varint(any_size),
                _STRING_VALUE,
                _varint(size),
                encoded,
            )
        )

    def span(self, span: ReadableSpan) -> bytes:
        """One finished span, encoded (length-prefixed, for :meth:`request`).

        Safe to call from several threads at once: the caches it shares are plain
        dicts, each lookup and store atomic; a lost store only costs a re-encode.
        """
        # The span's own fields rather than its properties: ``attributes`` would wrap
        # the container in a proxy, ``events`` and ``links`` copy theirs; each
        # property is a call, and this runs for every span exported.
        context = span._context
        parent = span._parent
        assert context is not None
        parts = [
            _TRACE_ID,
            context.trace_id.to_bytes(16, "big"),
            _SPAN_ID,
            context.span_id.to_bytes(8, "big"),
        ]
        trace_state = context.trace_state
        if trace_state:
            state = ",".join([f"{key}={value}" for key, value in trace_state.items()])
            parts.append(_field(_TRACE_STATE, state.encode()))
        if parent is not None:
            parts.append(_PARENT_SPAN_ID)
            parts.append(parent.span_id.to_bytes(8, "big"))
            parts.append(_SPAN_FLAGS_REMOTE if parent.is_remote else _SPAN_FLAGS_LOCAL)
        else:
            parts.append(_SPAN_FLAGS_LOCAL)
        name = span._name
        if name:
            encoded_name = self._names.get(name)
            if encoded_name is None:
                if len(self._names) >= _PAIR_CACHE_SIZE:
                    self._names.clear()
                encoded_name = self._names[name] = _field(_NAME, name.encode())
            parts.append(encoded_name)
        parts.append(_KINDS[span._kind._value_])
        if span._start_time:
            parts.append(_START_TIME + _pack_fixed64(span._start_time))
        if span._end_time:
            parts.append(_END_TIME + _pack_fixed64(span._end_time))
        attributes = span._attributes
        encoded_attributes = self._attributes(_SPAN_ATTRIBUTES, attributes)
        if encoded_attributes:
            parts.append(encoded_attributes)
        if type(attributes) is BoundedAttributes and attributes.dropped:
            parts.append(_DROPPED_ATTRIBUTES + _varint(attributes.dropped))
        # The SDK's bounded lists copy themselves, under a lock, to be iterated or
        # sized: their deque is read directly.
        events, dropped_events = _contents(span._events)
        if events:
            for event in events:
                parts.append(self._event(event))
        if dropped_events:
            parts.append(_DROPPED_EVENTS + _varint(dropped_events))
        links, dropped_links = _contents(span._links)
        if links:
            for link in links:
                parts.append(self._link(link.context, link.attributes, link.dropped_attributes))
        if dropped_links:
            parts.append(_DROPPED_LINKS + _varint(dropped_links))
        status = span._status
        if status.status_code is StatusCode.UNSET and not status.description:
            parts.append(_STATUS_UNSET)
        else:
            parts.append(self._status(status))
        body = b"".join(parts)
        return _varint(len(body)) + body

    @staticmethod
    def _status(status: Status) -> bytes:
        body = b""
        if status.description:
            body = _field(_STATUS_MESSAGE, status.description.encode())
        if status.status_code is not StatusCode.UNSET:
            body += _STATUS_CODE + _varint(status.status_code.value)
        return _field(_STATUS, body)

    def _event(self, event: Any) -> bytes:
        body = b""
        if event.timestamp:
            body += _EVENT_TIME + _pack_fixed64(event.timestamp)
        if event.name:
            body += _field(_EVENT_NAME, event.name.encode())
        body += self._attributes(_EVENT_ATTRIBUTES, event.attributes)
        if event.dropped_attributes:
            body += _EVENT_DROPPED_ATTRIBUTES + _varint(event.dropped_attributes)
        return _field(_EVENTS, body)

    def _link(self, context: SpanContext, attributes: Any, dropped: int) -> bytes:
        body = (
            _LINK_TRACE_ID
            + context.trace_id.to_bytes(16, "big")
            + _LINK_SPAN_ID
            + context.span_id.to_bytes(8, "big")
            + self._attributes(_LINK_ATTRIBUTES, attributes)
        )
        if dropped:
            body += _LINK_DROPPED_ATTRIBUTES + _varint(dropped)
        body += _LINK_FLAGS_REMOTE if context.is_remote else _LINK_FLAGS_LOCAL
        return _field(_LINKS, body)
