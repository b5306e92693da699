"""Assertions on a message flow, phrased as the questions people ask about one.

Each takes the finished spans (from any ``InMemorySpanExporter``, or
:attr:`natstrace.testing.SpanCapture.spans`) and, when the answer is no, raises
``AssertionError`` with the actual flow drawn as a tree::

    assert_hops(spans, correlation, ["orders: send orders.created",
                                     "billing: process orders.*"])
    assert_processed_by(spans, "billing", message_id=msg_id)
    assert_all_consumed(spans)
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from opentelemetry.sdk.trace import ReadableSpan

from natstrace.client.subjects import INBOX_TEMPLATE, subject_matches
from natstrace.testing.flow import (
    correlation_id,
    flow_of,
    operation,
    render_tree,
    service_name,
    template,
)
from natstrace.tracing import semconv as sc

__all__ = ["Hop", "assert_all_consumed", "assert_hops", "assert_processed_by"]


@dataclass(frozen=True)
class Hop:
    """One step of a flow: a service and a span name (``process orders.*``) or a subject
    template (``orders.*``, any operation on it).

    Written as a string, ``"billing: process orders.*"``; without ``service:`` any
    service matches.
    """

    service: str | None
    what: str

    @classmethod
    def parse(cls, hop: str | Hop) -> Hop:
        """``"service: span name or template"`` -> :class:`Hop`."""
        if isinstance(hop, Hop):
            return hop
        service, sep, what = hop.partition(":")
        if not sep:
            return cls(None, hop.strip())
        return cls(service.strip() or None, what.strip())

    def matches(self, span: ReadableSpan) -> bool:
        """Whether ``span`` is this hop."""
        if self.service is not None and service_name(span) != self.service:
            return False
        return self.what in (span.name, template(span))

    def __str__(self) -> str:
        return f"{self.service}: {self.what}" if self.service else self.what


def _messaging(spans: Iterable[ReadableSpan]) -> list[ReadableSpan]:
    return [s for s in spans if operation(s) is not None]


def _known_correlations(spans: Iterable[ReadableSpan]) -> list[str]:
    return sorted({c for s in spans if (c := correlation_id(s)) is not None})


def assert_hops(
    spans: Iterable[ReadableSpan],
    correlation: str,
    hops: Sequence[str | Hop],
    *,
    exact: bool = False,
) -> None:
    """Assert that the workflow ``correlation`` went through ``hops`` in this order.

    The hops must appear in order of their spans' start; other spans may come in
    between unless ``exact`` (then the hops are all its messaging spans).

    Example::

        assert_hops(spans, correlation, [
            "orders: send orders.created",
            "billing: process orders.*",
            "billing: send invoices.issued",
        ])
    """
    spans = list(spans)
    expected = [Hop.parse(h) for h in hops]
    flow = flow_of(spans, correlation)
    if not flow:
        known = ", ".join(repr(c) for c in _known_correlations(spans)) or "none"
        raise AssertionError(
            f"no span carries correlation ID {correlation!r} (correlation IDs seen: {known})\n"
            f"all spans:\n{_indent(render_tree(spans))}"
        )
    steps = _messaging(flow)
    matched: list[ReadableSpan] = []
    position = 0
    for hop in expected:
        found = next((i for i in range(position, len(steps)) if hop.matches(steps[i])), None)
        if found is None:
            break
        matched.append(steps[found])
        position = found + 1
    complete = len(matched) == len(expected)
    if complete and (not exact or len(matched) == len(steps)):
        return
    lines = [f"correlation ID {correlation!r} did not go through the expected hops:"]
    for index, hop in enumerate(expected):
        mark = "ok" if index < len(matched) else "MISSING"
        lines.append(f"  {index + 1}. {hop}  -- {mark}")
    if complete:
        extra = [s for s in steps if s not in matched]
        lines.append("  unexpected: " + ", ".join(f"{service_name(s)}: {s.name}" for s in extra))
    lines.append("actual flow:")
    lines.append(_indent(render_tree(flow)))
    raise AssertionError("\n".join(lines))


def assert_processed_by(
    spans: Iterable[ReadableSpan],
    service: str,
    *,
    message_id: str | None = None,
    correlation: str | None = None,
    subject: str | None = None,
) -> ReadableSpan:
    """Assert that ``service`` handled a message (a ``process`` span); return its span.

    Narrow it down by the message's ID, its workflow, or its subject (a concrete
    subject or a template such as ``orders.*``).

    Example::

        assert_processed_by(spans, "billing", message_id=headers["Nats-Msg-Id"])
    """
    spans = list(spans)
    for span in spans:
        if operation(span) != sc.PROCESS or service_name(span) != service:
            continue
        attributes = span.attributes or {}
        if message_id is not None and attributes.get(sc.MESSAGING_MESSAGE_ID) != message_id:
            continue
        if correlation is not None and correlation_id(span) != correlation:
            continue
        if subject is not None and subject not in (
            attributes.get(sc.MESSAGING_DESTINATION_NAME),
            template(span),
        ):
            continue
        return span
    wanted = ", ".join(
        f"{name} {value!r}"
        for name, value in (
            ("message", message_id),
            ("correlation ID", correlation),
            ("subject", subject),
        )
        if value is not None
    )
    shown = _related(spans, message_id, correlation)
    raise AssertionError(
        f"{service!r} processed no message{' with ' + wanted if wanted else ''}\n"
        f"actual flow:\n{_indent(render_tree(shown))}"
    )


def assert_all_consumed(spans: Iterable[ReadableSpan], *, ignore: Iterable[str] = ()) -> None:
    """Assert that every message sent was processed: each ``send`` or ``request`` span
    has a ``process`` span under it (its child, or linked to it).

    Replies (to ``_INBOX``) are not checked: nats-py's request machinery takes them.
    ``ignore`` lists subjects or wildcard patterns nobody is meant to consume.

    Example::

        assert_all_consumed(spans, ignore=["audit.>"])
    """
    spans = list(spans)
    patterns = tuple(ignore)
    consumed: set[int] = set()
    for span in spans:
        if operation(span) != sc.PROCESS:
            continue
        if span.parent is not None:
            consumed.add(span.parent.span_id)
        consumed.update(link.context.span_id for link in span.links)
    unconsumed = [
        span
        for span in spans
        if operation(span) in (sc.SEND, sc.REQUEST)
        and template(span) != INBOX_TEMPLATE
        and span.context is not None
        and span.context.span_id not in consumed
        and not _ignored(span, patterns)
    ]
    if not unconsumed:
        return
    lines = [f"{len(unconsumed)} message(s) sent but never processed:"]
    for span in unconsumed:
        attributes = span.attributes or {}
        lines.append(
            f"  {service_name(span)}: {span.name} (message "
            f"{attributes.get(sc.MESSAGING_MESSAGE_ID)!r}, correlation ID "
            f"{correlation_id(span)!r})"
        )
    lines.append("actual flow:")
    lines.append(_indent(render_tree(spans)))
    raise AssertionError("\n".join(lines))


def _ignored(span: ReadableSpan, patterns: tuple[str, ...]) -> bool:
    subject = str((span.attributes or {}).get(sc.MESSAGING_DESTINATION_NAME, ""))
    return any(p == template(span) or subject_matches(p, subject) for p in patterns)


def _related(
    spans: list[ReadableSpan], message_id: str | None, correlation: str | None
) -> list[ReadableSpan]:
    """The part of the flow worth showing: the message's workflow when it is known."""
    if correlation is None and message_id is not None:
        correlation = next(
            (
                correlation_id(s)
                for s in spans
                if (s.attributes or {}).get(sc.MESSAGING_MESSAGE_ID) == message_id
            ),
            None,
        )
    return flow_of(spans, correlation) if correlation is not None else spans


def _indent(text: str) -> str:
    return "\n".join("  " + line for line in text.splitlines())
