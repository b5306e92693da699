"""A set of finished spans seen as a message flow: who sent what, who handled it.

:func:`render_tree` draws the flow the way people picture it, one span per line,
indented under the span that caused it: its parent, or for a consumer span that
starts a new trace (the ``link`` policy), the producer it links to::

    orders: send orders.created [UNSET]
      payments: process orders.* [ERROR: ValueError]
        payments: send payments.failed [UNSET]

Assertion failures show this tree, so a wrong flow explains itself.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import StatusCode

from natstrace.tracing import semconv as sc

__all__ = [
    "correlation_id",
    "flow_of",
    "operation",
    "render_tree",
    "service_name",
    "template",
]

_INDENT = "  "


def service_name(span: ReadableSpan) -> str:
    """The ``service.name`` of the resource that recorded ``span``."""
    return str(span.resource.attributes.get("service.name", "unknown_service"))


def operation(span: ReadableSpan) -> str | None:
    """``messaging.operation.name`` (``send``, ``request``, ``process`` ...), if any."""
    value = (span.attributes or {}).get(sc.MESSAGING_OPERATION_NAME)
    return str(value) if value is not None else None


def template(span: ReadableSpan) -> str | None:
    """The subject template (``messaging.destination.template``), if any."""
    value = (span.attributes or {}).get(sc.MESSAGING_DESTINATION_TEMPLATE)
    return str(value) if value is not None else None


def correlation_id(span: ReadableSpan) -> str | None:
    """The correlation ID (``messaging.message.conversation_id``), if any."""
    value = (span.attributes or {}).get(sc.MESSAGING_MESSAGE_CONVERSATION_ID)
    return str(value) if value is not None else None


def _span_id(span: ReadableSpan) -> int:
    return span.context.span_id if span.context is not None else 0


def _start(span: ReadableSpan) -> int:
    return span.start_time or 0


def flow_of(spans: Iterable[ReadableSpan], correlation: str) -> list[ReadableSpan]:
    """The spans of one workflow: those carrying ``correlation`` and everything under them
    (a handler's own spans, say a database call, carry no correlation ID), by start time."""
    spans = list(spans)
    selected = {_span_id(s) for s in spans if correlation_id(s) == correlation}
    grew = True
    while grew:
        grew = False
        for span in spans:
            parent = span.parent.span_id if span.parent is not None else None
            if parent in selected and _span_id(span) not in selected:
                selected.add(_span_id(span))
                grew = True
    return sorted((s for s in spans if _span_id(s) in selected), key=_start)


def _status(span: ReadableSpan) -> str:
    status = span.status
    if status.status_code is StatusCode.ERROR:
        return f"ERROR: {status.description}" if status.description else "ERROR"
    return status.status_code.name


def _cause(span: ReadableSpan, known: set[int]) -> tuple[int | None, bool]:
    """The span this one hangs under in the tree, and whether that is by a link."""
    if span.parent is not None and span.parent.span_id in known:
        return span.parent.span_id, False
    for link in span.links:
        if link.context.span_id in known:
            return link.context.span_id, True
    return None, False


def render_tree(spans: Sequence[ReadableSpan]) -> str:
    """Draw ``spans`` as an indented tree: ``service: span name [status]`` per line."""
    if not spans:
        return "(no spans)"
    ordered = sorted(spans, key=_start)
    known = {_span_id(s) for s in ordered}
    children: dict[int | None, list[tuple[ReadableSpan, bool]]] = {}
    for span in ordered:
        cause, linked = _cause(span, known)
        children.setdefault(cause, []).append((span, linked))
    lines: list[str] = []

    def draw(parent: int | None, depth: int, seen: set[int]) -> None:
        for span, linked in children.get(parent, []):
            span_id = _span_id(span)
            if span_id in seen:  # a cycle of links cannot hang the message
                continue
            seen.add(span_id)
            note = " (linked)" if linked else ""
            lines.append(
                f"{_INDENT * depth}{service_name(span)}: {span.name} [{_status(span)}]{note}"
            )
            draw(span_id, depth + 1, seen)

    draw(None, 0, set())
    return "\n".join(lines)
