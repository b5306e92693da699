"""A workflow as a sequence of messages between services (a sequence diagram).

Every delivery of a message is one arrow from the service that sent it to the
service that handled it, so a redelivered message shows each delivery; a reply
to a request is an arrow back to the requester; a message nobody handled goes to
``(nobody)``. Arrows are in causal order: a message comes after the delivery
whose handling sent it, and otherwise in time order, so clock skew between hosts
cannot put an effect above its cause.
"""

from __future__ import annotations

import heapq
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

from natstrace.flow import attributes as attr
from natstrace.flow.model import Span
from natstrace.flow.topology_render import NOBODY, UNTRACED
from natstrace.flow.tree import Cause, Flow, FlowNode

__all__ = ["Arrow", "ArrowKind", "Sequence", "build_sequence", "render_sequence_mermaid"]

ArrowKind = Literal["message", "request", "reply", "unconsumed"]


@dataclass(frozen=True, slots=True)
class Arrow:
    """One message on the diagram: a delivery, a reply, or a send nobody handled."""

    kind: ArrowKind
    source: str
    target: str
    template: str
    send: Span | None
    """The send or request span (``None`` for a delivery of an untraced send)."""
    delivery: Span | None
    """The process span that handled it (``None`` for replies and unconsumed sends)."""
    offset_ns: int
    """When the arrow lands: the delivery's start, else the send's, from the workflow start."""
    delivery_count: int
    settlement: str | None
    cause: Cause
    """How the delivery was tied to its send (``link`` when across traces)."""

    @property
    def failed_span(self) -> Span | None:
        """The span that failed on this arrow, the handling first."""
        for span in (self.delivery, self.send):
            if span is not None and (span.failed or span.error_type is not None):
                return span
        return None

    @property
    def error(self) -> str | None:
        """``Type: message`` of the failure on this arrow, if any."""
        span = self.failed_span
        if span is None:
            return None
        message = span.error_message
        return f"{span.error_type}: {message}" if message else span.error_type


@dataclass(frozen=True, slots=True)
class Sequence:
    """The lifelines (services, in order of first appearance) and the arrows."""

    participants: list[str]
    arrows: list[Arrow]


def _is_request(span: Span) -> bool:
    return span.name.startswith("request ") or span.text(attr.OPERATION_NAME) == "request"


def _walk(flow: Flow) -> Iterator[tuple[FlowNode, FlowNode | None]]:
    """Every node with the nearest process node above it (the handling it ran in)."""
    stack: list[tuple[FlowNode, FlowNode | None]] = [(n, None) for n in reversed(flow.roots)]
    while stack:
        node, handling = stack.pop()
        yield node, handling
        inner = node if node.span.is_process else handling
        stack.extend((child, inner) for child in reversed(node.children))


def _arrows(flow: Flow) -> list[tuple[Arrow, int | None, int]]:
    """Arrows with the ID of the handling that caused them and their own delivery's."""
    found: list[tuple[Arrow, int | None, int]] = []
    for node, handling in _walk(flow):
        span = node.span
        cause_id = id(handling) if handling is not None else None
        if span.is_process and node.producer is None:
            arrow = Arrow(
                "message", UNTRACED, span.service, span.template, None, span, node.offset_ns,
                span.delivery_count, node.settlement, node.cause,
            )  # fmt: skip
            found.append((arrow, cause_id, id(node)))
        if not span.is_send:
            continue
        deliveries = [c for c in node.children if c.span.is_process and c.producer is span]
        kind: ArrowKind = "request" if _is_request(span) else "message"
        for child in deliveries:
            arrow = Arrow(
                kind, span.service, child.span.service, span.template, span, child.span,
                child.offset_ns, child.span.delivery_count, child.settlement, child.cause,
            )  # fmt: skip
            found.append((arrow, cause_id, id(child)))
        if deliveries:
            continue
        template = span.template
        if template.startswith("_INBOX"):
            requester = handling.producer if handling is not None else None
            if requester is None:
                continue
            target, kind = requester.service, "reply"
        elif template.startswith(attr.IGNORED_TEMPLATE_PREFIXES):
            continue
        else:
            target, kind = NOBODY, "unconsumed"
        arrow = Arrow(
            kind, span.service, target, template, span, None, node.offset_ns, 1, None,
            node.cause,
        )  # fmt: skip
        found.append((arrow, cause_id, id(node)))
    return found


def build_sequence(flow: Flow) -> Sequence:
    """The workflow's messages in causal order, and its lifelines."""
    found = _arrows(flow)
    # Kahn's algorithm over "caused by", always taking the earliest arrow that is
    # ready: time order wherever it does not contradict causality.
    waiting: dict[int, list[int]] = {}
    delivered_by = {own: number for number, (_, _, own) in enumerate(found)}
    ready: list[tuple[int, int]] = []
    for number, (arrow, cause_id, _) in enumerate(found):
        parent = delivered_by.get(cause_id) if cause_id is not None else None
        if parent is None or parent == number:
            heapq.heappush(ready, (arrow.offset_ns, number))
        else:
            waiting.setdefault(parent, []).append(number)
    ordered: list[Arrow] = []
    while ready:
        _, number = heapq.heappop(ready)
        ordered.append(found[number][0])
        for follower in waiting.pop(number, ()):
            heapq.heappush(ready, (found[follower][0].offset_ns, follower))
    # Lifelines in the order the arrows first touch them, (nobody) last.
    ends = dict.fromkeys(name for a in ordered for name in (a.source, a.target))
    participants = [n for n in ends if n != NOBODY]
    participants.extend(n for n in flow.services if n not in ends)
    participants.extend(n for n in ends if n == NOBODY)
    return Sequence(participants, ordered)


_MERMAID_SPECIAL = re.compile("[#;]")


def _mermaid_text(text: str) -> str:
    # Mermaid ends a statement at ";" and reads "#...;" as an entity.
    return _MERMAID_SPECIAL.sub(lambda m: f"#{ord(m.group())};", text).replace("\n", " ")


def arrow_label(arrow: Arrow) -> str:
    """``shipments.requested · delivery #2 · nak``: the words on an arrow."""
    parts = [arrow.template]
    if arrow.kind == "reply":
        parts = ["reply"]
    elif arrow.kind == "request":
        parts.append("request")
    if arrow.delivery_count > 1:
        parts.append(f"delivery #{arrow.delivery_count}")
    if arrow.settlement:
        parts.append(arrow.settlement)
    if arrow.cause == "link":
        parts.append("[link]")
    if arrow.kind == "unconsumed":
        parts.append("never processed")
    return " · ".join(parts)


_MERMAID_ARROWS = {"message": "->>", "request": "->>", "reply": "-->>", "unconsumed": "-)"}


def render_sequence_mermaid(sequence: Sequence) -> str:
    """A Mermaid ``sequenceDiagram``; a failed delivery ends in a cross and its
    error is a note on the service that failed."""
    ids = {name: f"p{number}" for number, name in enumerate(sequence.participants)}
    lines = ["sequenceDiagram"]
    lines.extend(f"    participant {ids[n]} as {_mermaid_text(n)}" for n in sequence.participants)
    for arrow in sequence.arrows:
        error = arrow.error
        line = "-x" if error and arrow.delivery is not None else _MERMAID_ARROWS[arrow.kind]
        lines.append(
            f"    {ids[arrow.source]}{line}{ids[arrow.target]}: {_mermaid_text(arrow_label(arrow))}"
        )
        if error:
            where = arrow.target if arrow.delivery is not None else arrow.source
            lines.append(f"    Note over {ids[where]}: {_mermaid_text(error)}")
    return "\n".join(lines) + "\n"
