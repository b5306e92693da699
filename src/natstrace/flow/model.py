"""The one span model the flow tools work on, whatever the source.

Both sources (OTLP JSON lines files and Jaeger's query API) speak OTLP JSON, and
both are decoded into these frozen dataclasses; everything downstream reads only
these. IDs are lowercase hex, times are Unix nanoseconds.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import IntEnum
from typing import TypeAlias

from natstrace.flow import attributes as attr

__all__ = ["AttributeValue", "Span", "SpanEvent", "SpanKind", "SpanLink", "StatusCode"]

AttributeValue: TypeAlias = (
    "str | bool | int | float | bytes | tuple[AttributeValue, ...] "
    "| dict[str, AttributeValue] | None"
)
"""A decoded OTLP ``AnyValue``: arrays become tuples, key-value lists dicts."""


class SpanKind(IntEnum):
    """OTLP ``Span.SpanKind`` (the numbers are the wire values)."""

    UNSPECIFIED = 0
    INTERNAL = 1
    SERVER = 2
    CLIENT = 3
    PRODUCER = 4
    CONSUMER = 5


class StatusCode(IntEnum):
    """OTLP ``Status.StatusCode``."""

    UNSET = 0
    OK = 1
    ERROR = 2


@dataclass(frozen=True, slots=True)
class SpanLink:
    """A link from a span to another span, usually in another trace."""

    trace_id: str
    span_id: str
    attributes: Mapping[str, AttributeValue] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class SpanEvent:
    """A timestamped event on a span (an exception, a settlement, ...)."""

    name: str
    time_ns: int
    attributes: Mapping[str, AttributeValue] = field(default_factory=dict)


# Older convention versions called these "publish" and "deliver".
_SEND_TYPES = frozenset({"send", "publish", "create"})
_PROCESS_TYPES = frozenset({"process", "deliver"})


def _text(value: AttributeValue) -> str | None:
    if value is None or value == "":
        return None
    return value if isinstance(value, str) else str(value)


# Not frozen: a frozen dataclass assigns every field through object.__setattr__,
# which made decoding 100,000 spans measurably slower. Treat spans as read-only.
@dataclass(slots=True, eq=False)
class Span:
    """One span, with accessors for the messaging attributes the tools use.

    Read-only by convention; equality is identity (two decoded copies of the same
    span are merged by (trace ID, span ID) in :class:`~.spanset.SpanSet`)."""

    trace_id: str
    span_id: str
    parent_span_id: str | None
    name: str
    kind: SpanKind
    service: str
    start_ns: int
    end_ns: int
    attributes: Mapping[str, AttributeValue] = field(default_factory=dict)
    status: StatusCode = StatusCode.UNSET
    status_message: str = ""
    events: tuple[SpanEvent, ...] = ()
    links: tuple[SpanLink, ...] = ()
    operation_type: str | None = field(init=False, compare=False)
    """``send``, ``process``, ``receive``, ``settle``: from the attribute, else the kind.
    Computed once: every tool asks it of every span."""

    def __post_init__(self) -> None:
        value = _text(self.attributes.get(attr.OPERATION_TYPE))
        if value is None:
            # Spans from other instrumentations may only carry a kind.
            if self.kind is SpanKind.PRODUCER:
                value = "send"
            elif self.kind is SpanKind.CONSUMER:
                value = "process"
        self.operation_type = value

    @property
    def duration_ns(self) -> int:
        """End minus start; 0 for a span whose end was lost."""
        return max(0, self.end_ns - self.start_ns)

    def text(self, key: str) -> str | None:
        """The attribute ``key`` as text, ``None`` when absent or empty."""
        return _text(self.attributes.get(key))

    @property
    def is_send(self) -> bool:
        """A producer span: a publish or a request (both have operation type ``send``)."""
        return self.operation_type in _SEND_TYPES

    @property
    def is_receive(self) -> bool:
        """A fetch (JetStream pull): linked to the sends of the messages it returned."""
        return self.operation_type == "receive"

    @property
    def is_process(self) -> bool:
        """A consumer span that handled one message."""
        return self.operation_type in _PROCESS_TYPES

    @property
    def template(self) -> str:
        """The subject template; falls back to the span name minus its operation."""
        value = self.text(attr.DESTINATION_TEMPLATE)
        if value is not None:
            return value
        _, _, rest = self.name.partition(" ")
        return rest or self.name

    @property
    def subject(self) -> str | None:
        """The concrete subject (``messaging.destination.name``)."""
        return self.text(attr.DESTINATION_NAME)

    @property
    def message_id(self) -> str | None:
        """``messaging.message.id`` (the ``Nats-Msg-Id`` header)."""
        return self.text(attr.MESSAGE_ID)

    @property
    def conversation_id(self) -> str | None:
        """The correlation ID (``messaging.message.conversation_id``)."""
        return self.text(attr.CONVERSATION_ID)

    @property
    def causation_id(self) -> str | None:
        """The ID of the message whose handling caused this one."""
        return self.text(attr.CAUSATION_ID)

    @property
    def delivery_count(self) -> int:
        """How often the message had been delivered; 1 when not recorded."""
        value = self.attributes.get(attr.DELIVERY_COUNT)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, str) and value.isdigit():
            return int(value)
        return 1

    @property
    def failed(self) -> bool:
        """Status ERROR."""
        return self.status is StatusCode.ERROR

    @property
    def error_type(self) -> str | None:
        """``error.type``, else the recorded exception's type, else the status message."""
        value = self.text(attr.ERROR_TYPE)
        if value is not None:
            return value
        for event in self.events:
            if event.name == attr.EXCEPTION_EVENT:
                found = _text(event.attributes.get(attr.EXCEPTION_TYPE))
                if found is not None:
                    return found
        if self.failed:
            return self.status_message or "error"
        return None

    @property
    def error_message(self) -> str | None:
        """The recorded exception's message, else the status message when it adds one."""
        for event in self.events:
            if event.name == attr.EXCEPTION_EVENT:
                found = _text(event.attributes.get(attr.EXCEPTION_MESSAGE))
                if found is not None:
                    return found
        if self.failed and self.status_message and self.status_message != self.error_type:
            return self.status_message
        return None
