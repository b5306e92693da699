"""One line per workflow for the console's list, and the search over them.

Built once per change of the data, in one pass over the index, so that listing
and searching tens of thousands of workflows is a scan of small records.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from natstrace.flow import attributes as attr
from natstrace.flow.bulk import paused_gc
from natstrace.flow.index import SpanIndex
from natstrace.flow.model import Span

__all__ = ["WorkflowSummary", "matches", "summarize"]

_FIELDS = {"id": "ids", "service": "services", "subject": "templates", "error": "errors"}
"""Search prefixes (``service:orders``) and the summary field each one reads."""


@dataclass(slots=True)
class WorkflowSummary:
    """What the list shows of one workflow (times in Unix nanoseconds)."""

    correlation_id: str
    start_ns: int
    end_ns: int
    services: list[str] = field(default_factory=list)
    templates: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    """Distinct error types, in order of appearance."""
    hops: int = 0
    """Deliveries: process spans, one per message handled (redeliveries count)."""
    spans: int = 0
    failed: bool = False
    """A message's last delivery failed, or a send failed: the workflow did not recover."""
    redelivered: bool = False
    unconsumed_since_ns: int | None = None
    """The earliest send nobody processed (judged against the clock when asked)."""
    _search: str = ""

    def status(self, now_ns: int, grace_ns: int) -> dict[str, Any]:
        """The workflow's state and flags, with sends younger than ``grace_ns`` before
        ``now_ns`` not yet counted as unconsumed."""
        unconsumed = (
            self.unconsumed_since_ns is not None and self.unconsumed_since_ns <= now_ns - grace_ns
        )
        return {
            "status": "failed" if self.failed else "completed",
            "redelivered": self.redelivered,
            "unconsumed": unconsumed,
            "errors": self.errors,
        }


def _new(correlation_id: str, span: Span) -> WorkflowSummary:
    return WorkflowSummary(correlation_id, span.start_ns, span.end_ns)


def summarize(index: SpanIndex) -> list[WorkflowSummary]:
    """Every workflow (correlation ID) in ``index``, most recent first."""
    with paused_gc():
        return _summarize(index)


def _summarize(index: SpanIndex) -> list[WorkflowSummary]:
    found: dict[str, WorkflowSummary] = {}
    for span in index.spans:
        correlation_id = span.conversation_id
        if correlation_id is None:
            continue
        summary = found.get(correlation_id)
        if summary is None:
            summary = found[correlation_id] = _new(correlation_id, span)
        summary.spans += 1
        # A pull fetch starts waiting before its message exists: not the workflow's start.
        if not span.is_receive:
            summary.start_ns = min(summary.start_ns, span.start_ns)
        summary.end_ns = max(summary.end_ns, span.end_ns)
        if span.service not in summary.services:
            summary.services.append(span.service)
        if span.is_process:
            summary.hops += 1
            summary.redelivered |= span.delivery_count > 1
        if (span.is_send or span.is_process) and span.template not in summary.templates:
            summary.templates.append(span.template)
        error = span.error_type if span.failed else None
        if error is not None and error not in summary.errors:
            summary.errors.append(error)
        if span.is_send:
            _judge_send(summary, span, index)
    for summary in found.values():
        summary._search = "\n".join(
            [summary.correlation_id, *summary.services, *summary.templates, *summary.errors]
        ).lower()
    return sorted(found.values(), key=lambda s: s.start_ns, reverse=True)


def _judge_send(summary: WorkflowSummary, span: Span, index: SpanIndex) -> None:
    deliveries = index.consumers_of(span)
    if span.failed:
        summary.failed = True
    if deliveries:
        last = max(deliveries, key=lambda d: d.start_ns)
        summary.failed |= last.failed
        if len(deliveries) > 1:
            summary.redelivered |= len(deliveries) > len({d.service for d in deliveries})
    elif not span.template.startswith(attr.IGNORED_TEMPLATE_PREFIXES):
        since = summary.unconsumed_since_ns
        summary.unconsumed_since_ns = span.start_ns if since is None else min(since, span.start_ns)


def matches(summary: WorkflowSummary, terms: list[str]) -> bool:
    """Whether every search term matches: ``word`` anywhere (correlation ID, service,
    subject template, error type), ``service:word`` / ``subject:`` / ``error:`` /
    ``id:`` in that field only; case-insensitive substrings."""
    for term in terms:
        name, colon, value = term.partition(":")
        target = _FIELDS.get(name) if colon else None
        if target is None:
            if term not in summary._search:
                return False
            continue
        if target == "ids":
            if value not in summary.correlation_id.lower():
                return False
        elif not any(value in item.lower() for item in getattr(summary, target)):
            return False
    return True
