"""The workflow list's status and search, on spans made to order."""

from __future__ import annotations

from natstrace.flow.index import SpanIndex
from natstrace.flow.model import AttributeValue, Span, SpanKind, StatusCode
from natstrace.ui.summaries import WorkflowSummary, matches, summarize

SECOND = 10**9


def _span(
    span_id: str,
    correlation_id: str,
    operation: str,
    template: str,
    *,
    service: str = "svc",
    parent: str | None = None,
    start: int = 0,
    error: str | None = None,
    delivery: int | None = None,
) -> Span:
    attributes: dict[str, AttributeValue] = {
        "messaging.message.conversation_id": correlation_id,
        "messaging.operation.type": operation,
        "messaging.destination.template": template,
        "messaging.message.id": f"{correlation_id}-{template}",
    }
    if error is not None:
        attributes["error.type"] = error
    if delivery is not None:
        attributes["natstrace.jetstream.delivery_count"] = delivery
    kind = SpanKind.PRODUCER if operation == "send" else SpanKind.CONSUMER
    status = StatusCode.ERROR if error else StatusCode.UNSET
    return Span(
        "ab" * 16, span_id, parent, f"{operation} {template}", kind, service, start,
        start + 1000, attributes, status=status,
    )  # fmt: skip


def _summaries(*spans: Span) -> dict[str, WorkflowSummary]:
    return {s.correlation_id: s for s in summarize(SpanIndex(spans))}


def test_a_workflow_fails_only_when_a_message_never_got_through() -> None:
    found = _summaries(
        # "recovered": the first delivery failed, the redelivery succeeded.
        _span("01" * 8, "recovered", "send", "jobs", service="a"),
        _span("02" * 8, "recovered", "process", "jobs", parent="01" * 8, service="b",
              error="Timeout", start=10),
        _span("03" * 8, "recovered", "process", "jobs", service="b", start=20, delivery=2),
        # "stuck": its only delivery failed; it also sent something nobody handled.
        _span("04" * 8, "stuck", "send", "jobs", service="a", start=5 * SECOND),
        _span("05" * 8, "stuck", "process", "jobs", parent="04" * 8, service="c",
              error="KeyError", start=5 * SECOND + 9),
        _span("06" * 8, "stuck", "send", "audit", service="c", start=5 * SECOND + 10),
    )  # fmt: skip

    now = 100 * SECOND
    recovered = found["recovered"].status(now, 5 * SECOND)
    assert recovered == {
        "status": "completed",
        "redelivered": True,
        "unconsumed": False,
        "errors": ["Timeout"],
    }
    stuck = found["stuck"]
    assert stuck.status(now, 5 * SECOND)["status"] == "failed"
    assert stuck.status(now, 5 * SECOND)["unconsumed"] is True
    # A send younger than the grace may still be on its way.
    assert stuck.status(stuck.unconsumed_since_ns or 0, 5 * SECOND)["unconsumed"] is False
    assert (stuck.hops, stuck.spans, stuck.services) == (1, 3, ["a", "c"])
    assert list(found) == ["stuck", "recovered"]  # most recent first


def test_search_terms_must_all_match_in_their_field() -> None:
    found = _summaries(
        _span("01" * 8, "order-1", "send", "orders.created", service="orders"),
        _span("02" * 8, "order-1", "process", "orders.*", parent="01" * 8, service="billing",
              error="CardDeclined"),
    )["order-1"]  # fmt: skip

    assert matches(found, ["order-1"])
    assert matches(found, ["billing", "carddeclined"])
    assert matches(found, ["service:bill", "subject:orders.created", "error:card", "id:order"])
    assert not matches(found, ["service:orders.created"])
    assert not matches(found, ["error:billing"])
    assert not matches(found, ["order-1", "shipping"])
