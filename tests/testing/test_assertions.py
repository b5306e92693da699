"""The flow assertions pass on the right flow and, on a wrong one, fail with a message
that shows the actual flow as a tree.

The flows are built with the span shapes natstrace records (names, kinds and
messaging attributes), in per-service tracer providers, so the failure text can be
asserted exactly; tests/testing/test_plugin.py runs the same helpers on real traffic.
"""

from __future__ import annotations

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import Link, SpanKind, Status, StatusCode

from natstrace.testing import (
    Hop,
    SpanCapture,
    assert_all_consumed,
    assert_hops,
    assert_processed_by,
    render_tree,
)
from natstrace.tracing import semconv as sc


class FlowBuilder:
    """Records spans shaped like natstrace's, one service at a time."""

    def __init__(self, capture: SpanCapture) -> None:
        self.capture = capture

    def span(
        self,
        service: str,
        operation: str,
        subject: str,
        *,
        template: str | None = None,
        correlation: str = "c-1",
        message_id: str = "m-1",
        parent: ReadableSpan | None = None,
        link: ReadableSpan | None = None,
        error: str | None = None,
    ) -> ReadableSpan:
        template = template or subject
        tracer = self.capture.provider(service).get_tracer("flow-builder")
        context = (
            trace.set_span_in_context(trace.NonRecordingSpan(parent.context)) if parent else None
        )
        kind = SpanKind.CONSUMER if operation == sc.PROCESS else SpanKind.PRODUCER
        span = tracer.start_span(
            f"{operation} {template}",
            context=context,
            kind=kind,
            links=[Link(link.context)] if link else None,
            attributes={
                sc.MESSAGING_OPERATION_NAME: operation,
                sc.MESSAGING_DESTINATION_NAME: subject,
                sc.MESSAGING_DESTINATION_TEMPLATE: template,
                sc.MESSAGING_MESSAGE_CONVERSATION_ID: correlation,
                sc.MESSAGING_MESSAGE_ID: message_id,
            },
        )
        if error:
            span.set_status(Status(StatusCode.ERROR, error))
        span.end()
        return self.capture.spans[-1]


@pytest.fixture
def flow(natstrace_spans: SpanCapture) -> FlowBuilder:
    return FlowBuilder(natstrace_spans)


def order_flow(flow: FlowBuilder) -> None:
    """orders -> billing (fails) -> nobody; orders -> shipping."""
    created = flow.span("orders", "send", "orders.created", message_id="m-1")
    billed = flow.span("billing", "process", "orders.created", template="orders.*", parent=created)
    flow.span("billing", "send", "invoices.failed", message_id="m-2", parent=billed)
    flow.span("shipping", "process", "orders.created", template="orders.*", parent=created,
              error="ValueError")  # fmt: skip


TREE = """\
orders: send orders.created [UNSET]
  billing: process orders.* [UNSET]
    billing: send invoices.failed [UNSET]
  shipping: process orders.* [ERROR: ValueError]"""


def test_the_tree_shows_service_span_and_status_indented_by_cause(
    flow: FlowBuilder, natstrace_spans: SpanCapture
) -> None:
    order_flow(flow)
    assert render_tree(natstrace_spans.spans) == TREE


def test_hops_in_order_pass_by_span_name_or_by_template(
    flow: FlowBuilder, natstrace_spans: SpanCapture
) -> None:
    order_flow(flow)
    natstrace_spans.assert_hops(
        "c-1", ["orders: send orders.created", "billing: orders.*", "billing: send invoices.failed"]
    )
    natstrace_spans.assert_hops("c-1", [Hop("shipping", "process orders.*")])
    natstrace_spans.assert_hops("c-1", ["send orders.created", "invoices.failed"])


def test_hops_out_of_order_fail_and_show_the_flow(
    flow: FlowBuilder, natstrace_spans: SpanCapture
) -> None:
    order_flow(flow)
    with pytest.raises(AssertionError) as failure:
        natstrace_spans.assert_hops(
            "c-1", ["billing: send invoices.failed", "orders: send orders.created"]
        )
    assert str(failure.value) == (
        "correlation ID 'c-1' did not go through the expected hops:\n"
        "  1. billing: send invoices.failed  -- ok\n"
        "  2. orders: send orders.created  -- MISSING\n"
        "actual flow:\n" + "\n".join("  " + line for line in TREE.splitlines())
    )


