"""The console's JSON answers, one function per view, all read from a snapshot.

Values taken from spans go out as JSON strings and the page only ever puts them
into the document as text, never as markup.
"""

from __future__ import annotations

import base64
import time
from typing import Any

from natstrace.flow.flow_json import flow_to_dict
from natstrace.flow.model import AttributeValue, Span
from natstrace.flow.orphans import find_orphans
from natstrace.flow.report_render import orphans_to_dict, slow_to_dict
from natstrace.flow.sequence import Sequence, arrow_label, build_sequence
from natstrace.flow.slow import find_slow
from natstrace.flow.topology import build_topology
from natstrace.flow.topology_render import render_svg, topology_to_dict
from natstrace.flow.tree import build_flow
from natstrace.flow.workflow import select_workflow
from natstrace.ui.store import Snapshot, SpanStore
from natstrace.ui.summaries import matches

__all__ = [
    "ORPHAN_GRACE_NS",
    "orphans_view",
    "slow_view",
    "status_view",
    "topology_view",
    "workflow_view",
    "workflows_view",
]

ORPHAN_GRACE_NS = 5 * 10**9
"""A send younger than this (before the data was read) may still be on its way."""

_STATUS_FLAGS = ("failed", "completed", "redelivered", "unconsumed")


def _ms(nanos: int) -> float:
    return round(nanos / 1e6, 3)


def status_view(store: SpanStore) -> dict[str, Any]:
    """Where the data comes from, how much there is, and the last source error."""
    snapshot = store.snapshot
    return {
        "source": store.config.describe(),
        "jaeger": store.config.jaeger_url,
        "spans": len(snapshot.spans),
        "workflows": len(snapshot.workflows),
        "loaded_unix_nano": snapshot.loaded_ns,
        "generation": snapshot.generation,
        "error": store.error,
        "skipped_lines": store.skipped_lines,
    }


def workflows_view(snapshot: Snapshot, query: str, limit: int = 200) -> dict[str, Any]:
    """The most recent workflows matching ``query`` (see :func:`~.summaries.matches`;
    ``status:failed``, ``status:redelivered``, ``status:unconsumed`` filter by state)."""
    terms = query.lower().split()
    wanted = {t.partition(":")[2] for t in terms if t.startswith("status:")}
    terms = [t for t in terms if not t.startswith("status:")]
    now = time.time_ns()
    rows: list[dict[str, Any]] = []
    total = 0
    for summary in snapshot.workflows:
        if not matches(summary, terms):
            continue
        state = summary.status(now, ORPHAN_GRACE_NS)
        if wanted and not all(state.get(flag) or state["status"] == flag for flag in wanted):
            continue
        total += 1
        if len(rows) < limit:
            rows.append(
                {
                    "correlation_id": summary.correlation_id,
                    "start_unix_nano": summary.start_ns,
                    "duration_ms": _ms(summary.end_ns - summary.start_ns),
                    "services": summary.services,
                    "templates": summary.templates,
                    "hops": summary.hops,
                    "spans": summary.spans,
                    **state,
                }
            )
    return {"total": total, "shown": len(rows), "workflows": rows, "flags": _STATUS_FLAGS}


def _json_value(value: AttributeValue) -> Any:
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, tuple):
        return [_json_value(item) for item in value]
    if isinstance(value, dict):
        return {key: _json_value(item) for key, item in value.items()}
    return value


def _details(span: Span) -> dict[str, Any]:
    return {
        "name": span.name,
        "service": span.service,
        "kind": span.kind.name,
        "trace_id": span.trace_id,
        "span_id": span.span_id,
        "parent_span_id": span.parent_span_id,
        "status": span.status.name,
        "status_message": span.status_message,
        "attributes": {key: _json_value(value) for key, value in span.attributes.items()},
        "events": [
            {
                "name": event.name,
                "time_unix_nano": event.time_ns,
                "attributes": {k: _json_value(v) for k, v in event.attributes.items()},
            }
            for event in span.events
        ],
        "links": [{"trace_id": link.trace_id, "span_id": link.span_id} for link in span.links],
    }


def _key(span: Span | None) -> str | None:
    return None if span is None else f"{span.trace_id}:{span.span_id}"


def _sequence_to_dict(sequence: Sequence) -> dict[str, Any]:
    return {
        "participants": sequence.participants,
        "arrows": [
            {
                "kind": arrow.kind,
                "source": arrow.source,
                "target": arrow.target,
                "template": arrow.template,
                "label": arrow_label(arrow),
                "offset_ms": _ms(arrow.offset_ns),
                "delivery_count": arrow.delivery_count,
                "settlement": arrow.settlement,
                "cause": arrow.cause,
                "error": arrow.error,
                "send": _key(arrow.send),
                "delivery": _key(arrow.delivery),
            }
            for arrow in sequence.arrows
        ],
    }


def workflow_view(snapshot: Snapshot, correlation_id: str) -> dict[str, Any]:
    """One workflow: the causal tree (as ``natstrace flow --format json``), the
    sequence of its messages, and every span's attributes, events and links.

    Raises:
        NoSpansError: no span carries ``correlation_id``.
    """
    spans = select_workflow(snapshot.index, correlation_id)
    flow = build_flow(snapshot.index, correlation_id, spans)
    data = flow_to_dict(flow)
    data["sequence"] = _sequence_to_dict(build_sequence(flow))
    data["details"] = {_key(span): _details(span) for span in flow.spans}
    return data


def topology_view(snapshot: Snapshot) -> dict[str, Any]:
    """The service graph: the laid-out SVG (as ``topology --format svg``) and its edges."""
    topology = snapshot.report("topology", build_topology)
    return {"svg": render_svg(topology), **topology_to_dict(topology)}


def orphans_view(snapshot: Snapshot) -> dict[str, Any]:
    """Sends nobody processed, judging the grace against the clock: a finished
    file's last sends are as old as the time since they were written."""
    now = time.time_ns()
    data_end = max((span.end_ns for span in snapshot.spans), default=0)
    grace = max(0, ORPHAN_GRACE_NS - (now - data_end))
    # Recomputed at most once a second while the newest sends are still in their grace.
    report = snapshot.report(
        f"orphans {-(-grace // 10**9)}",
        lambda spans: find_orphans(spans, grace_ns=ORPHAN_GRACE_NS, read_at_ns=now),
    )
    data = orphans_to_dict(report)
    for group, row in zip(report.groups, data["orphans"], strict=True):
        row["sample_correlation_id"] = group.sample.conversation_id
    return {"grace_seconds": grace / 1e9, **data}


def slow_view(snapshot: Snapshot, limit: int = 20) -> dict[str, Any]:
    """The slowest hops and the longest delivery latencies."""
    return slow_to_dict(snapshot.report("slow", lambda spans: find_slow(spans, limit=limit)))
