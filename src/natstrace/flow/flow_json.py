"""A workflow as plain JSON-ready data: what ``natstrace flow --format json`` prints
and what the HTML page renders from."""

from __future__ import annotations

from typing import Any

from natstrace.flow.tree import Flow, FlowNode

__all__ = ["flow_to_dict", "node_to_dict"]


def _ms(nanos: int | None) -> float | None:
    return None if nanos is None else round(nanos / 1e6, 3)


def node_to_dict(node: FlowNode) -> dict[str, Any]:
    """One node and its subtree; times in milliseconds."""
    span = node.span
    error = None
    if span.failed or span.error_type is not None:
        error = {"type": span.error_type, "message": span.error_message}
    return {
        "service": span.service,
        "operation": span.operation_type or span.kind.name.lower(),
        "name": span.name,
        "template": span.template,
        "subject": span.subject,
        "kind": span.kind.name,
        "trace_id": span.trace_id,
        "span_id": span.span_id,
        "cause": node.cause,
        "from_service": node.producer.service if node.producer is not None else None,
        "message_id": span.message_id,
        "start_offset_ms": _ms(node.offset_ns),
        "duration_ms": _ms(span.duration_ns),
        "delivery_latency_ms": _ms(node.delivery_latency_ns),
        "delivery_count": span.delivery_count if span.is_process else None,
        "settlement": node.settlement,
        "error": error,
        "children": [node_to_dict(child) for child in node.children],
    }


def flow_to_dict(flow: Flow) -> dict[str, Any]:
    """The whole workflow: totals, then the causal tree."""
    return {
        "correlation_id": flow.correlation_id,
        "start_unix_nano": flow.start_ns,
        "duration_ms": _ms(flow.end_ns - flow.start_ns),
        "traces": flow.trace_ids,
        "services": flow.services,
        "spans": len(flow.spans),
        "errors": flow.errors,
        "hops": [node_to_dict(root) for root in flow.roots],
    }