def test_a_hop_in_the_wrong_service_fails(flow: FlowBuilder, natstrace_spans: SpanCapture) -> None:
    order_flow(flow)
    with pytest.raises(AssertionError, match=r"1\. payments: process orders\.\*  -- MISSING"):
        natstrace_spans.assert_hops("c-1", ["payments: process orders.*"])


def test_exact_hops_name_the_unexpected_ones(
    flow: FlowBuilder, natstrace_spans: SpanCapture
) -> None:
    order_flow(flow)
    with pytest.raises(AssertionError) as failure:
        natstrace_spans.assert_hops(
            "c-1", ["orders: send orders.created", "billing: process orders.*"], exact=True
        )
    assert "  unexpected: billing: send invoices.failed, shipping: process orders.*\n" in str(
        failure.value
    )


def test_an_unknown_correlation_id_lists_the_known_ones(
    flow: FlowBuilder, natstrace_spans: SpanCapture
) -> None:
    order_flow(flow)
    with pytest.raises(AssertionError) as failure:
        assert_hops(natstrace_spans.spans, "c-404", ["orders: send orders.created"])
    message = str(failure.value)
    assert message.startswith(
        "no span carries correlation ID 'c-404' (correlation IDs seen: 'c-1')\nall spans:\n"
    )
    assert "    billing: process orders.* [UNSET]" in message


def test_processed_by_finds_the_process_span(
    flow: FlowBuilder, natstrace_spans: SpanCapture
) -> None:
    order_flow(flow)
    span = assert_processed_by(natstrace_spans.spans, "shipping", message_id="m-1")
    assert span.name == "process orders.*"
    assert natstrace_spans.assert_processed_by("billing", subject="orders.*") is not None


def test_processed_by_fails_naming_the_service_and_the_message(
    flow: FlowBuilder, natstrace_spans: SpanCapture
) -> None:
    order_flow(flow)
    flow.span("other", "send", "unrelated", correlation="c-2", message_id="m-9")
    with pytest.raises(AssertionError) as failure:
        natstrace_spans.assert_processed_by("payments", message_id="m-1")
    # Only the message's own workflow is drawn.
    assert str(failure.value) == (
        "'payments' processed no message with message 'm-1'\n"
        "actual flow:\n" + "\n".join("  " + line for line in TREE.splitlines())
    )


def test_all_consumed_fails_on_a_message_nobody_processed(
    flow: FlowBuilder, natstrace_spans: SpanCapture
) -> None:
    order_flow(flow)
    with pytest.raises(AssertionError) as failure:
        assert_all_consumed(natstrace_spans.spans)
    assert str(failure.value).startswith(
        "1 message(s) sent but never processed:\n"
        "  billing: send invoices.failed (message 'm-2', correlation ID 'c-1')\n"
        "actual flow:\n"
        "  orders: send orders.created [UNSET]\n"
    )
    natstrace_spans.assert_all_consumed(ignore=["invoices.*"])


def test_a_linked_consumer_counts_as_consuming_and_hangs_under_its_producer(
    flow: FlowBuilder, natstrace_spans: SpanCapture
) -> None:
    sent = flow.span("orders", "send", "orders.created")
    flow.span("billing", "process", "orders.created", template="orders.*", link=sent)
    natstrace_spans.assert_all_consumed()
    assert natstrace_spans.tree() == (
        "orders: send orders.created [UNSET]\n  billing: process orders.* [UNSET] (linked)"
    )


def test_replies_to_inboxes_are_not_expected_to_be_processed(
    flow: FlowBuilder, natstrace_spans: SpanCapture
) -> None:
    flow.span("billing", "send", "_INBOX.abc.1", template="_INBOX")
    natstrace_spans.assert_all_consumed()


def test_hop_strings_parse_service_and_target() -> None:
    assert Hop.parse("billing: process orders.*") == Hop("billing", "process orders.*")
    assert Hop.parse("orders.*") == Hop(None, "orders.*")
    assert str(Hop("billing", "orders.*")) == "billing: orders.*"
