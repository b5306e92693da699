"""Hand-made spans for the cases a short real run cannot produce cheaply
(redeliveries, settlements, lost trace context, cycles)."""

from __future__ import annotations

import itertools

from natstrace.flow import Span, SpanEvent, SpanKind, SpanLink, StatusCode
from natstrace.flow.model import AttributeValue

_ids = itertools.count(1)
MS = 1_000_000


def span(
    name: str,
    *,
    service: str = "svc",
    trace: str | None = None,
    parent: Span | None = None,
    links: tuple[Span, ...] = (),
    start_ms: float = 0,
    duration_ms: float = 1,
    correlation: str | None = "wf-1",
    message_id: str | None = None,
    causation: str | None = None,
    failed: bool = False,
    events: tuple[SpanEvent, ...] = (),
    **extra: AttributeValue,
) -> Span:
    """A span named like the middleware names them (``send x``, ``process x``)."""
    operation, _, template = name.partition(" ")
    attributes: dict[str, AttributeValue] = {
        "messaging.system": "nats",
        "messaging.operation.type": operation if operation != "request" else "send",
        "messaging.operation.name": operation,
        "messaging.destination.template": template,
        "messaging.destination.name": template,
    }
    if correlation:
        attributes["messaging.message.conversation_id"] = correlation
    if message_id:
        attributes["messaging.message.id"] = message_id
    if causation:
        attributes["natstrace.causation_id"] = causation
    attributes.update({key.replace("__", "."): value for key, value in extra.items()})
    trace_id = trace or (parent.trace_id if parent else f"{next(_ids):032x}")
    kind = {"send": SpanKind.PRODUCER, "process": SpanKind.CONSUMER}.get(operation, SpanKind.CLIENT)
    start = int(1_700_000_000_000 * MS + start_ms * MS)
    return Span(
        trace_id=trace_id,
        span_id=f"{next(_ids):016x}",
        parent_span_id=parent.span_id if parent else None,
        name=name,
        kind=kind,
        service=service,
        start_ns=start,
        end_ns=start + int(duration_ms * MS),
        attributes=attributes,
        status=StatusCode.ERROR if failed else StatusCode.UNSET,
        events=events,
        links=tuple(SpanLink(t.trace_id, t.span_id) for t in links),
    )
