"""Messages that were sent but never processed, and subscriptions that went quiet.

A send is an orphan when no process span anywhere in the data refers to it (see
:mod:`.index`). When the data may still grow (a trace file a writer holds open,
Jaeger), sends in the last ``grace`` before the data was read are not judged:
their consumers may simply not have finished yet. Finished data (a file nobody
writes any more) is judged whole, however recent its last send.

A subscription that receives nothing records no span at all, so spans cannot
list the subscriptions that never got a message. What they can show is a
subscription that processed messages *outside* the window but none inside it;
those are reported as quiet.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from natstrace.flow import attributes as attr
from natstrace.flow.index import SpanIndex
from natstrace.flow.model import Span
from natstrace.flow.window import TimeWindow

__all__ = ["QUIET_NOTE", "OrphanGroup", "OrphanReport", "QuietSubscription", "find_orphans"]

QUIET_NOTE = (
    "a subscription that never received a message records no span; only "
    "subscriptions seen outside the window but silent inside it can be listed"
)


@dataclass(slots=True)
class OrphanGroup:
    """The unprocessed sends of one (service, subject template)."""

    service: str
    template: str
    count: int
    sample: Span
    """One of the sends, to look up in a trace viewer."""
    first_ns: int
    last_ns: int


@dataclass(frozen=True, slots=True)
class QuietSubscription:
    """A (service, template) that processed messages, but none inside the window."""

    service: str
    template: str
    last_seen_ns: int


@dataclass(slots=True)
class OrphanReport:
    """What :func:`find_orphans` found."""

    groups: list[OrphanGroup]
    sends_checked: int
    quiet: list[QuietSubscription] = field(default_factory=list)
    note: str = QUIET_NOTE
    sends_too_recent: int = 0
    """Sends in the window left unjudged because they fell within the grace period."""


def _ignored(template: str, prefixes: Sequence[str]) -> bool:
    return template.startswith(tuple(prefixes))


def find_orphans(
    spans: Iterable[Span],
    window: TimeWindow | None = None,
    *,
    grace_ns: int = 5 * 10**9,
    read_at_ns: int | None = None,
    ignore_prefixes: Sequence[str] = attr.IGNORED_TEMPLATE_PREFIXES,
) -> OrphanReport:
    """Group the sends in ``window`` that no span processed, most frequent first.

    Pass every span available, not only those in the window: a message sent just
    inside the window may be processed just after it. ``read_at_ns``: when the
    spans were read, if their source may still grow (:attr:`SpanSet.still_written`);
    sends that began less than ``grace_ns`` before it are then not judged. ``None``:
    the data is finished, every send is judged.
    """
    index = SpanIndex(spans)
    window = window or TimeWindow()
    if not index.spans:
        return OrphanReport([], 0)
    cutoff = None if read_at_ns is None else read_at_ns - grace_ns
    groups: dict[tuple[str, str], OrphanGroup] = {}
    checked = too_recent = 0
    for span in index.spans:
        if not span.is_send or not window.contains(span.start_ns):
            continue
        template = span.template
        if _ignored(template, ignore_prefixes):
            continue
        if cutoff is not None and span.start_ns > cutoff:
            too_recent += 1
            continue
        checked += 1
        if index.consumers_of(span):
            continue
        group_key = (span.service, template)
        group = groups.get(group_key)
        if group is None:
            groups[group_key] = OrphanGroup(
                span.service, template, 1, span, span.start_ns, span.start_ns
            )
        else:
            group.count += 1
            group.first_ns = min(group.first_ns, span.start_ns)
            group.last_ns = max(group.last_ns, span.start_ns)
    inside: set[tuple[str, str]] = set()
    last_seen: dict[tuple[str, str], int] = {}
    for span in index.spans:
        if span.is_process:
            pair = (span.service, span.template)
            if window.contains(span.start_ns):
                inside.add(pair)
            else:
                last_seen[pair] = max(last_seen.get(pair, 0), span.start_ns)
    quiet = [
        QuietSubscription(service, template, seen)
        for (service, template), seen in sorted(last_seen.items())
        if (service, template) not in inside
    ]
    ordered = sorted(groups.values(), key=lambda g: (-g.count, g.service, g.template))
    return OrphanReport(ordered, checked, quiet, sends_too_recent=too_recent)
